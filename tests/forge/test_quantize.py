"""Feature scaling, the vectorized quantizer against reflexfmt's scalar one, leaf snapping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex
from reflexforge.errors import ForgeError
from reflexforge.quantize import Q_SCALE, quantize_matrix, scaling_from_training, snap_log


def _reflex(lo: np.ndarray, hi: np.ndarray, q_scale: int) -> Reflex:
    leaf = (Node.leaf(1),)
    return Reflex(
        scaling=tuple(FeatureScale(float(a), float(b)) for a, b in zip(lo, hi, strict=True)),
        trees=(leaf, leaf),
        bounds=(OutputBounds(1, 64), OutputBounds(50, 4000)),
        metadata={},
        q_scale=q_scale,
    )


def _hard_values(lo: float, hi: float, rng: np.random.Generator) -> list[float]:
    """Values at and around the ends, specials, and many in between."""
    special = [lo, hi, math.nextafter(lo, math.inf), math.nextafter(lo, -math.inf),
               math.nextafter(hi, -math.inf), math.nextafter(hi, math.inf), math.nan,
               math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324]
    return special + list(rng.uniform(lo - (hi - lo) * 0.1, hi + (hi - lo) * 0.1, 300))


@pytest.mark.parametrize("q_scale", [Q_SCALE, 1, 1000, 3])
def test_vectorized_quantizer_equals_reflexfmt(q_scale: int) -> None:
    rng = np.random.default_rng(q_scale)
    lo = np.array([0.0, -5.0, 1e-9, 3.0, 1e6, -1e300, 0.1, 7.0, 2.0, 0.0])
    hi = np.array([1.0, 5.0, 2e-9, 3.0, 1e12, 1e300, 0.3, 7.5, 2.0 + 2e-15, 1e-300])
    cols = [_hard_values(a, b, rng) for a, b in zip(lo, hi, strict=True)]
    rows = min(len(c) for c in cols)
    x = np.array([c[:rows] for c in cols]).T
    reflex = _reflex(lo, hi, q_scale)
    got = quantize_matrix(x, lo, hi, q_scale)
    want = np.array([reflex.quantize(list(row)) for row in x])
    assert np.array_equal(got, want)
    assert got.min() >= 0 and got.max() <= q_scale


def test_constant_feature_is_zero_at_or_below_lo_and_q_above() -> None:
    lo = np.full(10, 4.0)
    hi = np.full(10, 4.0)
    x = np.array([[4.0] * 10, [3.0] * 10, [math.nextafter(4.0, 9)] * 10, [math.nan] * 10])
    q = quantize_matrix(x, lo, hi, Q_SCALE)
    assert q[:, 0].tolist() == [0, 0, Q_SCALE, 0]
    reflex = _reflex(lo, hi, Q_SCALE)
    assert [reflex.quantize(list(r))[0] for r in x] == q[:, 0].tolist()


def test_scaling_is_min_and_max_of_training_rows() -> None:
    x = np.array([[1.0, 5.0], [3.0, 5.0], [-2.0, 5.0]])
    lo, hi = scaling_from_training(x)
    assert lo.tolist() == [-2.0, 5.0] and hi.tolist() == [3.0, 5.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_scaling_rejects_non_finite(bad: float) -> None:
    x = np.array([[1.0, 2.0], [bad, 3.0]])
    with pytest.raises(ForgeError, match="E_TRAINSET"):
        scaling_from_training(x)


def test_scaling_rejects_overflowing_span() -> None:
    with pytest.raises(ForgeError, match="overflows"):
        scaling_from_training(np.array([[-1.7e308], [1.7e308]]))


N = (1, 4, 8, 16, 32, 64)
D = (50, 200, 1000, 4000)


@pytest.mark.parametrize(
    ("y", "legal", "want"),
    [
        (2.0, N, 1),  # 2*2 == 1*4: a tie goes to the smaller value
        (math.nextafter(2.0, 3), N, 4),
        (math.nextafter(2.0, 0), N, 1),
        (100.0, D, 50),  # 100*100 == 50*200
        (math.nextafter(100.0, 200), D, 200),
        (2000.0, D, 1000),  # 2000*2000 == 1000*4000
        (32.0 * math.sqrt(2.0), N, 64),  # the float is a hair above sqrt(32*64)
        (5.0, N, 4),  # 25 < 4*8
        (6.0, N, 8),  # 36 > 4*8: log space picks 8 where linear distance ties
        (450.0, D, 1000),  # 202500 > 200*1000, although 450 is linearly nearer 200
        (0.0, N, 1),
        (-3.0, D, 50),
        (math.nan, D, 50),
        (1e9, D, 4000),
        (math.inf, N, 64),
        (64.0, N, 64),
        (1.0, N, 1),
    ],
)
def test_snap_log(y: float, legal: tuple[int, ...], want: int) -> None:
    assert snap_log(y, legal) == want


def test_snap_log_is_nearest_in_log_space() -> None:
    for y in np.geomspace(0.5, 100, 2000):
        got = snap_log(float(y), N)
        dist = [abs(math.log(y) - math.log(c)) for c in N]
        best = min(dist)
        assert abs(math.log(y) - math.log(got)) <= best + 1e-12
