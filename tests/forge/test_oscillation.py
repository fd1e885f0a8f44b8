"""The oscillation counter of spec/validation.md on hand-made decision sequences."""

from __future__ import annotations

import numpy as np
import pytest

from reflexforge.oscillation import (
    dwell_runs,
    max_in_window,
    oscillation_flags,
    oscillation_stats,
)

A = (16, 1000)
B = (32, 1000)
C = (64, 4000)


def seq(*pairs: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([p[0] for p in pairs], dtype=np.int64),
            np.array([p[1] for p in pairs], dtype=np.int64))


def flags(*pairs: tuple[int, int]) -> list[int]:
    return np.flatnonzero(oscillation_flags(*seq(*pairs))).tolist()


def test_flicker_a_b_a_is_one_oscillation() -> None:
    assert flags(A, B, A) == [2]
    stats = oscillation_stats(*seq(A, B, A))
    assert (stats.switches, stats.oscillations, stats.oscillations_max_per_30s) == (2, 1, 1)


def test_monotone_climb_is_not_an_oscillation() -> None:
    assert flags(A, B, C) == []
    assert flags(C, B, A) == []


def test_constant_sequence_has_no_switch() -> None:
    stats = oscillation_stats(*seq(*[A] * 50))
    assert (stats.switches, stats.oscillations, stats.switches_per_min) == (0, 0, 0.0)
    assert stats.median_dwell_s == pytest.approx(5.0)


@pytest.mark.parametrize(("gap", "expected"), [(10, [11]), (11, [])])
def test_lookback_is_ten_steps(gap: int, expected: list[int]) -> None:
    pairs = [A, B] + [B] * (gap - 1) + [A]
    assert flags(*pairs) == expected


def test_one_knob_reversal_is_enough() -> None:
    # N keeps rising while D goes down then up: D reverses.
    assert flags((16, 1000), (32, 200), (64, 1000)) == [2]
    # N up then D up: different knobs, no reversal.
    assert flags((16, 200), (32, 200), (32, 1000)) == []


def test_at_most_one_oscillation_per_step() -> None:
    # Step 3 reverses both knobs of step 2 and N of step 1: still one oscillation.
    assert flags((16, 1000), (32, 1000), (64, 4000), (16, 200)) == [3]
    assert oscillation_stats(*seq((16, 1000), (32, 1000), (64, 4000), (16, 200))).oscillations \
        == 1


def test_a_climb_after_one_dip_reverses_once() -> None:
    # N = 8 -> 4 -> 16 -> 32 -> 64 under one D: only the step back up from the dip reverses.
    pairs = [(8, 200), (4, 200), (16, 200), (32, 200), (64, 200)]
    assert flags(*pairs) == [2]
    # The same with D moving on alone between N's moves: still one, and D never reverses.
    assert flags((8, 50), (4, 50), (4, 200), (16, 200), (16, 1000), (32, 1000)) == [3]
    # A three-pair cycle is still seen twice per period (each cycling knob turns twice).
    cycle = [(8, 200), (16, 200), (32, 200)] * 4
    assert flags(*cycle) == [3, 4, 6, 7, 9, 10]


def test_reversal_of_a_reversal_counts_again() -> None:
    assert flags(A, B, A, B, A) == [2, 3, 4]


def test_sliding_30s_window_maximum() -> None:
    f = np.zeros(1000, dtype=bool)
    f[[10, 150, 460]] = True
    assert max_in_window(f) == 2  # 10 and 150 share a 300-step window
    f = np.zeros(1000, dtype=bool)
    f[[10, 310, 610]] = True
    assert max_in_window(f) == 1  # 300 steps apart: never in the same window
    f = np.zeros(1000, dtype=bool)
    f[[10, 309]] = True
    assert max_in_window(f) == 2  # 299 steps apart: one window holds both


def test_short_sequence_counts_everything() -> None:
    f = np.array([True, False, True])
    assert max_in_window(f) == 2


def test_dwell_and_switch_rate() -> None:
    pairs = [A] * 30 + [B] * 11 + [A] * 19  # 60 steps = 6 s, 2 switches 11 steps apart
    n, d = seq(*pairs)
    assert dwell_runs(n, d).tolist() == [30, 11, 19]
    stats = oscillation_stats(n, d)
    assert stats.switches == 2
    assert stats.switches_per_min == pytest.approx(20.0)
    assert stats.median_dwell_s == pytest.approx(1.9)
    assert stats.oscillations == 0


# --- issue 8: the vectorized count, the lookback of the gate, the longest alternation ------


def loop_flags(n: np.ndarray, d: np.ndarray, lookback: int) -> np.ndarray:
    """The definition as a plain loop, kept as the reference: a switch at k is an oscillation
    when, for some knob it moves, the last earlier switch that moved that knob is at most
    ``lookback`` steps back and moved it the other way."""
    n = n.astype(np.int64)
    d = d.astype(np.int64)
    out = np.zeros(n.shape[0], dtype=bool)
    for knob in (n, d):
        last_k, last_sign = None, 0
        for k in range(1, n.shape[0]):
            sign = int(np.sign(knob[k] - knob[k - 1]))
            if sign == 0:
                continue
            if last_k is not None and sign * last_sign < 0 and k - last_k <= lookback:
                out[k] = True
            last_k, last_sign = k, sign
    return out


