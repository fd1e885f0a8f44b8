"""The simulator against hand-worked cases (spec/forge.md section 3)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import reference_sim  # tests/reference_sim.py

from reflexforge.config import ForgeOptions, parse_incumbent
from reflexforge.errors import ForgeError
from reflexforge.simulate import kth_smallest, nearest_rank, simulate, simulate_schedule

BYTE_NS_LINK = 8 * 10**9  # at 8 Gb/s one byte takes exactly 1 ns: service = cost + bytes


def run(ts, size, n, d_ns, cost=1000, link=BYTE_NS_LINK):
    return simulate(np.array(ts), np.array(size), n, d_ns, cost, link)


def test_threshold_flush_and_backlog():
    # N=2: [0,100] flushes at 100 (its 2nd arrival), done 100 + 1000 + 200 = 1300;
    # [200,300] flushes at 300 but waits for the transmitter until 1300, done 2500.
    completion, flushes = run([0, 100, 200, 300], [100] * 4, n=2, d_ns=1000)
    assert completion.tolist() == [1300, 1300, 2500, 2500]
    assert flushes == 2


def test_deadline_flush():
    # N=4, D=1000: [0,500] flushes at the deadline 1000, done 1000 + 1000 + 150 = 2150;
    # [2000] flushes at 3000, done 3000 + 1000 + 10 = 4010.
    completion, flushes = run([0, 500, 2000], [100, 50, 10], n=4, d_ns=1000)
    assert completion.tolist() == [2150, 2150, 4010]
    assert flushes == 2


def test_packet_exactly_at_deadline_joins():
    # The arrival at t_open + D = 1000 joins; 1001 opens the next batch, which flushes at its
    # deadline 2001 and waits for the transmitter until 2030: done 2030 + 1000 + 30 = 3060.
    completion, flushes = run([0, 1000, 1001], [10, 20, 30], n=4, d_ns=1000)
    assert completion.tolist() == [2030, 2030, 3060]
    assert flushes == 2
    # With N=2 the packet at the deadline is also the N-th: the flush time is the same.
    completion, _ = run([0, 1000, 1001], [10, 20, 30], n=2, d_ns=1000)
    assert completion.tolist()[:2] == [2030, 2030]


def test_transmitter_backlog():
    # Three simultaneous packets with N=1 queue behind each other: 2000 ns of service each.
    completion, flushes = run([0, 0, 0], [1000] * 3, n=1, d_ns=50_000)
    assert completion.tolist() == [2000, 4000, 6000]
    assert flushes == 3


def test_service_time_rounds_up():
    # 10 Gb/s: 101 bytes = 808 bits take 80.8 ns -> 81 ns; 100 bytes take exactly 80 ns.
    completion, _ = simulate(np.array([0, 10**6]), np.array([101, 100]), 1, 0, 5000, 10**10)
    assert completion.tolist() == [5081, 10**6 + 5080]


def test_batch_of_n_at_same_instant():
    completion, flushes = run([7] * 5, [1] * 5, n=4, d_ns=10**6)
    # The first four flush at 7 (done 7 + 1000 + 4); the fifth waits for its deadline.
    assert completion.tolist() == [1011] * 4 + [7 + 10**6 + 1001]
    assert flushes == 2


def test_schedule_uses_policy_of_opening_step():
    ts = [0, 10, 1500, 1510, 3000]
    size = [1] * 5
    # Step 0 = [0, 1000): N=1; step 1 = [1000, 2000): N=2, D=100; later: the last entry.
    # 0 -> 1001; 10 waits for 1001 -> 2002; [1500,1510] flushes at 1510, starts at 2002 -> 3004;
    # 3000 opens in step 3 (last entry N=2, D=100): flushes at 3100 -> 4101.
    completion, flushes = simulate_schedule(np.array(ts), np.array(size), 0, 1000,
                                            np.array([1, 2]), np.array([0, 100]), 1000,
                                            BYTE_NS_LINK)
    assert completion.tolist() == [1001, 2002, 3004, 3004, 4101]
    assert flushes == 4
    # Before t0 the first entry applies.
    completion, _ = simulate_schedule(np.array([-5]), np.array([1]), 0, 1000, np.array([1, 2]),
                                      np.array([0, 100]), 1000, BYTE_NS_LINK)
    assert completion.tolist() == [996]


def test_schedule_matches_simulate_for_constant_policy():
    rng = np.random.default_rng(5)
    ts = np.cumsum(rng.integers(0, 40_000, 5000))
    size = rng.integers(1, 65536, 5000)
    plain = simulate(ts, size, 16, 1_000_000, 5000, 10**10)
    scheduled = simulate_schedule(ts, size, int(ts[0]), 100_000_000, np.array([16] * 3),
                                  np.array([1_000_000] * 3), 5000, 10**10)
    assert np.array_equal(plain[0], scheduled[0]) and plain[1] == scheduled[1]


def test_nearest_rank_is_integer_ceiling():
    assert [nearest_rank(n, 95) for n in (1, 2, 19, 20, 21, 100)] == [1, 2, 19, 19, 20, 95]
    assert [nearest_rank(n, 50) for n in (1, 2, 3, 4)] == [1, 1, 2, 2]
    # 95 * 20 / 100 = 19 exactly: no float rounding may push it to 20.
    assert nearest_rank(20, 95) == 19


def test_kth_smallest_matches_sort():
    rng = np.random.default_rng(2)
    counts = np.empty(2048, dtype=np.int64)
    for m in (1, 5, 17, 300, 5000):
        for spread in (1, 1000, 10**12):
            values = rng.integers(0, spread, m).astype(np.int64)
            expected = np.sort(values)
            for k in {1, (m + 1) // 2, nearest_rank(m, 95), m}:
                buf = values.copy()
                got = kth_smallest(buf, m, k, int(values.min()), int(values.max()), counts)
                assert got == expected[k - 1]


def test_options_and_incumbent():
    assert parse_incumbent("16,1ms") == (16, 1000)
    assert parse_incumbent("4, 250us") == (4, 250)
    assert parse_incumbent("4,250µs") == (4, 250)
    assert parse_incumbent("8,1.5ms") == (8, 1500)
    assert parse_incumbent("8,200") == (8, 200)
    for bad in ("16", "0,1ms", "16,0", "16,1.0005ms", "x,1ms", "16,1s"):
        with pytest.raises(ForgeError) as err:
            parse_incumbent(bad)
        assert err.value.code == "E_USAGE"
    with pytest.raises(ForgeError):
        ForgeOptions(link_bps=10)
    with pytest.raises(ForgeError):
        ForgeOptions(lam=float("nan"))
    with pytest.raises(ForgeError):
        ForgeOptions(incumbent=(20_000, 1000))


@pytest.mark.parametrize("seed", range(30))
def test_simulate_matches_the_plain_python_reference(seed: int) -> None:
    rng = random.Random(seed)
    ts, size, _, quantum = reference_sim.random_trace(rng, rng.choice([1, 2, 50, 300]))
    for _ in range(6):
        n, d_ns = reference_sim.random_policy(rng, quantum)
        cost, link = reference_sim.random_link(rng)
        want = reference_sim.simulate(ts, size, n, d_ns, cost, link)
        completion, flushes = simulate(np.array(ts), np.array(size), n, d_ns, cost, link)
        assert (completion.tolist(), flushes) == want, (n, d_ns, cost, link)


@pytest.mark.parametrize("seed", range(30))
def test_simulate_schedule_matches_the_plain_python_reference(seed: int) -> None:
    rng = random.Random(100 + seed)
    ts, size, _, quantum = reference_sim.random_trace(rng, rng.choice([1, 50, 300]))
    step = rng.choice([quantum, 7 * quantum + 1, 100_000_000, 10**7])
    t0 = ts[0] + rng.choice([0, -3 * step, step // 2, 2 * step])  # may start inside the trace
    steps = rng.randint(1, 12)
    schedule = [reference_sim.random_policy(rng, quantum) for _ in range(steps)]
    cost, link = reference_sim.random_link(rng)
    want = reference_sim.simulate_schedule(ts, size, t0, step, schedule, cost, link)
    completion, flushes = simulate_schedule(
        np.array(ts), np.array(size), t0, step, np.array([n for n, _ in schedule]),
        np.array([d for _, d in schedule]), cost, link)
    assert (completion.tolist(), flushes) == want


def test_simulate_into_a_given_buffer():
    """``out`` receives the same completions ``simulate`` returns otherwise; a buffer of the
    wrong length or type is refused rather than written past or cast."""
    rng = np.random.default_rng(3)
    ts = np.cumsum(rng.integers(0, 40_000, 3000)).astype(np.int64)
    size = rng.integers(64, 1500, 3000).astype(np.uint16)
    fresh, flushes = simulate(ts, size, 8, 200_000, 5000, 10**10)
    out = np.full(3000, -1, dtype=np.int64)
    again, flushes_again = simulate(ts, size, 8, 200_000, 5000, 10**10, out=out)
    assert again is out and flushes_again == flushes and np.array_equal(out, fresh)
    for bad in (np.empty(2999, dtype=np.int64), np.empty(3000, dtype=np.int32),
                np.empty(6000, dtype=np.int64)[::2]):
        with pytest.raises(ValueError, match="out must be"):
            simulate(ts, size, 8, 200_000, 5000, 10**10, out=bad)
