"""Benchmark the capture options (spec/telemetry.md 6.3, 6.4): what ``--filter EXPR`` or
``--rtt tcp`` adds to reading a real capture.

Reads the capture in fresh processes, alternating, with the options ``convert`` would use
on a loopback capture (``--oversize clamp --mtu 65535``, one row per packet): once plainly
(the reference, in the same run) and once with the options given; reports the best and
median time of each, the packets kept and the RTT samples found, and the cost the options
add per packet read (best against best). The children import ``reflexforge`` as this
process does, so ``PYTHONPATH=OTHER_CHECKOUT`` measures another version. Make a capture
with ``tools/capture_loopback.py``.
Usage: python benchmarks/bench_capture.py CAPTURE [--filter EXPR] [--rtt tcp] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def _child(path: str, bpf: str | None, rtt: str | None) -> None:
    from reflexforge.ingest.options import IngestOptions
    from reflexforge.ingest.read import read_with_adjustments

    options = IngestOptions(oversize="clamp", mtu=65535, bpf=bpf, rtt=rtt)
    start = time.perf_counter()
    trace, adjust = read_with_adjustments(path, options)
    elapsed = time.perf_counter() - start
    print(json.dumps({"s": elapsed, "rows": trace.rows, "left_out": adjust.filtered_out,
                      "samples": adjust.rtt_samples}))


def _run(path: str, options: list[str]) -> dict:
    """One read in a fresh process, with the capture options ``options``."""
    args = [sys.executable, __file__, "--child", path, *options]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--filter", default=None, help="a BPF expression")
    parser.add_argument("--rtt", choices=["tcp"], default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.capture, args.filter, args.rtt)
        return
    options = (["--filter", args.filter] if args.filter else []) + (
        ["--rtt", args.rtt] if args.rtt else [])
    if not options:
        parser.error("give --filter EXPR, --rtt tcp or both: the plain read is the reference")
    import reflexforge

    print(f"reflexforge from {reflexforge.__file__}")
    _run(args.capture, options)  # compile the kernels into numba's cache
    plain, given = [], []
    for _ in range(args.repeat):
        plain.append(_run(args.capture, []))
        given.append(_run(args.capture, options))
    label = " ".join(options)
    for name, runs in (("plain read", plain), (label, given)):
        times = [r["s"] for r in runs]
        print(f"{name}: best {min(times):.2f} s, median {statistics.median(times):.2f} s")
    packets, last = plain[0]["rows"], given[0]
    added = min(r["s"] for r in given) - min(r["s"] for r in plain)
    print(f"{packets} packets, {last['rows']} kept, {last['samples'] or 0} RTT samples; "
          f"{label} adds {added / packets * 1e9:.0f} ns per packet (best against best)")


if __name__ == "__main__":
    main()