@pytest.mark.parametrize("seed", range(40))
def test_vectorized_flags_equal_the_loop_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    length = int(rng.integers(0, 400))
    # Sticky random walks over a few values of each knob: switches, reversals and long runs.
    stay = rng.random(length) < rng.uniform(0.3, 0.95)
    n = rng.choice([1, 4, 8, 16, 32, 64], length)
    d = rng.choice([50, 200, 1000, 4000], length)
    for k in range(1, length):
        if stay[k]:
            n[k], d[k] = n[k - 1], d[k - 1]
    for lookback in (1, 2, 5, 10, 11, 22, 80, 300):
        got = oscillation_flags(n, d, lookback)
        assert got.tolist() == loop_flags(n, d, lookback).tolist(), lookback


def strict_alternation(confirm: int, dwell: int, seconds: float = 60.0) -> np.ndarray:
    """The pairs a runtime applies when its raw decisions alternate between A and B every
    max(dwell, confirm) + 1 steps: the fastest cycle this hysteresis lets through."""
    from reflexforge.runtime import runtime_steps

    period = max(dwell, confirm) + 1
    steps = int(seconds * 10)
    raw = np.array([A if (k // period) % 2 == 0 else (64, 50) for k in range(steps)],
                   dtype=np.int64)
    return runtime_steps(raw, confirm, dwell)


@pytest.mark.parametrize("confirm", [1, 2, 3, 5, 10, 20, 40])
@pytest.mark.parametrize("dwell", [0, 1, 5, 10, 11, 30, 60])
def test_gate_lookback_is_never_blind(confirm: int, dwell: int) -> None:
    from reflexforge.oscillation import gate_lookback

    applied = strict_alternation(confirm, dwell)
    n, d = applied[:, 0], applied[:, 1]
    switches = np.flatnonzero((np.diff(n) != 0) | (np.diff(d) != 0)) + 1
    gaps = np.diff(switches)
    assert switches.shape[0] >= 5  # the runtime really lets the cycle through
    lookback = gate_lookback(confirm, dwell)
    assert lookback == max(10, 2 * (confirm + dwell))
    assert lookback >= gaps.max()
    stats = oscillation_stats(n, d, lookback=lookback)
    assert stats.oscillations_max_per_30s > 1  # counted: the gate refuses it
    if gaps.min() > 10:  # and the old fixed 1 s lookback was blind to it
        assert oscillation_stats(n, d, lookback=10).oscillations == 0


def test_alternation_every_1_1_s_for_30_s_is_seen() -> None:
    """The issue's real capture: (8, 50 us) and (16, 1 ms) alternating every 11 steps for
    30 s, under a runtime with confirm 1 and dwell 11."""
    from reflexforge.oscillation import gate_lookback

    pairs = [(16, 1000)] * 50 + [(8, 50) if (k // 11) % 2 == 0 else (16, 1000)
                                 for k in range(300)] + [(16, 1000)] * 50
    n, d = seq(*pairs)
    assert oscillation_stats(n, d).oscillations == 0  # the old 10-step lookback: blind
    stats = oscillation_stats(n, d, lookback=gate_lookback(1, 11))
    assert stats.lookback_steps == 24
    assert stats.oscillations_max_per_30s >= 25
    assert stats.longest_alternation.pairs == ((16, 1000), (8, 50))
    # First switch at step 50, last at step 50 + 27 * 11: 29.7 s.
    assert stats.longest_alternation.seconds == pytest.approx(29.7)
    assert stats.max_per_30s_by_lookback["1s"] == 0
    assert stats.max_per_30s_by_lookback["5s"] >= 25
    assert set(stats.max_per_30s_by_lookback) == {"1s", "5s", "10s", "30s"}
    as_dict = stats.as_dict()
    assert as_dict["lookback_steps"] == 24
    assert as_dict["longest_alternation"] == {"runs": 29, "seconds": pytest.approx(29.7),
                                              "pairs": [[16, 1000], [8, 50]]}


def test_following_a_load_change_up_and_later_down_is_at_most_one() -> None:
    from reflexforge.oscillation import gate_lookback

    lookback = gate_lookback(10, 30)
    for busy_steps in (40, 79, 80, 81, 200):
        n, d = seq(*([A] * 100 + [C] * busy_steps + [A] * 100))
        stats = oscillation_stats(n, d, lookback=lookback)
        assert stats.switches == 2
        assert stats.oscillations_max_per_30s == (1 if busy_steps <= lookback else 0)


def test_longest_alternation_hand_cases() -> None:
    from reflexforge.oscillation import longest_alternation

    def alt(*runs: tuple[tuple[int, int], int]):
        pairs = [p for p, count in runs for _ in range(count)]
        return longest_alternation(*seq(*pairs))

    assert alt((A, 5)).runs == 0 and alt((A, 5)).pairs is None
    assert alt((A, 5), (B, 5)).runs == 0  # two runs are not an alternation
    assert alt((A, 5), (B, 5), (C, 5)).runs == 0  # three different pairs
    a = alt((A, 5), (B, 3), (A, 4))
    assert (a.runs, a.seconds, a.pairs) == (3, pytest.approx(0.3), (A, B))
    # A B A B then C: four runs, first switch at step 5, last at step 5 + 3 + 4 = 12.
    a = alt((A, 5), (B, 3), (A, 4), (B, 2), (C, 9))
    assert (a.runs, a.seconds, a.pairs) == (4, pytest.approx(0.7), (A, B))
    # Two alternations: the longer wins; with equal lengths, the earlier.
    a = alt((A, 2), (B, 2), (A, 2), (C, 2), (B, 2), (C, 2), (B, 2), (C, 2))
    assert (a.runs, a.pairs) == (5, (C, B))
    a = alt((A, 2), (B, 2), (A, 2), (C, 9), (B, 2), (C, 2))
    assert (a.runs, a.pairs, a.seconds) == (3, (A, B), pytest.approx(0.2))
    # One knob is enough to tell pairs apart.
    a = alt(((16, 50), 3), ((16, 200), 3), ((16, 50), 3), ((16, 200), 3))
    assert (a.runs, a.pairs) == (4, ((16, 50), (16, 200)))


def test_switch_load_is_the_mean_of_the_steps_before() -> None:
    from reflexforge.oscillation import load_span, switch_load

    per_step = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0], [7.0, 70.0]])
    load = switch_load(per_step, 1)  # span load_span(1) = 2
    assert load.tolist() == [[0.0, 0.0], [1.0, 10.0], [2.0, 20.0], [4.0, 40.0]]
    assert (load_span(0), load_span(1), load_span(10)) == (2, 2, 11)


