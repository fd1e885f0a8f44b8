"""Benchmark ``--rtt tcp`` (spec/telemetry.md 6.4): what it adds to reading a real capture.

Reads the capture in fresh processes, alternating, with the options ``convert`` would use
on a loopback capture (``--oversize clamp --mtu 65535``): once plainly (the reference) and
once with ``--rtt tcp``; reports the best and median time of each, the RTT samples found,
and the cost ``--rtt tcp`` adds per packet. Make a capture with
``tools/capture_loopback.py`` (tcpdump on loopback while real servers and clients run).
Usage: python benchmarks/bench_rtt.py CAPTURE [--repeat 3] [--filter EXPR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def _child(path: str, rtt: bool, bpf: str | None) -> None:
    from reflexforge.ingest.quirks import IngestOptions
    from reflexforge.ingest.read import read_with_adjustments

    options = IngestOptions(oversize="clamp", mtu=65535, rtt="tcp" if rtt else None, bpf=bpf)
    start = time.perf_counter()
    trace, adjust = read_with_adjustments(path, options)
    elapsed = time.perf_counter() - start
    print(json.dumps({"s": elapsed, "rows": trace.rows, "samples": adjust.rtt_samples}))


def _run(path: str, rtt: bool, bpf: str | None) -> dict:
    args = [sys.executable, __file__, "--child", path] + (["--rtt"] if rtt else [])
    out = subprocess.run(args + (["--filter", bpf] if bpf else []), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--filter", default=None, help="a BPF expression, in both reads")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rtt", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.capture, args.rtt, args.filter)
        return
    _run(args.capture, True, args.filter)  # compile the kernels into numba's cache
    plain, tcp = [], []
    for _ in range(args.repeat):
        plain.append(_run(args.capture, False, args.filter))
        tcp.append(_run(args.capture, True, args.filter))
    rows = tcp[0]["rows"]
    best = {name: min(r["s"] for r in runs) for name, runs in (("plain", plain), ("tcp", tcp))}
    for name, runs in (("plain read", plain), ("--rtt tcp", tcp)):
        times = [r["s"] for r in runs]
        print(f"{name:11s} best {min(times):.2f} s, median {statistics.median(times):.2f} s")
    print(f"{rows} rows, {tcp[0]['samples']} RTT samples; --rtt tcp adds "
          f"{(best['tcp'] - best['plain']) / rows * 1e9:.0f} ns per row (best against best)")


if __name__ == "__main__":
    main()
