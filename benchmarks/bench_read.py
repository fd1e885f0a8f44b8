"""Benchmark: synthesize a Telemetry v1 trace, then read it back with read_telemetry.

Prints rows/s for synth and read and the peak RSS of the read (run on its own process).
Usage: python benchmarks/bench_read.py [--rate 50000] [--duration 600] [--dir /tmp]
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


def _read_child(path: str) -> None:
    from reflexforge.telemetry import read_telemetry

    start = time.perf_counter()
    trace = read_telemetry(path)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": trace.rows, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50_000.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--profile", default="poisson")
    parser.add_argument("--dir", default=None)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--read-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_only:
        _read_child(args.read_only)
        return
    from reflexforge.synth import synthesize

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "telemetry.csv" + (".gz" if args.gzip else ""))
        start = time.perf_counter()
        stats = synthesize(path, args.profile, args.duration, seed=1, rate=args.rate)
        synth_s = time.perf_counter() - start
        size_mb = os.path.getsize(path) / 1e6
        print(
            f"synth {args.profile} {args.duration:g}s @ {args.rate:g}/s: {stats.rows} rows, "
            f"{size_mb:.0f} MB in {synth_s:.1f} s ({stats.rows / synth_s / 1e6:.2f} M rows/s)"
        )
        out = subprocess.run(
            [sys.executable, __file__, "--read-only", path],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out)
        print(
            f"read_telemetry: {result['rows']} rows in {result['seconds']:.2f} s "
            f"({result['rows'] / result['seconds'] / 1e6:.1f} M rows/s), "
            f"peak RSS {result['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
