"""Shadow validation: the compiled evaluator and runtime vs reflexfmt, and the open and
closed loops vs reflexfmt's runtime, the simulator, the oracle and each other."""

from __future__ import annotations

import random

import numpy as np
import pytest
from shadow_helpers import (  # tests/shadow_helpers.py
    FLUSH_COST,
    LINK,
    TRACE,
    as_trace,
    constant_reflex,
    feature_reflex,
    random_inputs,
    random_reflex,
    two_level_reflex,
)

from reflexfmt import Reflex, Runtime
from reflexforge.closedloop import (
    MODE_CLOSED,
    MODE_OPEN,
    MODE_SCHEDULE,
    decision_count,
    run_loop,
    step_count,
)
from reflexforge.config import STEP_NS, ForgeOptions
from reflexforge.runtime import evaluate_batch, flatten, runtime_steps
from reflexforge.schedulecost import schedule_window_costs
from reflexforge.shadow import run_shadow, window_starts
from reflexforge.simulate import simulate, simulate_schedule
from reflexforge.train import FEATURE_SETS


def flat_args(reflex: Reflex) -> tuple:
    f = flatten(reflex)
    return (f.feature, f.threshold, f.left, f.right, f.value, f.lo, f.hi, f.q_scale,
            f.bound_min, f.bound_max)


@pytest.mark.parametrize("seed", range(40))
def test_compiled_evaluator_equals_reflexfmt(seed: int) -> None:
    rng = random.Random(seed)
    reflex = random_reflex(rng)
    raw = random_inputs(rng, reflex, 200)
    got = evaluate_batch(raw, *flat_args(reflex))
    want = [reflex.evaluate(row.tolist()) for row in raw]
    assert [tuple(r) for r in got.tolist()] == want


def test_compiled_quantize_equals_reflexfmt() -> None:
    from reflexfmt.model import quantize_value as reference
    from reflexforge.runtime import quantize_value

    rng = random.Random(17)
    for _ in range(400):
        reflex = random_reflex(rng)
        for row in random_inputs(rng, reflex, 3):
            for x, s in zip(row.tolist(), reflex.scaling, strict=True):
                assert quantize_value(x, s.lo, s.hi, reflex.q_scale) == \
                    reference(x, s.lo, s.hi, reflex.q_scale), (x, s, reflex.q_scale)


@pytest.mark.parametrize("seed", range(20))
def test_compiled_runtime_equals_reflexfmt(seed: int) -> None:
    rng = random.Random(1000 + seed)
    reflex = random_reflex(rng, confirm=rng.randint(1, 4), dwell=rng.choice([0, 1, 3, 7]))
    # Few distinct inputs so that decisions repeat and the hysteresis has work to do.
    pool = random_inputs(rng, reflex, 4)
    raw = pool[[rng.randrange(4) for _ in range(300)]]
    decisions = evaluate_batch(raw, *flat_args(reflex))
    got = runtime_steps(decisions, reflex.confirm_steps, reflex.dwell_steps)
    runtime = Runtime(reflex)
    want = [runtime.step(row.tolist()) for row in raw]
    assert [tuple(r) for r in got.tolist()] == want


@pytest.mark.parametrize("seed", range(6))
def test_loop_decisions_equal_reflexfmt_runtime_on_its_own_features(seed: int) -> None:
    rng = random.Random(seed)
    reflex = feature_reflex(rng, confirm=rng.randint(1, 3), dwell=rng.choice([0, 2, 5]))
    ts, size, rtt = TRACE
    for mode in (MODE_OPEN, MODE_CLOSED):
        loop = run_loop(ts, size, rtt, (16, 1000), FLUSH_COST, LINK, mode, flat=flatten(reflex))
        runtime = Runtime(reflex)
        applied = [runtime.step(row.tolist()) for row in loop.features]
        raw = [reflex.evaluate(row.tolist()) for row in loop.features]
        assert [tuple(r) for r in loop.raw.tolist()] == raw
        assert list(zip(loop.schedule_n[2:].tolist(), loop.schedule_d_us[2:].tolist(),
                        strict=True)) == applied
        assert loop.schedule_n[:2].tolist() == [16, 16]
        assert loop.schedule_d_us[:2].tolist() == [1000, 1000]


