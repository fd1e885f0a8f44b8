"""The ten features of a window computed inside the closed loop, bit for bit as
``reflexforge.features`` computes them after a replay (spec/forge.md section 4)."""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexforge.exact import size_variance
from reflexforge.features import PER_SECOND, window_sums


@njit(cache=True)
def sorted_nearest_rank(sorted_vals, count, percent):
    """The nearest-rank ``percent`` percentile of the first ``count`` values, sorted."""
    rank = (percent * count + 99) // 100
    return sorted_vals[rank - 1]


@njit(cache=True)
def loop_window_features(ts, size, comp, s, e, a_lo, a_hi, q_lo, c_lo, c_hi, ewma, has_ewma,
                         lat_buf, out):
    """The ten features of window [s, e), bit for bit as ``reflexforge.features`` computes them.

    [a_lo, a_hi): arrivals in [s, e); [q_lo, a_hi): packets in the system during the window;
    [c_lo, c_hi): completions in [s, e). ``comp`` is INT64_MAX for packets not completed yet.
    """
    in_system, bytes_in, squares, bytes_out = window_sums(ts, size, comp, s, e, a_lo, a_hi, q_lo,
                                                          c_lo, c_hi)
    n_in = a_hi - a_lo
    n_out = c_hi - c_lo
    for x in range(c_lo, c_hi):
        lat_buf[x - c_lo] = comp[x] - ts[x]
    out[0] = np.float64(in_system) / np.float64(e - s)
    out[1] = np.float64(n_in) * PER_SECOND
    out[2] = np.float64(n_out) * PER_SECOND
    if n_out > 0:
        lat = np.sort(lat_buf[:n_out])
        out[3] = np.float64(sorted_nearest_rank(lat, n_out, 50)) / 1000.0
        out[4] = np.float64(sorted_nearest_rank(lat, n_out, 95)) / 1000.0
    else:
        out[3] = 0.0
        out[4] = 0.0
    out[5] = np.float64(bytes_in) * PER_SECOND
    out[6] = np.float64(bytes_out) * PER_SECOND
    if n_in > 0:
        out[7] = np.float64(bytes_in) / np.float64(n_in)
        out[8] = size_variance(n_in, bytes_in, squares)
    else:
        out[7] = 0.0
        out[8] = 0.0
    out[9] = ewma / 1000.0 if has_ewma else 0.0
