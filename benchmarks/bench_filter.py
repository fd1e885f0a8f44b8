"""Benchmark ``--filter EXPR`` (spec/telemetry.md 6.3): what it adds to reading a real capture.

Reads the capture in fresh processes, alternating, with the options ``convert`` would use
on a loopback capture (``--oversize clamp --mtu 65535``, one row per packet): once plainly
(the reference) and once with ``--filter``; reports the best and median time of each, the
packets kept, and the cost ``--filter`` adds per packet read (best against best). The
children import ``reflexforge`` as this process does, so ``PYTHONPATH=OTHER_CHECKOUT``
measures another version. Make a capture with ``tools/capture_loopback.py``.
Usage: python benchmarks/bench_filter.py CAPTURE [--filter 'tcp port 6379'] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def _child(path: str, bpf: str | None) -> None:
    from reflexforge.ingest.quirks import IngestOptions
    from reflexforge.ingest.read import read_with_adjustments

    options = IngestOptions(oversize="clamp", mtu=65535, bpf=bpf)
    start = time.perf_counter()
    trace, adjust = read_with_adjustments(path, options)
    elapsed = time.perf_counter() - start
    print(json.dumps({"s": elapsed, "rows": trace.rows, "left_out": adjust.filtered_out}))


def _run(path: str, bpf: str) -> dict:
    """One read in a fresh process; ``bpf`` "" is the plain read."""
    args = [sys.executable, __file__, "--child", path, "--filter", bpf]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--filter", default="tcp port 6379", help="the BPF expression")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.capture, args.filter or None)
        return
    import reflexforge

    print(f"reflexforge from {reflexforge.__file__}")
    _run(args.capture, args.filter)  # compile the kernels into numba's cache
    plain, filtered = [], []
    for _ in range(args.repeat):
        plain.append(_run(args.capture, ""))
        filtered.append(_run(args.capture, args.filter))
    packets = plain[0]["rows"]
    kept = filtered[0]["rows"]
    best = {name: min(r["s"] for r in runs) for name, runs in (("plain", plain),
                                                               ("filter", filtered))}
    for name, runs in (("plain read", plain), ("--filter", filtered)):
        times = [r["s"] for r in runs]
        print(f"{name:10s} best {min(times):.2f} s, median {statistics.median(times):.2f} s")
    print(f"{packets} packets, {kept} kept by --filter {args.filter!r}; --filter adds "
          f"{(best['filter'] - best['plain']) / packets * 1e9:.0f} ns per packet "
          "(best against best)")


if __name__ == "__main__":
    main()
