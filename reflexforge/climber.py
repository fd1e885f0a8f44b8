"""The net_dim-style hill climber's state machine (spec/validation.md section 8), compiled.

``reflexforge.baselines`` describes the baseline; the closed loop (``MODE_CLIMB`` of
``reflexforge.closedloop``) runs it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexforge.loopfeatures import sorted_nearest_rank

# Hill-climber tune states, as in Linux lib/dim.
GOING_RIGHT = 0
GOING_LEFT = 1
PARKING_ON_TOP = 2
PARKING_TIRED = 3

# The net_dim-style ladder of the hill climber, (N packets, D us).
LADDER: tuple[tuple[int, int], ...] = ((1, 50), (4, 200), (8, 200), (16, 1000), (32, 1000),
                                       (64, 4000))
DEAD_BAND_PERCENT = 10.0


@njit(cache=True)
def climb_cost(comp, c_lo, c_hi, ts, lat_buf, lam, flush_cost_ns):
    """The climber's observed cost of a window: p95 (us) + lam * overhead (us), or -1 if idle."""
    n_out = c_hi - c_lo
    if n_out == 0:
        return -1.0
    batches = 0
    for x in range(c_lo, c_hi):
        lat_buf[x - c_lo] = comp[x] - ts[x]
        if x == c_lo or comp[x] != comp[x - 1]:
            batches += 1
    lat = np.sort(lat_buf[:n_out])
    p95_us = sorted_nearest_rank(lat, n_out, 95) / 1000.0
    return p95_us + lam * ((batches * flush_cost_ns) / 1000.0)


@njit(cache=True)
def _compare(curr, prev, band):
    """DIM's three-way stats comparison on a cost (lower is better): 1 better, 0 same, -1 worse."""
    if prev < 0.0:
        return 1 if curr >= 0.0 else 0
    if abs(curr - prev) * 100.0 > band * prev:
        return 1 if curr < prev else -1
    return 0


@njit(cache=True)
def climb_sample(cost, tune, ix, steps_left, steps_right, tired, prev_cost, n_ladder, band):
    """The hill climber's reaction to one sample (spec/validation.md section 8).

    ``cost`` < 0 means no sample (nothing completed): no change. ``ix`` is the rung, ``tune``
    the DIM state, ``prev_cost`` the reference sample (-1 before the first). Returns the new
    (tune, ix, steps_left, steps_right, tired, prev_cost).
    """
    if cost < 0.0:
        return tune, ix, steps_left, steps_right, tired, prev_cost
    prev_tune = tune
    if tune == PARKING_ON_TOP:
        if _compare(cost, prev_cost, band) != 0:
            tune = GOING_LEFT if ix > 0 else GOING_RIGHT
            ix, steps_left, steps_right, tired = _climb_step(
                tune, ix, steps_left, steps_right, tired, n_ladder)
    elif tune == PARKING_TIRED:
        tired -= 1
        if tired == 0:
            tune = GOING_LEFT if ix > 0 else GOING_RIGHT
            ix, steps_left, steps_right, tired = _climb_step(
                tune, ix, steps_left, steps_right, tired, n_ladder)
    else:
        if _compare(cost, prev_cost, band) != 1:
            if tune == GOING_RIGHT:
                tune = GOING_LEFT
                steps_left = 0
            else:
                tune = GOING_RIGHT
                steps_right = 0
        on_top = (steps_left > 1 and steps_right == 1) if tune == GOING_RIGHT \
            else (steps_right > 1 and steps_left == 1)
        if on_top:
            tune, steps_left, steps_right, tired = PARKING_ON_TOP, 0, 0, 0
        elif tired == 2 * n_ladder:
            tune, steps_left, steps_right = PARKING_TIRED, 0, 0
        elif (tune == GOING_RIGHT and ix == n_ladder - 1) or \
                (tune == GOING_LEFT and ix == 0):
            tune, steps_left, steps_right, tired = PARKING_ON_TOP, 0, 0, 0
        else:
            ix, steps_left, steps_right, tired = _climb_step(
                tune, ix, steps_left, steps_right, tired, n_ladder)
    if prev_tune != PARKING_ON_TOP or tune != PARKING_ON_TOP:
        prev_cost = cost
    return tune, ix, steps_left, steps_right, tired, prev_cost


@njit(cache=True)
def _climb_step(tune, ix, steps_left, steps_right, tired, n_ladder):
    """DIM's net_dim_step for a tune state that is moving (the edges are checked by the caller)."""
    if tune == GOING_RIGHT:
        ix += 1
        steps_right += 1
    elif tune == GOING_LEFT:
        ix -= 1
        steps_left += 1
    tired += 1
    return ix, steps_left, steps_right, tired
