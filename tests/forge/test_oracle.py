"""The oracle (spec/forge.md section 5): exact p95, J, tie-break."""

from __future__ import annotations

import random

import numpy as np
import pytest
import reference_sim  # tests/reference_sim.py

from reflexforge.config import PAIRS
from reflexforge.features import window_starts
from reflexforge.oracle import best_pairs, window_costs
from reflexforge.oracle_kernel import _kth_latency
from reflexforge.simulate import nearest_rank, simulate

MS = 1_000_000


def reference(ts, size, starts, lam, cost, link):
    """Straightforward oracle on the compiled plain simulator: a cross-check of the oracle's
    batch-at-a-time fast path on traces too large for tests/reference_sim.py."""
    J = np.empty((len(starts), 24))
    flushes = np.empty((len(starts), 24), dtype=np.int64)
    for w, s in enumerate(starts.tolist()):
        inside = (ts >= s) & (ts < s + 200 * MS)
        for p, (n, d_us) in enumerate(PAIRS):
            completion, f = simulate(ts[inside], size[inside], n, d_us * 1000, cost, link)
            lat = np.sort(completion - ts[inside])
            p95 = int(lat[nearest_rank(lat.shape[0], 95) - 1])
            J[w, p] = p95 / 1000.0 + lam * (f * cost / 1000.0)
            flushes[w, p] = f
    return J, flushes


def traces():
    rng = np.random.default_rng(7)
    poisson = np.cumsum(rng.exponential(20_000, 30_000).astype(np.int64))
    # Bursts: on/off at 200k packets/s and nearly idle, so windows exceed 4096 packets and the
    # sampled path of the selection is used, including overloaded (backlogged) stretches.
    phase = np.arange(60_000) % 12_000
    gaps = np.where(phase < 10_000, 5_000, 100_000)
    bursty = np.cumsum(rng.exponential(gaps).astype(np.int64))
    same_time = np.repeat(np.arange(0, 400 * MS, 10 * MS), 8)
    return [
        (poisson, rng.integers(64, 1500, poisson.shape[0])),
        (bursty, rng.integers(1, 65536, bursty.shape[0])),
        (same_time, np.full(same_time.shape[0], 1500)),
    ]


def test_oracle_matches_reference_simulation():
    for ts, size in traces():
        starts = window_starts(ts)
        if ts.shape[0] == 60_000:
            assert (np.diff(np.searchsorted(ts, [starts, starts + 200 * MS]), axis=0) > 4096).any()
        costs = window_costs(ts, size, starts, 0.1, 5000, 10**10, workers=1)
        J, flushes = reference(ts, size, starts, 0.1, 5000, 10**10)
        assert np.array_equal(costs.flushes, flushes)
        assert np.array_equal(costs.J, J)
        assert np.array_equal(costs.J, costs.p95_us + 0.1 * (costs.flushes * 5000 / 1000.0))


def test_selection_survives_a_misleading_sample():
    # One packet per batch with latency = bdone: every sampled position (stride m // 256)
    # holds a tiny value and all others are huge, so the sample brackets the wrong range and
    # the exact fallback must answer.
    m = 10_000
    stride = m // 256
    lat = np.where(np.arange(m) % stride == 0, 1, 10**9 + np.arange(m)).astype(np.int64)
    ts = np.zeros(m, dtype=np.int64)
    bstart = np.arange(m + 1, dtype=np.int64)
    scratch = np.empty(m, dtype=np.int64)
    sample = np.empty(1024, dtype=np.int64)
    counts = np.empty(2048, dtype=np.int64)
    for k in (1, 300, 5000, nearest_rank(m, 95), m):
        got = _kth_latency(ts, bstart, lat, m, m, k, scratch, counts, sample)
        assert got == np.sort(lat)[k - 1]


