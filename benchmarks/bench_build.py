"""Benchmark: ``reflex-forge build`` of a 10-minute, 50,000 packets/s trace (30 M packets).

Synthesizes the trace once (synth's ``poisson`` profile, ``--rate 50000``) into a
temporary directory, or reuses ``--trace``, then runs the build as a child process and
reports its wall time (reading the CSV included) and the peak RSS of the largest process
of the build (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the max over the child
and the worker processes it waited for). Targets: <= 30 s and <= 2 GB on 2 cores.
Usage: python benchmarks/bench_build.py [--workers 2] [--trace PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50_000.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trace", default=None, help="reuse this telemetry file")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="synthesize into DIR and keep it (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_build.") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        trace = Path(args.trace) if args.trace else work / "telemetry.csv"
        if not trace.exists():
            from reflexforge.synth import synthesize

            start = time.perf_counter()
            stats = synthesize(trace, "poisson", args.duration, seed=0, rate=args.rate)
            print(f"synth: {stats.rows} packets in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr)
        output = work / "model.reflex"
        cmd = [sys.executable, "-m", "reflexforge.cli", "build", str(trace), "-o", str(output),
               "--workers", str(args.workers), "--quiet"]
        env = dict(os.environ, SOURCE_DATE_EPOCH="0")
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        sys.stderr.write(done.stdout + done.stderr)
        print(json.dumps({
            "command": " ".join(cmd[1:]),
            "packets_per_s": args.rate,
            "duration_s": args.duration,
            "workers": args.workers,
            "cpus": os.cpu_count(),
            "exit": done.returncode,
            "wall_s": round(seconds, 2),
            "peak_rss_mb": round(peak_mb, 1),
            "target_met": done.returncode == 0 and seconds <= 30 and peak_mb <= 2048,
        }))
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
