"""Baselines of the shadow report: static pairs, the net_dim-style hill climber, p95."""

from __future__ import annotations

from collections import Counter

import numpy as np

from reflexforge.baselines import (
    climber_states,
    hill_climber,
    p95_ns_in_place,
    runtime_static_J,
    static_pairs,
)
from reflexforge.climber import GOING_LEFT, GOING_RIGHT, LADDER, PARKING_ON_TOP, PARKING_TIRED
from reflexforge.config import PAIRS, STEP_NS, ForgeOptions
from reflexforge.features import window_starts
from reflexforge.oracle import window_costs
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
    assert p95_ns_in_place(ts, completion.copy()) == 19  # ceil(0.95 * 20) = 19th smallest
    assert p95_ns_in_place(ts[:1], completion[:1].copy()) == 20
    held = completion + 7  # afterwards the array holds the latencies, partly reordered
    assert p95_ns_in_place(ts + 7, held) == 19
    assert sorted(held.tolist()) == list(range(1, 21))


def _oracle(ts, size):
    starts = window_starts(ts)
    costs = window_costs(ts, size, starts, OPTS.lam, OPTS.flush_cost_ns, OPTS.link_bps,
                         workers=1)
    return starts, costs.J


def test_static_pairs_replay_every_pair() -> None:
    ts, size, _ = poisson(1, 3.0, 5000)
    starts, oracle_J = _oracle(ts, size)
    statics = static_pairs(ts, size, starts, oracle_J, OPTS)
    for p in (0, 11, 23):
        n, d_us = PAIRS[p]
        completion, _ = simulate(ts, size, n, d_us * 1000, OPTS.flush_cost_ns, OPTS.link_bps)
        assert statics.p95_ns[p] == p95_ns_in_place(ts, completion)
    J = runtime_static_J(ts, size, starts, oracle_J, OPTS)
    mean_J = np.array([J[:, p].copy().mean() for p in range(J.shape[1])])  # as a loop's
    assert np.array_equal(statics.mean_J, mean_J)
    assert statics.best_by_J() == int(np.argmin(mean_J))
    # N = 1 ignores D: the four (1, D) pairs tie, and the tie goes to the lowest index.
    assert statics.best_by_p95() == 0
    assert len(set(statics.p95_ns[:4].tolist())) == 1


def test_runtime_static_J_runs_the_incumbent_before_the_first_window() -> None:
    """A one-leaf reflex runs the incumbent for the two steps before its first full window:
    only the windows overlapping them (starting at steps 0 and 1) differ from the oracle's
    matrix, never in the incumbent's own column, and on a busy trace they do differ."""
    ts, size, _ = poisson(4, 3.0, 30_000)
    starts, oracle_J = _oracle(ts, size)
    J = runtime_static_J(ts, size, starts, oracle_J, OPTS)
    head = int(np.sum(starts < ts[0] + 2 * STEP_NS))
    assert head == 2 and starts.shape[0] > head
    assert np.array_equal(J[head:], oracle_J[head:])
    inc = PAIRS.index(OPTS.incumbent)
    assert np.array_equal(J[:, inc], oracle_J[:, inc])
    assert not np.array_equal(J[:head], oracle_J[:head])


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


# The climber's state machine on hand-made samples (costs, lower is better; -1: nothing
# completed). Each expected (state, rung, tired counter) is derived by hand from the rules of
# spec/validation.md section 8 and Linux lib/dim/net_dim.c: a turn resets the step count of
# the new direction; dim_on_top holds going left when steps_right > 1 and steps_left == 1
# (going right: the mirror); every move adds one to the tired counter.
R, L, TOP, TIRED = GOING_RIGHT, GOING_LEFT, PARKING_ON_TOP, PARKING_TIRED


def test_climber_parks_on_top_after_coming_back_and_keeps_its_reference() -> None:
    samples = [100, 80, 95, 70, 76, 82, -1, 60, 58, 57]
    assert climber_states(samples, start=3) == [
        (R, 4, 1),  # first sample: better, move right (steps_right 1)
        (R, 5, 2),  # 80 vs 100: better, move right (steps_right 2)
        (L, 4, 3),  # 95 vs 80: worse, turn (steps_left 0): not on top, move left (steps_left 1)
        (TOP, 4, 0),  # 70 vs 95: better; steps_right 2 > 1 and steps_left 1: park on top
        (TOP, 4, 0),  # 76 vs 70 (the parking sample): within 10%, stay
        (L, 3, 1),  # 82 vs 70 (not 76): beyond 10%, leave left one rung
        (L, 3, 1),  # no sample: no move
        (L, 2, 2),  # 60 vs 82: better, keep going left
        (R, 3, 3),  # 58 vs 60: same, turn; steps_left 2 but steps_right 0: move right
        (L, 2, 4),  # 57 vs 58: same, turn; steps_right 1 is not > 1: move left
    ]


def test_climber_dead_band_is_more_than_ten_percent_of_the_previous_sample() -> None:
    samples = [100, 110, 98, 107, 120, 108, 97]
    assert climber_states(samples, start=3) == [
        (R, 4, 1),  # first sample: better
        (L, 3, 2),  # 110 vs 100: exactly 10%, same: turn
        (L, 2, 3),  # 98 vs 110: 12 > 11, better: keep going
        (R, 3, 4),  # 107 vs 98: 9 <= 9.8, same: turn
        (L, 2, 5),  # 120 vs 107: 13 > 10.7, worse: turn
        (R, 3, 6),  # 108 vs 120: exactly 10%, same: turn
        (R, 4, 7),  # 97 vs 108: 11 > 10.8, better: keep going
    ]


def test_climber_parks_tired_after_twelve_moves_and_counts_down() -> None:
    # Equal samples: it turns at every sample between rungs 2 and 3, never more than one rung
    # in a direction, so it never parks on top; after 12 moves it parks tired.
    states = climber_states([100] * 13 + [5, -1] + [100] * 11 + [100], start=2)
    moving = [(R if k % 2 == 0 else L, 3 if k % 2 == 0 else 2, k + 1) for k in range(12)]
    assert states[:12] == moving
    assert states[12] == (TIRED, 2, 12)  # the 13th sample: tired counter at 2 x 6 rungs
    assert states[13] == (TIRED, 2, 11)  # a very different sample changes nothing but the count
    assert states[14] == (TIRED, 2, 11)  # no sample: no count
    assert [s[2] for s in states[15:26]] == list(range(10, -1, -1))[:-1] + [1]
    assert states[25] == (L, 1, 1)  # the count reaches 0: leave left one rung
    assert states[26] == (R, 2, 2)  # 100 vs 100: same, turn


def test_climber_parks_on_top_at_the_ends_of_the_ladder() -> None:
    assert climber_states([100, 100, 200], start=5) == [
        (TOP, 5, 0),  # going right at the last rung: park on top
        (TOP, 5, 0),  # same sample: stay
        (L, 4, 1),  # 200 vs 100: leave, left one rung
    ]
    assert climber_states([100, 150, 100, 300], start=1) == [
        (R, 2, 1),
        (L, 1, 2),  # worse: turn, move left
        (L, 0, 3),  # better: keep going left to rung 0
        (R, 1, 4),  # worse at rung 0: turn right (steps_left 2 but steps_right 0): move
    ]
    assert climber_states([100, 50], start=0)[1] == (R, 2, 2)
    states = climber_states([100, 150, 100, 80, 100], start=1)
    assert states[3:] == [
        (TOP, 0, 0),  # 80 vs 100: better going left at rung 0: park on top
        (R, 1, 1),  # 100 vs 80: leave; at rung 0 it leaves to the right
    ]