def test_tie_between_delays_goes_to_smaller_delay():
    # Bursts of exactly 4 simultaneous packets every 10 ms: with N=4 every batch fills at once,
    # so all four delays give the same replay and the same J; N=4 beats N=1 (4 flushes per
    # burst, queued) and N >= 8 (waits for the deadline).
    ts = np.repeat(np.arange(0, 300 * MS, 10 * MS), 4)
    size = np.full(ts.shape[0], 1000)
    starts = window_starts(ts)
    costs = window_costs(ts, size, starts, 0.1, 5000, 10**10, workers=1)
    row = costs.J[0]
    assert row[4] == row[5] == row[6] == row[7]  # (4,50) (4,200) (4,1000) (4,4000)
    assert row[4] < row[:4].min() and row[4] < row[8:].min()
    assert PAIRS[int(best_pairs(costs.J)[0])] == (4, 50)
    # Hand check: one flush per burst, latency 5000 + ceil(8 * 4000 * 1e9 / 1e10) = 8200 ns.
    assert row[4] == 8.2 + 0.1 * (20 * 5000 / 1000.0)


def test_tie_between_thresholds_goes_to_smaller_threshold():
    # Sparse packets (gaps > 4 ms): with N >= 4 each batch is one packet flushed at its
    # deadline, so J(4, D) = J(8, D) = ... = J(64, D) for every D.
    ts = np.arange(0, 400 * MS, 5 * MS)
    size = np.full(ts.shape[0], 100)
    costs = window_costs(ts, size, window_starts(ts), 0.1, 5000, 10**10, workers=1)
    J = costs.J[0].reshape(6, 4)
    assert (J[1:] == J[1]).all()
    # With N=1 taken out, the lowest index among the tied rows wins: (4, 50).
    no_single = costs.J.copy()
    no_single[:, :4] = np.inf
    assert PAIRS[int(best_pairs(no_single)[0])] == (4, 50)


def test_best_pairs_lowest_index_on_ties():
    J = np.full((3, 24), 10.0)
    J[0, [9, 13]] = 1.0  # (8, 200) and (16, 200): smaller threshold wins
    J[1, [22, 21]] = 2.0  # (64, 1000) and (64, 200): smaller delay wins
    J[2, :] = 3.0  # all equal: (1, 50)
    assert best_pairs(J).tolist() == [9, 21, 0]


def test_worked_example_of_the_spec():
    # spec/forge.md section 8.3.
    ts = np.array([0, 10_000, 20_000, 30_000, 500_000, 200 * MS])
    size = np.full(6, 1250)
    costs = window_costs(ts, size, window_starts(ts), 0.1, 5000, 10**10, workers=1)
    expected = [8.5] * 4 + [57.0, 207.0, 1007.0, 4007.0] + [60.0, 210.0, 1010.5, 4010.5] * 4
    assert costs.J[0].tolist() == expected
    assert costs.flushes[0].tolist() == [5] * 4 + [2] * 4 + [2, 2, 1, 1] * 4
    assert PAIRS[int(best_pairs(costs.J)[0])] == (1, 50)


def check_against_plain_reference(ts, size, lam, cost, link) -> int:
    """window_costs and best_pairs equal the plain-Python oracle; returns the window count."""
    rows = reference_sim.oracle(ts, size, lam, cost, link)
    starts = window_starts(np.array(ts))
    assert starts.tolist() == [s for s, _, _ in rows]
    costs = window_costs(np.array(ts), np.array(size), starts, lam, cost, link, workers=1)
    assert costs.J.tolist() == [[c[0] for c in row] for _, row, _ in rows]
    assert costs.p95_us.tolist() == [[c[1] for c in row] for _, row, _ in rows]
    assert costs.flushes.tolist() == [[c[2] for c in row] for _, row, _ in rows]
    assert best_pairs(costs.J).tolist() == [best for _, _, best in rows]
    return len(rows)


@pytest.mark.parametrize("seed", range(12))
def test_oracle_matches_the_plain_python_reference(seed: int) -> None:
    rng = random.Random(seed)
    ts, size, _, _ = reference_sim.random_trace(rng, rng.choice([40, 300]), 200 * MS)
    cost, link = reference_sim.random_link(rng)
    assert check_against_plain_reference(ts, size, rng.choice([0.1, 0.0, 2.5]), cost, link)


def test_oracle_matches_the_plain_python_reference_on_a_large_window() -> None:
    # Over 4096 packets in the window: the sampled path of the p95 selection.
    rng = random.Random(99)
    ts = [0] + sorted(rng.randrange(0, 150 * MS, 1000) for _ in range(6000)) + [200 * MS]
    size = [rng.randint(64, 1500) for _ in ts]
    assert check_against_plain_reference(ts, size, 0.1, 5000, 10**10) == 1
