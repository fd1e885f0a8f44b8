#!/usr/bin/env bash
# The benchmarks whose figures README.md records; `./dev bench` runs them inside .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/bench_format.py
python benchmarks/bench_label.py
python benchmarks/bench_read.py
python benchmarks/bench_build.py --workers 2
python benchmarks/bench_selection.py
python benchmarks/bench_ingest.py