def test_offered_load_counts_packets_and_bytes_per_step() -> None:
    from reflexforge.oscillation import offered_load

    ts = np.array([5, 10, 100_000_000, 250_000_000, 990_000_000], dtype=np.int64) + 7
    size = np.array([64, 100, 1500, 200, 9000])
    got = offered_load(ts, size, 3, 7)  # the last packet is past step 2: not counted
    assert got.tolist() == [[2.0, 164.0], [1.0, 1500.0], [1.0, 200.0]]


def test_offered_load_in_chunks_equals_one_pass(monkeypatch) -> None:
    """``offered_load`` sums a few packets at a time (its temporaries stay small); the totals
    equal one pass over every packet, also across a chunk boundary inside a step."""
    import reflexforge.oscillation as oscillation

    rng = np.random.default_rng(3)
    ts = np.sort(rng.integers(10**9, 3 * 10**9, 5000))
    size = rng.integers(1, 65536, 5000).astype(np.uint16)
    k = (ts - 10**9) // 10**8
    want = np.stack((np.bincount(k, minlength=20)[:20].astype(np.float64),
                     np.bincount(k, weights=size.astype(np.float64), minlength=20)[:20]), axis=1)
    for chunk in (7, 1000, 1 << 20):
        monkeypatch.setattr(oscillation, "LOAD_CHUNK", chunk)
        assert np.array_equal(oscillation.offered_load(ts, size, 20, 10**9), want)


@pytest.mark.parametrize(("before_k", "before_k_prev", "called"), [
    ((100.0, 1000.0), (100.0, 1000.0), False),   # steady: a limit cycle counts
    ((150.0, 1000.0), (100.0, 1000.0), False),   # 1.5x
    ((200.0, 1000.0), (100.0, 1000.0), True),    # 2x packets
    ((100.0, 1000.0), (100.0, 2000.0), True),    # 2x bytes, same packets
    ((50.0, 500.0), (100.0, 1000.0), True),      # down as well as up
    ((1.0, 64.0), (0.0, 0.0), True),             # load after none
    ((0.0, 0.0), (0.0, 0.0), False),             # idle both times
])
def test_called_for_is_a_factor_in_packets_or_bytes(before_k, before_k_prev, called) -> None:
    from reflexforge.oscillation import LOAD_CHANGE_FACTOR, called_for

    assert LOAD_CHANGE_FACTOR == 2.0
    load = np.array([before_k_prev, before_k])
    assert called_for(load, np.array([1]), np.array([0])).tolist() == [called]


def test_load_excuses_only_reversals_it_called_for() -> None:
    # A -> B at 1, B -> A at 3 (a reversal), B at 5 (another): load before 3 is 4x load
    # before 1, load before 5 equals load before 3.
    n, d = seq(A, B, B, A, A, B)
    load = np.array([[10.0, 1.0], [10.0, 1.0], [10.0, 1.0], [40.0, 1.0], [40.0, 1.0],
                     [40.0, 1.0]])
    assert np.flatnonzero(oscillation_flags(n, d)).tolist() == [3, 5]
    assert np.flatnonzero(oscillation_flags(n, d, load=load)).tolist() == [5]
    stats = oscillation_stats(n, d, load=load)
    assert (stats.oscillations, stats.reversals_max_per_30s) == (1, 2)
    with pytest.raises(ValueError):
        oscillation_flags(n, d, load=load[:3])