@pytest.mark.parametrize("seed", range(4))
def test_closed_loop_replay_equals_simulate_schedule_of_its_decisions(seed: int) -> None:
    rng = random.Random(seed)
    reflex = feature_reflex(rng)
    ts, size, rtt = TRACE
    loop = run_loop(ts, size, rtt, (16, 1000), FLUSH_COST, LINK, MODE_CLOSED,
                    flat=flatten(reflex))
    assert len(set(zip(loop.schedule_n.tolist(), loop.schedule_d_us.tolist(), strict=True))) > 1
    completion, flushes = simulate_schedule(ts, size, int(ts[0]), STEP_NS, loop.schedule_n,
                                            loop.schedule_d_us * 1000, FLUSH_COST, LINK)
    assert np.array_equal(completion, loop.completion)
    assert flushes == loop.flushes
    replay = run_loop(ts, size, rtt, (16, 1000), FLUSH_COST, LINK, MODE_SCHEDULE,
                      schedule=(loop.schedule_n, loop.schedule_d_us))
    assert np.array_equal(replay.completion, completion)


@pytest.mark.parametrize("pair", [(1, 50), (16, 1000), (64, 4000), (8, 200)])
def test_closed_loop_with_constant_reflex_equals_simulate(pair: tuple[int, int]) -> None:
    ts, size, rtt = TRACE
    n, d_us = pair
    loop = run_loop(ts, size, rtt, pair, FLUSH_COST, LINK, MODE_CLOSED,
                    flat=flatten(constant_reflex(n, d_us)))
    completion, flushes = simulate(ts, size, n, d_us * 1000, FLUSH_COST, LINK)
    assert np.array_equal(loop.completion, completion)
    assert flushes == loop.flushes
    # With another incumbent, steps 0 and 1 run the incumbent and the rest the constant.
    loop = run_loop(ts, size, rtt, (32, 200), FLUSH_COST, LINK, MODE_CLOSED,
                    flat=flatten(constant_reflex(n, d_us)))
    sched_n = np.array([32, 32] + [n] * (loop.schedule_n.shape[0] - 2))
    sched_d = np.array([200, 200] + [d_us] * (loop.schedule_n.shape[0] - 2))
    completion, _ = simulate_schedule(ts, size, int(ts[0]), STEP_NS, sched_n, sched_d * 1000,
                                      FLUSH_COST, LINK)
    assert np.array_equal(loop.completion, completion)


def test_loop_features_equal_forge_features() -> None:
    from reflexforge.features import window_features
    from reflexforge.features import window_starts as forge_window_starts

    ts, size, rtt = TRACE
    starts = forge_window_starts(ts)
    assert np.array_equal(starts, window_starts(ts))
    for mode, reflex in ((MODE_OPEN, feature_reflex(random.Random(3))),
                         (MODE_CLOSED, feature_reflex(random.Random(4)))):
        loop = run_loop(ts, size, rtt, (16, 1000), FLUSH_COST, LINK, mode, flat=flatten(reflex))
        all_starts = int(ts[0]) + np.arange(decision_count(ts), dtype=np.int64) * STEP_NS
        keep = np.isin(all_starts, starts)
        want = window_features(ts, size, rtt, loop.completion, starts)
        assert np.array_equal(loop.features[keep], want)


def test_schedule_window_costs_of_a_constant_equal_the_oracle() -> None:
    from reflexforge.config import PAIRS
    from reflexforge.oracle import costs_from_counts, window_bounds
    from reflexforge.oracle_kernel import label_chunk

    ts, size, _ = TRACE
    starts = window_starts(ts)
    first, last = window_bounds(ts, starts)
    p95, flushes = label_chunk(ts, size, first, last, FLUSH_COST, LINK)
    oracle = costs_from_counts(p95, flushes, 0.1, FLUSH_COST)
    steps = step_count(ts)
    for p in (0, 7, 13, 23):
        n, d_us = PAIRS[p]
        costs = schedule_window_costs(ts, size, starts, np.full(steps, n), np.full(steps, d_us),
                                      0.1, FLUSH_COST, LINK)
        assert np.array_equal(costs.J, oracle.J[:, p])
        assert np.array_equal(costs.flushes, oracle.flushes[:, p])


