"""The runtime's arithmetic, compiled: spec NEM1 section 10 (quantize, walk both trees, clamp)
and section 11 (hysteresis), on a reflex flattened into arrays (``FlatReflex``).

The closed loop (``reflexforge.closedloop``) calls these once per step; ``evaluate_batch`` and
``runtime_steps`` run them over many rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from reflexfmt.limits import FEATURE_COUNT, LEAF, MAX_NODES, Q_SCALE_RANGE


@dataclass(frozen=True)
class FlatReflex:
    """A reflex as flat int64/float64 arrays for the compiled evaluator."""

    feature: np.ndarray  # int64[2, 255]
    threshold: np.ndarray  # int64[2, 255]
    left: np.ndarray  # int64[2, 255]
    right: np.ndarray  # int64[2, 255]
    value: np.ndarray  # int64[2, 255]
    lo: np.ndarray  # float64[10]
    hi: np.ndarray  # float64[10]
    q_scale: int
    bound_min: np.ndarray  # int64[2]
    bound_max: np.ndarray  # int64[2]
    confirm_steps: int
    dwell_steps: int


def flatten(reflex) -> FlatReflex:
    """Flatten a ``reflexfmt.Reflex`` into arrays (node ``i`` of tree ``o`` at ``[o, i]``)."""
    arrays = {name: np.zeros((2, MAX_NODES), dtype=np.int64)
              for name in ("feature", "threshold", "left", "right", "value")}
    for o, tree in enumerate(reflex.trees):
        for i, node in enumerate(tree):
            for name, arr in arrays.items():
                arr[o, i] = int(getattr(node, name))
    return FlatReflex(
        lo=np.array([s.lo for s in reflex.scaling], dtype=np.float64),
        hi=np.array([s.hi for s in reflex.scaling], dtype=np.float64),
        q_scale=int(reflex.q_scale),
        bound_min=np.array([b.min for b in reflex.bounds], dtype=np.int64),
        bound_max=np.array([b.max for b in reflex.bounds], dtype=np.int64),
        confirm_steps=int(reflex.confirm_steps),
        dwell_steps=int(reflex.dwell_steps),
        **arrays,
    )


def constant_flat(n: int, d_us: int) -> FlatReflex:
    """A FlatReflex whose trees are single leaves (n, d_us); used for schedules and baselines."""
    value = np.zeros((2, MAX_NODES), dtype=np.int64)
    feature = np.zeros((2, MAX_NODES), dtype=np.int64)
    feature[:, 0] = LEAF
    value[0, 0] = n
    value[1, 0] = d_us
    zeros = np.zeros((2, MAX_NODES), dtype=np.int64)
    return FlatReflex(feature, zeros, zeros, zeros, value, np.zeros(FEATURE_COUNT),
                      np.ones(FEATURE_COUNT), Q_SCALE_RANGE[1],
                      np.array([n, d_us], dtype=np.int64), np.array([n, d_us], dtype=np.int64),
                      1, 0)


@njit(cache=True)
def quantize_value(x, lo, hi, q_scale):
    """Spec NEM1 section 10 step 1, binary64 throughout: the compiled twin of
    ``reflexfmt.model.quantize_value`` (reflexfmt stays free of numba), the forge's only one;
    tests/forge/test_shadow.py proves the two equal."""
    if x != x or x <= lo:
        return 0
    if x >= hi:
        return q_scale
    r = ((x - lo) * q_scale) / (hi - lo)
    if r >= q_scale:
        return q_scale
    return np.int64(np.floor(r))


@njit(cache=True)
def evaluate_raw_row(raw, o, feature, threshold, left, right, value, lo, hi, q_scale, bmin,
                     bmax):
    """Spec NEM1 section 10 for tree ``o`` of a flattened reflex on ONE row of raw features:
    quantize on demand, walk, clamp (``reflexforge.train.evaluate_grid_rows`` takes a tree's
    nodes and a whole matrix of quantized rows)."""
    i = 0
    f = feature[o, 0]
    while f != LEAF:
        q = quantize_value(raw[f], lo[f], hi[f], q_scale)
        if q <= threshold[o, i]:
            i = left[o, i]
        else:
            i = right[o, i]
        f = feature[o, i]
    v = value[o, i]
    if v < bmin[o]:
        v = bmin[o]
    if v > bmax[o]:
        v = bmax[o]
    return v


@njit(cache=True)
def evaluate_batch(raw, feature, threshold, left, right, value, lo, hi, q_scale, bmin, bmax):
    """Evaluate both trees on every row of raw[n, 10]; returns int64[n, 2]."""
    out = np.empty((raw.shape[0], 2), dtype=np.int64)
    for r in range(raw.shape[0]):
        for o in range(2):
            out[r, o] = evaluate_raw_row(raw[r], o, feature, threshold, left, right, value, lo, hi,
                                      q_scale, bmin, bmax)
    return out


@njit(cache=True, inline="always")
def hysteresis_step(first, d0, d1, a0, a1, held, c0, c1, has_c, streak, confirm, dwell):
    """One step of spec NEM1 section 11 on the raw decision (d0, d1).

    State: the applied pair (a0, a1), the steps it has been held, the candidate (c0, c1) if
    ``has_c`` and how many consecutive steps it has been seen. ``first`` marks the first step,
    which applies its decision at once. Returns the new (a0, a1, held, c0, c1, has_c, streak).
    """
    if first:
        return d0, d1, 1, c0, c1, False, 0
    if d0 == a0 and d1 == a1:
        return a0, a1, held + 1, c0, c1, False, 0
    if has_c and d0 == c0 and d1 == c1:
        streak += 1
    else:
        c0, c1, has_c, streak = d0, d1, True, 1
    if streak >= confirm and held >= dwell:
        return d0, d1, 1, c0, c1, False, 0
    return a0, a1, held + 1, c0, c1, has_c, streak


@njit(cache=True)
def runtime_steps(decisions, confirm, dwell):
    """Spec NEM1 section 11 over a sequence of raw decisions int64[n, 2]; returns int64[n, 2]."""
    out = np.empty_like(decisions)
    a0 = np.int64(0)
    a1 = np.int64(0)
    held = 0
    c0 = np.int64(-1)
    c1 = np.int64(-1)
    has_c = False
    streak = 0
    for k in range(decisions.shape[0]):
        a0, a1, held, c0, c1, has_c, streak = hysteresis_step(
            k == 0, decisions[k, 0], decisions[k, 1], a0, a1, held, c0, c1, has_c, streak,
            confirm, dwell)
        out[k, 0] = a0
        out[k, 1] = a1
    return out
