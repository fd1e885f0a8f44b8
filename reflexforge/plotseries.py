"""Per-window series of the shadow report's plot."""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexforge.oracle import window_bounds


@njit(cache=True)
def _window_p95(ts, completion, first, last, out):
    for w in range(first.shape[0]):
        n = last[w] - first[w]
        if n == 0:
            out[w] = np.nan
            continue
        k = (95 * n + 99) // 100 - 1
        lat = np.partition(completion[first[w]:last[w]] - ts[first[w]:last[w]], k)
        out[w] = lat[k] / 1000.0


def window_p95_us(ts: np.ndarray, completion: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """p95 latency (us, nearest rank) of the packets arriving in each window; NaN if none."""
    first, last = window_bounds(ts, np.ascontiguousarray(starts, dtype=np.int64))
    out = np.empty(first.shape[0], dtype=np.float64)
    _window_p95(ts, completion, first, last, out)
    return out
