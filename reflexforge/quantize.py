"""Feature scaling and the NEM1 quantization arithmetic, vectorized (spec/training.md).

``quantize_matrix`` is spec/NEM1.md section 10 step 1 applied to a whole matrix with
numpy; every element goes through the same three binary64 operations, in the same order,
as ``reflexfmt.Reflex.quantize`` (tests/forge/test_quantize.py proves the equality).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from reflexfmt.limits import Q_SCALE_RANGE
from reflexforge.errors import E_TRAINSET, ForgeError

Q_SCALE = Q_SCALE_RANGE[1]
"""The q_scale the forge writes: the top of the format's range (32767), the finest grid
that int16 thresholds can address."""


def scaling_from_training(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature ``lo``/``hi``: the min and max over the training windows (float64)."""
    x = np.asarray(x_train, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ForgeError(E_TRAINSET, "no training windows to scale the features with")
    if not np.isfinite(x).all():
        col = int(np.nonzero(~np.isfinite(x).all(axis=0))[0][0])
        raise ForgeError(E_TRAINSET, f"feature {col} has a non-finite value")
    lo = x.min(axis=0)
    hi = x.max(axis=0)
    with np.errstate(over="ignore"):
        span = hi - lo
    if not np.isfinite(span).all():
        col = int(np.nonzero(~np.isfinite(span))[0][0])
        raise ForgeError(E_TRAINSET, f"feature {col}: hi - lo overflows binary64")
    return lo, hi


def quantize_matrix(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, q_scale: int) -> np.ndarray:
    """Spec 10 step 1 for every element of ``x`` [n, f]: grid values in 0..q_scale (int32).

    NaN and ``x <= lo`` give 0, ``x >= hi`` gives Q (so ``lo == hi`` never divides),
    otherwise ``r = ((x - lo) * Q) / (hi - lo)`` and ``q = Q if r >= Q else floor(r)``.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.int32)
    q = float(q_scale)
    for i in range(x.shape[1]):
        col = x[:, i]
        lo_i = np.float64(lo[i])
        hi_i = np.float64(hi[i])
        above = col > lo_i  # False for NaN
        top = above & (col >= hi_i)
        mid = above & ~top
        with np.errstate(over="ignore", invalid="ignore"):
            r = ((col[mid] - lo_i) * q) / (hi_i - lo_i)
        grid = np.where(r >= q, q, np.floor(np.minimum(r, q)))
        out[mid, i] = grid.astype(np.int32)
        out[top, i] = q_scale
    return out


def snap_log(y: float, legal: Sequence[int]) -> int:
    """The legal value nearest to ``y`` in log space; an exact tie goes to the smaller value.

    ``legal`` is sorted ascending and positive. Between neighbours a < b, ``y`` is nearer
    to a iff ``y**2 < a*b``; the comparison is exact (rational arithmetic on the binary64 y).
    ``y <= legal[0]`` or NaN gives ``legal[0]``.
    """
    if not y > legal[0]:
        return int(legal[0])
    for a, b in zip(legal, legal[1:], strict=False):
        if y <= b:
            return int(a) if Fraction(y) ** 2 <= a * b else int(b)
    return int(legal[-1])


def clamp(value: int, lo: int, hi: int) -> int:
    """``min(max(value, lo), hi)``: the spec's output clamp."""
    return min(max(value, lo), hi)
