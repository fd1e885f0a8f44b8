"""Helpers of the shadow tests (tests/forge/test_shadow*.py): small reflexes, random
reflexes and inputs, and synthetic traces."""

from __future__ import annotations

import dataclasses
import math
import random
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex
from reflexforge.trace import Trace

META = {
    "created_at": "2025-01-01T00:00:00Z",
    "feature_schema": "v1",
    "lambda": 0.1,
    "telemetry_hash": "0" * 40,
    "trainer_commit": "tests",
}
FLUSH_COST = 5000
LINK = 10**10


def constant_reflex(n: int, d_us: int) -> Reflex:
    scaling = tuple(FeatureScale(0.0, 1.0) for _ in range(10))
    return Reflex(scaling, ((Node.leaf(n),), (Node.leaf(d_us),)),
                  (OutputBounds(1, 64), OutputBounds(0, 4000)), dict(META))


def random_tree(rng: random.Random, max_depth: int, leaf_values: list[int]) -> tuple[Node, ...]:
    """A random valid tree: breadth-first numbering, so every child follows its parent."""
    slots: list[list] = [[0, None]]  # [depth, node]
    i = 0
    while i < len(slots):
        depth = slots[i][0]
        if depth < max_depth and len(slots) + 2 <= 255 and rng.random() < 0.7:
            left = len(slots)
            slots.append([depth + 1, None])
            slots.append([depth + 1, None])
            slots[i][1] = Node.split(rng.randrange(10), rng.randint(-5, 32767), left, left + 1)
        else:
            slots[i][1] = Node.leaf(rng.choice(leaf_values))
        i += 1
    return tuple(node for _, node in slots)


def random_reflex(rng: random.Random, confirm: int = 1, dwell: int = 0,
                  scaling: tuple[FeatureScale, ...] | None = None) -> Reflex:
    if scaling is None:
        scaling = []
        for _ in range(10):
            lo = rng.choice([0.0, rng.uniform(-10, 10), 1e-3])
            hi = lo + rng.choice([0.0, rng.uniform(0.5, 1e6), 1e-9])
            scaling.append(FeatureScale(lo, hi))
        scaling = tuple(scaling)
    trees = (random_tree(rng, rng.randint(0, 8), [0, 1, 4, 8, 16, 32, 64, 100, -3]),
             random_tree(rng, rng.randint(0, 8), [0, 50, 200, 1000, 4000, 9000, -7]))
    bounds = (OutputBounds(1, rng.choice([32, 64])), OutputBounds(rng.choice([0, 50]), 4000))
    return Reflex(scaling, trees, bounds, dict(META), q_scale=rng.choice([32767, 1000, 1]),
                  confirm_steps=confirm, dwell_steps=dwell)


def random_inputs(rng: random.Random, reflex: Reflex, rows: int) -> np.ndarray:
    special = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e308]
    out = np.empty((rows, 10))
    for r in range(rows):
        for f, s in enumerate(reflex.scaling):
            pick = rng.random()
            if pick < 0.1:
                out[r, f] = rng.choice(special)
            elif pick < 0.25:
                out[r, f] = rng.choice([s.lo, s.hi, math.nextafter(s.lo, math.inf),
                                        math.nextafter(s.hi, -math.inf)])
            else:
                span = (s.hi - s.lo) or 1.0
                out[r, f] = rng.uniform(s.lo - 0.1 * span, s.hi + 0.1 * span)
    return out


def make_trace(seed: int, seconds: float, rate: float, *, bursty: bool = True):
    """Poisson packets whose rate jumps every 2 s (so that policies matter), with RTT samples."""
    rng = np.random.default_rng(seed)
    ts = []
    t = 1_000_000_000.0
    end = t + seconds * 1e9
    while t < end:
        level = rate * (rng.choice([0.05, 0.3, 1.0, 3.0]) if bursty else 1.0)
        seg_end = min(end, t + 2e9)
        gaps = rng.exponential(1e9 / level, int(level * 2.5) + 10)
        times = t + np.cumsum(gaps)
        ts.append(times[times < seg_end])
        t = seg_end
    ts = np.floor(np.concatenate(ts)).astype(np.int64)
    size = rng.integers(64, 1500, ts.shape[0]).astype(np.int64)
    rtt = np.where(rng.random(ts.shape[0]) < 0.05,
                   rng.integers(10_000, 400_000, ts.shape[0]), -1).astype(np.int64)
    return ts, size, rtt


def as_trace(ts, size, rtt, path="synthetic.csv") -> Trace:
    """A telemetry Trace of these columns, as a reader would return it."""
    return Trace(ts, size, rtt, sha1="0" * 40, path=path)


TRACE = make_trace(7, 20.0, 20_000)


def feature_reflex(rng: random.Random, confirm: int = 1, dwell: int = 0) -> Reflex:
    """A random reflex whose scaling matches the features of TRACE, so that it really switches."""
    lo = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 60.0, 0.0, 0.0]
    hi = [50.0, 80_000.0, 80_000.0, 2000.0, 4000.0, 1e8, 1e8, 1500.0, 2.5e5, 400.0]
    scaling = tuple(FeatureScale(a, b) for a, b in zip(lo, hi, strict=True))
    return random_reflex(rng, confirm, dwell, scaling)


def two_level_reflex(feature: int, threshold: int) -> Reflex:
    """(1, 50 us) when feature ``feature`` is at most ``threshold`` on the grid, else
    (64, 1000 us), with the scaling of feature_reflex and a light hysteresis."""
    base = feature_reflex(random.Random(0))
    trees = ((Node.split(feature, threshold, 1, 2), Node.leaf(1), Node.leaf(64)),
             (Node.split(feature, threshold, 1, 2), Node.leaf(50), Node.leaf(1000)))
    return dataclasses.replace(base, trees=trees, q_scale=32767, confirm_steps=2, dwell_steps=3)


def write_trace_csv(path) -> None:
    """``make_trace(5, 15.0, 10_000)`` as a Telemetry v1 CSV with its rtt_ns column."""
    ts, size, rtt = make_trace(5, 15.0, 10_000)
    with open(path, "w") as handle:
        handle.write("ts_ns,bytes,rtt_ns\n")
        for t, b, r in zip(ts.tolist(), size.tolist(), rtt.tolist(), strict=True):
            handle.write(f"{t},{b},{'' if r < 0 else r}\n")


FORGE = Path(sys.executable).with_name("reflex-forge")


def forge_limited(kind: int, limit: int, cwd, *argv: str, hard: bool = True,
                  env: dict | None = None) -> subprocess.CompletedProcess:
    """``reflex-forge argv`` in ``cwd`` under the resource limit ``kind`` at ``limit`` (soft
    and hard, as ``ulimit`` sets both; with ``hard`` False the soft one only, as
    ``ulimit -S``)."""
    def cap() -> None:
        resource.setrlimit(kind, (limit, limit if hard else resource.getrlimit(kind)[1]))

    return subprocess.run([str(FORGE), *argv], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120, preexec_fn=cap, check=False)
