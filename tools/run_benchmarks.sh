#!/usr/bin/env bash
# The benchmarks whose figures README.md records; `./dev bench` runs them inside .venv.
# bench_onnx.py needs the benchmark-only extra (onnx, skl2onnx), installed here on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import onnx, skl2onnx" 2>/dev/null || python -m pip install -q -c constraints.txt -e '.[dev,bench]'
python benchmarks/bench_format.py
python benchmarks/bench_onnx.py
python benchmarks/bench_startup.py
python benchmarks/bench_label.py
python benchmarks/bench_label_reference.py
python benchmarks/bench_read.py
python benchmarks/bench_build.py --workers 2
python benchmarks/bench_selection.py
python benchmarks/bench_ingest.py
# --rtt tcp and --filter need a real TCP capture (tools/capture_loopback.py makes one)
if [ -n "${CAPTURE:-}" ]; then
    python benchmarks/bench_capture.py "$CAPTURE" --rtt tcp
    python benchmarks/bench_capture.py "$CAPTURE" --filter 'tcp port 6379'
else
    echo "bench_capture.py skipped: set CAPTURE to a TCP capture (tools/capture_loopback.py)"
fi
