#!/usr/bin/env bash
# The test suite; `./dev test [fmt|forge] [PYTEST ARGS]` runs it inside .venv.
#   (no part)  everything: ruff, a bounded fuzz run, pytest on tests/fmt and tests/forge (CI)
#   fmt        ruff, then the format tests alone (tests/fmt: reflexfmt, vectors, C, Kaitai)
#   forge      ruff, then the forge tests alone (tests/forge)
set -euo pipefail
cd "$(dirname "$0")/.."
part=all
case "${1:-}" in
    fmt|forge) part=$1; shift ;;
esac
ruff check .
if [ "$part" = all ]; then
    python fuzz/run_bounded.py --seconds "${REFLEX_FUZZ_SECONDS:-120}"
    exec python -m pytest -q tests "$@"
fi
exec python -m pytest -q "tests/$part" "$@"
