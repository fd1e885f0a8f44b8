#!/usr/bin/env python3
"""Cold start of the command lines, side by side with a bare interpreter in the same run:
``python -c pass``, ``reflex-forge --help``, ``reflex-forge label --help``, ``reflex-forge
build --help`` and ``reflex-inspect --verify spec/examples/typical.reflex`` (wall time of a
new process).

Usage: .venv/bin/python benchmarks/bench_startup.py [--runs N]   (target: forge --help <= 150 ms)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each (default 21)")
    args = parser.parse_args()
    bindir = str(Path(sys.executable).parent)
    forge = shutil.which("reflex-forge", path=bindir) or "reflex-forge"
    inspect = shutil.which("reflex-inspect", path=bindir) or "reflex-inspect"
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "reflex-forge --help": [forge, "--help"],
        "reflex-forge label --help": [forge, "label", "--help"],
        "reflex-forge build --help": [forge, "build", "--help"],
        "reflex-inspect --verify typical.reflex": [
            inspect, "--verify", str(ROOT / "spec" / "examples" / "typical.reflex")],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        subprocess.run(command, check=True, capture_output=True)  # warm the caches
    for _ in range(args.runs):  # interleaved, so that load changes hit every command alike
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append((time.perf_counter() - start) * 1e3)
    bare = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:40s} best {min(values):6.1f} ms, median {median:6.1f} ms "
              f"({median / bare:.1f}x python -c pass)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
