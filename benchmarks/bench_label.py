"""Oracle labelling speed: ns per packet x policy on one core, and a 10-minute trace on 2 cores.

    .venv/bin/python benchmarks/bench_label.py            # both figures
    .venv/bin/python benchmarks/bench_label.py --quick    # one-core figure only

The traces are the synthesizer's ``mixed`` (and, for one core, ``poisson``) profile at a mean
of 50,000 packets/s (numpy arrays in
memory; reading the CSV is measured by bench_read.py). A packet x policy is one packet of
one window replayed under one of the 24 pairs: every packet sits in two windows.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from reflexforge.config import ForgeOptions
from reflexforge.features import window_starts
from reflexforge.labelling import make_training_set
from reflexforge.oracle import window_bounds, window_costs
from reflexforge.parallel import label_windows
from reflexforge.synth import generate
from reflexforge.trace import Trace

RATE = 50_000


def trace(seconds: float, seed: int = 1, profile: str = "mixed") -> Trace:
    parts = list(generate(profile, seconds, seed, rate=RATE))
    ts, size, rtt = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return Trace(ts_ns=ts, size=size, rtt_ns=rtt, sha1="", path="<synth>")


def one_core(seconds: float, repeats: int, profile: str) -> None:
    tr = trace(seconds, profile=profile)
    starts = window_starts(tr.ts_ns)
    first, last = window_bounds(tr.ts_ns, starts)
    label_windows(tr.ts_ns, tr.size, first[:2], last[:2], 5000, 10**10, workers=1)  # compile
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        label_windows(tr.ts_ns, tr.size, first, last, 5000, 10**10, workers=1)
        best = min(best, time.perf_counter() - t)
    work = int((last - first).sum()) * 24
    print(f"one core, {profile}: {tr.ts_ns.shape[0]:,} packets, {starts.shape[0]} windows, "
          f"{work:,} packet x policy in {best:.2f} s = {best / work * 1e9:.2f} ns per packet x "
          f"policy (best of {repeats})")


def two_cores(seconds: float) -> None:
    t = time.perf_counter()
    tr = trace(seconds)
    made = time.perf_counter() - t
    opts = ForgeOptions(workers=2)
    starts = window_starts(tr.ts_ns)
    t = time.perf_counter()
    window_costs(tr.ts_ns, tr.size, starts, opts.lam, opts.flush_cost_ns, opts.link_bps,
                 workers=2)
    oracle = time.perf_counter() - t
    t = time.perf_counter()
    make_training_set(tr, opts)
    full = time.perf_counter() - t
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(f"2 cores: {tr.ts_ns.shape[0]:,} packets ({seconds:g} s at {RATE:,}/s, generated in "
          f"{made:.1f} s), {starts.shape[0]} windows: oracle {oracle:.1f} s; features + oracle "
          f"(make_training_set) {full:.1f} s; peak RSS {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one-core figure only")
    parser.add_argument("--seconds", type=float, default=600.0, help="2-core trace length")
    args = parser.parse_args()
    one_core(60.0, 3, "mixed")
    one_core(30.0, 3, "poisson")
    if not args.quick:
        two_cores(args.seconds)


if __name__ == "__main__":
    main()
