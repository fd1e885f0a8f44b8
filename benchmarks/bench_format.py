#!/usr/bin/env python3
"""Format benchmarks: ``loads`` of spec/examples/typical.reflex (µs, one core) and a cold
``reflex-inspect --verify spec/examples/typical.reflex`` (ms, wall time of a new process).

Usage: .venv/bin/python benchmarks/bench_format.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPICAL = ROOT / "spec" / "examples" / "typical.reflex"


def bench_loads(repeat: int = 15, number: int = 2000) -> tuple[float, float]:
    """(best, median) µs per ``loads`` call over ``repeat`` batches of ``number`` calls."""
    from reflexfmt import loads

    data = TYPICAL.read_bytes()
    loads(data)
    times = timeit.repeat(lambda: loads(data), number=number, repeat=repeat)
    per_call = [t / number * 1e6 for t in times]
    return min(per_call), statistics.median(per_call)


def bench_cold_verify(runs: int) -> tuple[float, float]:
    """(best, median) ms wall time of a fresh ``reflex-inspect --verify`` process."""
    exe = shutil.which("reflex-inspect", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "reflexfmt.cli_inspect"]
    command += ["--verify", str(TYPICAL)]
    subprocess.run(command, check=True, capture_output=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1e3)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="cold-start runs (default 11)")
    args = parser.parse_args()
    best, median = bench_loads()
    print(
        f"loads(typical.reflex, {TYPICAL.stat().st_size} bytes): "
        f"best {best:.1f} µs, median {median:.1f} µs per call (budget 100 µs)"
    )
    best, median = bench_cold_verify(args.runs)
    print(
        f"cold reflex-inspect --verify typical.reflex: best {best:.0f} ms, "
        f"median {median:.0f} ms over {args.runs} runs (budget 150 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
