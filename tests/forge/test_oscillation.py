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
