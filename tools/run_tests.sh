#!/usr/bin/env bash
# The whole test suite; `./dev test` runs it inside .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
python fuzz/run_bounded.py --seconds "${REFLEX_FUZZ_SECONDS:-120}"
python -m pytest -q "$@"
