"""Horizon-aware costs (reflexforge/horizon.py) against a direct per-window loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reflexforge.config import STEP_NS
from reflexforge.errors import ForgeError
from reflexforge.horizon import check_aggregate, horizon_costs, horizon_span


def reference(costs: np.ndarray, starts: np.ndarray, offset: int, length: int,
              agg: str) -> np.ndarray:
    """spec/training.md section 3.1, one window and one pair at a time."""
    n, p = costs.shape
    out = np.empty((n, p))
    prefix = [[0.0] * p]  # binary64 running sums over the windows in order (the spec's mean)
    for v in range(n):
        prefix.append([prefix[-1][j] + float(costs[v, j]) for j in range(p)])
    for w in range(n):
        first = starts[w] + offset * STEP_NS
        last = starts[w] + (offset + length - 1) * STEP_NS
        span = [v for v in range(n) if first <= starts[v] <= last]
        if not span:  # the last window starting at or before the span's end, alone
            span = [max(v for v in range(n) if starts[v] <= last)]
        for j in range(p):
            values = sorted(costs[v, j] for v in span)
            if agg == "mean":
                out[w, j] = (prefix[span[-1] + 1][j] - prefix[span[0]][j]) / len(span)
                assert out[w, j] == pytest.approx(math.fsum(values) / len(values), rel=1e-9,
                                                  abs=1e-7)
            elif agg == "max":
                out[w, j] = values[-1]
            else:
                k = math.ceil(int(agg[1:]) * len(values) / 100)  # nearest rank
                out[w, j] = values[k - 1]
    return out


@st.composite
def windows(draw):
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 3, 7, 25]), min_size=n, max_size=n))
    t0 = draw(st.integers(0, 10**12))
    starts = t0 + np.cumsum(np.array(gaps, dtype=np.int64)) * STEP_NS
    p = draw(st.integers(1, 4))
    costs = np.array(draw(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=n * p,
                                   max_size=n * p))).reshape(n, p)
    return starts, costs


AGGS = st.sampled_from(["mean", "max", "q1", "q50", "q90", "q95", "q99", "q33"])


@settings(max_examples=300, deadline=None)
@given(windows(), st.integers(0, 12), st.integers(1, 12), AGGS)
def test_equals_the_per_window_loop(data, offset: int, length: int, agg: str) -> None:
    starts, costs = data
    got = horizon_costs(costs, starts, offset, length, agg)
    want = reference(costs, starts, offset, length, agg)
    np.testing.assert_array_equal(got, want)


def test_hand_case_with_gap_and_end() -> None:
    # Windows at steps 0, 1, 2, 5, 6 (a gap of 3 steps); offset 1, length 2.
    starts = np.array([0, 1, 2, 5, 6], dtype=np.int64) * STEP_NS
    costs = np.array([[1.0], [2.0], [4.0], [8.0], [16.0]])
    got = horizon_costs(costs, starts, 1, 2, "mean")[:, 0].tolist()
    # w0: steps 1..2 -> (2 + 4) / 2; w1: steps 2..3 -> 4; w2: steps 3..4 hold no window ->
    # the last window at or before step 4, w2 itself; w3: steps 6..7 -> 16; w4: steps 7..8 ->
    # none, the last at or before step 8 is w4.
    assert got == [3.0, 4.0, 4.0, 16.0, 16.0]
    assert horizon_costs(costs, starts, 1, 2, "max")[:, 0].tolist() == [4.0, 4.0, 4.0, 16.0,
                                                                        16.0]
    assert horizon_costs(costs, starts, 0, 1, "mean")[:, 0].tolist() == [1, 2, 4, 8, 16]
    # A span of four steps from step 2 reaches across the gap: w1 -> steps 2..5.
    assert horizon_costs(costs, starts, 1, 4, "max")[1, 0] == 8.0
    assert horizon_costs(costs, starts, 1, 4, "q50")[1, 0] == 4.0  # of (4, 8): rank 1


def test_nearest_rank_quantile_small_blocks() -> None:
    starts = np.arange(10, dtype=np.int64) * STEP_NS
    costs = np.arange(10, dtype=np.float64)[::-1].reshape(10, 1).copy()  # 9, 8, ..., 0
    # Window 0 over windows 0..9 (offset 0, length 10): values 0..9.
    assert horizon_costs(costs, starts, 0, 10, "q10")[0, 0] == 0.0  # rank ceil(1.0) = 1
    assert horizon_costs(costs, starts, 0, 10, "q11")[0, 0] == 1.0  # rank ceil(1.1) = 2
    assert horizon_costs(costs, starts, 0, 10, "q99")[0, 0] == 9.0
    assert horizon_costs(costs, starts, 0, 10, "q50")[0, 0] == 4.0  # rank 5


def test_span_of_the_hysteresis() -> None:
    assert horizon_span(10, 30, None) == (11, 30)
    assert horizon_span(10, 30, 4) == (11, 4)
    assert horizon_span(1, 0, None) == (2, 1)  # at least one window
    assert horizon_span(3, 7, None, "current") == (0, 7)


@pytest.mark.parametrize("agg", ["q0", "q100", "q", "median", "q05", "Q50", "mean "])
def test_bad_aggregates_are_usage_errors(agg: str) -> None:
    with pytest.raises(ForgeError) as info:
        check_aggregate(agg)
    assert info.value.code == "E_USAGE"


@pytest.mark.parametrize(("offset", "length"), [(0, 0), (-1, 3)])
def test_bad_spans_are_refused(offset: int, length: int) -> None:
    with pytest.raises(ValueError):
        horizon_costs(np.zeros((3, 2)), np.arange(3) * STEP_NS, offset, length)