@pytest.mark.parametrize("threshold", [2_000, 12_000, 20_000])
def test_arrival_feature_reflex_has_the_same_open_and_closed_loop(threshold: int) -> None:
    """Trees on arrival-side features only (``--features arrivals``) see the same inputs
    whatever policy is in force, so both loops decide the same and replay the same."""
    ts, size, rtt = TRACE
    enqueue_rate = FEATURE_SETS["arrivals"][0]
    report = run_shadow(two_level_reflex(enqueue_rate, threshold), as_trace(ts, size, rtt),
                        ForgeOptions(), min_duration_s=10, workers=1)
    assert report.open_loop.stats.switches >= 3
    assert report.open_loop.p95_ns == report.closed_loop.p95_ns
    assert report.open_loop.mean_J == report.closed_loop.mean_J
    assert report.open_loop.stats == report.closed_loop.stats


def test_policy_dependent_feature_reflex_differs_between_the_loops() -> None:
    """The counterpart: a split on queue_depth sees its own policy's queue in closed loop."""
    ts, size, rtt = TRACE
    queue_depth = 0
    assert queue_depth not in FEATURE_SETS["arrivals"]
    report = run_shadow(two_level_reflex(queue_depth, 5_400), as_trace(ts, size, rtt),
                        ForgeOptions(), min_duration_s=10, workers=1)
    assert report.open_loop.stats.switches >= 3
    assert report.open_loop.mean_J != report.closed_loop.mean_J


