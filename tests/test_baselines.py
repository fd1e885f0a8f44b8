"""Baselines of the shadow report: static pairs, the net_dim-style hill climber, p95."""

from __future__ import annotations

from collections import Counter

import numpy as np

from reflexforge.baselines import hill_climber, p95_ns, static_pairs
from reflexforge.closedloop import LADDER
from reflexforge.config import PAIRS, STEP_NS, ForgeOptions
from reflexforge.simulate import simulate, simulate_schedule

OPTS = ForgeOptions()


def poisson(seed: int, seconds: float, rate: float):
    rng = np.random.default_rng(seed)
    count = int(seconds * rate)
    ts = (10**9 + np.cumsum(rng.exponential(1e9 / rate, count))).astype(np.int64)
    size = rng.integers(64, 1500, count).astype(np.int64)
    rtt = np.full(count, -1, dtype=np.int64)
    return ts, size, rtt


def test_p95_is_nearest_rank() -> None:
    ts = np.zeros(20, dtype=np.int64)
    completion = np.arange(20, 0, -1, dtype=np.int64)  # latencies 1..20 in any order
    assert p95_ns(ts, completion) == 19  # ceil(0.95 * 20) = 19th smallest
    assert p95_ns(ts[:1], completion[:1]) == 20


def test_static_pairs_replay_every_pair() -> None:
    ts, size, _ = poisson(1, 3.0, 5000)
    oracle_J = np.tile(np.arange(24, 0, -1, dtype=np.float64), (5, 1))
    statics = static_pairs(ts, size, oracle_J, OPTS)
    for p in (0, 11, 23):
        n, d_us = PAIRS[p]
        completion, _ = simulate(ts, size, n, d_us * 1000, OPTS.flush_cost_ns, OPTS.link_bps)
        assert statics.p95_ns[p] == p95_ns(ts, completion)
    assert statics.best_by_J() == 23
    # N = 1 ignores D: the four (1, D) pairs tie, and the tie goes to the lowest index.
    assert statics.best_by_p95() == 0
    assert len(set(statics.p95_ns[:4].tolist())) == 1


def _pairs(loop) -> list[tuple[int, int]]:
    return list(zip(loop.schedule_n.tolist(), loop.schedule_d_us.tolist(), strict=True))


def test_climber_moves_on_the_ladder_every_other_step() -> None:
    ts, size, rtt = poisson(2, 30.0, 20_000)
    loop = hill_climber(ts, size, rtt, OPTS)
    pairs = _pairs(loop)
    assert pairs[:2] == [OPTS.incumbent] * 2
    assert set(pairs) <= set(LADDER)
    changes = [k for k in range(1, len(pairs)) if pairs[k] != pairs[k - 1]]
    assert changes and all(k % 2 == 0 for k in changes)
    for a, b in zip(pairs, pairs[1:], strict=False):  # one rung at a time
        assert abs(LADDER.index(a) - LADDER.index(b)) <= 1
    completion, flushes = simulate_schedule(ts, size, int(ts[0]), STEP_NS, loop.schedule_n,
                                            loop.schedule_d_us * 1000, OPTS.flush_cost_ns,
                                            OPTS.link_bps)
    assert np.array_equal(completion, loop.completion) and flushes == loop.flushes


def test_climber_climbs_right_under_saturation_and_parks() -> None:
    # 250k packets/s of ~780 bytes: one packet per flush cannot keep up (5 us per flush).
    ts, size, rtt = poisson(3, 20.0, 250_000)
    loop = hill_climber(ts, size, rtt, OPTS)
    pairs = _pairs(loop)
    top = Counter(pairs).most_common(1)[0]
    assert top[0] == (64, 4000) and top[1] > 0.9 * len(pairs)


def test_climber_goes_left_at_light_load() -> None:
    # 2k packets/s: (16, 1ms) waits for its deadline; the left of the ladder is much better.
    ts, size, rtt = poisson(4, 60.0, 2000)
    loop = hill_climber(ts, size, rtt, OPTS)
    pairs = _pairs(loop)
    left = sum(1 for p in pairs if LADDER.index(p) <= 2)
    assert left > 0.6 * len(pairs)
