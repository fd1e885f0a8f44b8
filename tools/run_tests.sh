#!/usr/bin/env bash
# The whole test suite; `./dev test` runs it inside .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
python -m pytest -q "$@"