def test_size_variance_is_the_exactly_rounded_rational() -> None:
    from fractions import Fraction

    from reflexforge.exact import size_variance

    rng = random.Random(5)
    cases = [(1, 64, 64 * 64), (2, 65535 + 1, 65535**2 + 1), (3, 3, 3)]
    for _ in range(3000):
        n = rng.choice([1, 2, 3, 7, rng.randint(1, 300), rng.randint(1, 300_000)])
        sizes = [rng.choice([1, 64, 1500, 65535, rng.randint(1, 65535)]) for _ in range(min(n, 5))]
        total = sum(sizes) * (n // len(sizes)) + sum(sizes[: n % len(sizes)])
        squares = sum(x * x for x in sizes) * (n // len(sizes)) \
            + sum(x * x for x in sizes[: n % len(sizes)])
        cases.append((n, total, squares))
    for n, total, squares in cases:
        want = float(Fraction(n * squares - total * total, n * n))
        assert size_variance(n, total, squares) == want, (n, total, squares)


@pytest.mark.parametrize("seed", range(10))
def test_schedule_window_costs_match_the_plain_python_reference(seed: int) -> None:
    import reference_sim  # tests/reference_sim.py

    rng = random.Random(seed)
    ts, size, _, _ = reference_sim.random_trace(rng, rng.choice([40, 300]), 200_000_000)
    steps = step_count(np.array(ts))
    pairs = [rng.choice(reference_sim.GRID + [(2, 1), (3, 25), (16384, 0)]) for _ in range(steps)]
    cost, link = reference_sim.random_link(rng)
    starts = window_starts(np.array(ts))
    got = schedule_window_costs(np.array(ts), np.array(size), starts,
                                np.array([n for n, _ in pairs]), np.array([d for _, d in pairs]),
                                0.1, cost, link)
    schedule = [(n, d_us * 1000) for n, d_us in pairs]
    want = [reference_sim.window_cost(ts, size, s, schedule, ts[0], 0.1, cost, link)
            for s in starts.tolist()]
    assert want and got.J.tolist() == [w[0] for w in want]
    assert got.flushes.tolist() == [w[2] for w in want]


@pytest.mark.parametrize("seed", range(6))
def test_schedule_window_j_takes_the_oracle_column_only_where_it_is_exact(seed: int) -> None:
    """``schedule_window_J`` (the window costs of model selection and of the static pairs'
    one-leaf reflexes) equals ``schedule_window_costs(...).J`` bit for bit: windows inside
    one grid pair take the oracle's column (before the schedule's start and past its end,
    its first and last entries hold, as in the replay); windows across a switch or on an
    off-grid pair are replayed."""
    from reflexforge.config import PAIRS
    from reflexforge.oracle import costs_from_counts, window_bounds
    from reflexforge.oracle_kernel import label_chunk
    from reflexforge.schedulecost import schedule_window_J

    rng = random.Random(seed)
    ts, size, _ = TRACE
    starts = window_starts(ts)
    first, last = window_bounds(ts, starts)
    oracle = costs_from_counts(*label_chunk(ts, size, first, last, FLUSH_COST, LINK), 0.1,
                               FLUSH_COST)
    steps = step_count(ts) - rng.choice([0, 0, 3])  # a schedule that ends early, sometimes
    pairs, pair = [], rng.choice(PAIRS)
    for _ in range(steps):
        if rng.random() < 0.1:
            pair = rng.choice([*PAIRS, (3, 25)])
        pairs.append(pair)
    n = np.array([a for a, _ in pairs])
    d = np.array([b for _, b in pairs])
    t0 = int(ts[0]) + rng.choice([0, 0, STEP_NS])  # sometimes windows before step 0
    want = schedule_window_costs(ts, size, starts, n, d, 0.1, FLUSH_COST, LINK, t0).J
    got = schedule_window_J(oracle.J, ts, size, starts, n, d, 0.1, FLUSH_COST, LINK, t0)
    assert np.array_equal(got, want)


def test_loop_reads_sparse_rtt_samples_as_the_dense_column() -> None:
    """The replay reads a trace's RTT samples sparse (``Trace.rtt_samples``: no memory per
    packet); the features, decisions and completions equal those from the dense column."""
    from reflexforge.trace import Trace

    ts, size, rtt = TRACE
    assert 0 < int((rtt >= 0).sum()) < rtt.shape[0]
    sparse = Trace(ts, size, rtt).rtt_samples
    reflex = flatten(feature_reflex(random.Random(5)))
    for mode in (MODE_OPEN, MODE_CLOSED):
        dense = run_loop(ts, size, rtt, (16, 1000), FLUSH_COST, LINK, mode, flat=reflex)
        got = run_loop(ts, size, sparse, (16, 1000), FLUSH_COST, LINK, mode, flat=reflex)
        assert np.array_equal(got.features, dense.features)
        assert np.array_equal(got.raw, dense.raw)
        assert np.array_equal(got.completion, dense.completion)
    none = run_loop(ts, size, np.full(ts.shape[0], -1), (16, 1000), FLUSH_COST, LINK,
                    MODE_CLOSED, flat=reflex)
    assert not np.array_equal(none.features[:, 9], dense.features[:, 9])  # rtt_ewma is read


def test_window_p95_is_the_nearest_rank_of_each_window():
    """The figure's per-window p95 (a selection, not a sort) against sorting each window's
    latencies: windows of one packet, of many, with ties, and empty ones (NaN)."""
    from reflexforge.plotseries import window_p95_us

    rng = np.random.default_rng(7)
    ts = np.sort(np.concatenate([rng.integers(0, 300_000_000, 5000),
                                 rng.integers(900_000_000, 901_000_000, 3),
                                 [1_500_000_000]])).astype(np.int64)
    completion = ts + rng.integers(1000, 90_000, ts.shape[0])
    completion[::7] = ts[::7] + 2000  # ties
    starts = np.arange(0, 1_600_000_000, 100_000_000, dtype=np.int64)
    got = window_p95_us(ts, completion, starts)
    for w, s in enumerate(starts):
        lat = np.sort((completion - ts)[(ts >= s) & (ts < s + 200_000_000)])
        if lat.shape[0] == 0:
            assert np.isnan(got[w])
        else:
            assert got[w] == lat[(95 * lat.shape[0] + 99) // 100 - 1] / 1000.0
    assert np.isnan(got).any() and not np.isnan(got).all()


def test_shadow_mean_j_is_that_of_replaying_every_window_of_the_schedule() -> None:
    """The report's mean J takes the windows whose steps hold one pair from the oracle's
    matrix (spec/validation.md section 7: bit for bit the replay's); replaying every window of
    the closed loop's schedule and of the incumbent's gives the same numbers exactly."""
    ts, size, rtt = TRACE
    opts = ForgeOptions()
    enqueue_rate = FEATURE_SETS["arrivals"][0]
    report = run_shadow(two_level_reflex(enqueue_rate, 12_000), as_trace(ts, size, rtt), opts,
                        min_duration_s=10, workers=1)
    assert report.closed_loop.stats.switches >= 3
    starts = window_starts(ts)
    n, d_us = report.series["reflex_n"], report.series["reflex_d_us"]
    replayed = schedule_window_costs(ts, size, starts, n, d_us, opts.lam, opts.flush_cost_ns,
                                     opts.link_bps)
    assert report.closed_loop.mean_J == float(replayed.J.mean())
    steps = n.shape[0]
    constant = schedule_window_costs(ts, size, starts, np.full(steps, opts.incumbent[0]),
                                     np.full(steps, opts.incumbent[1]), opts.lam,
                                     opts.flush_cost_ns, opts.link_bps)
    assert report.incumbent.mean_J == float(constant.J.mean())
