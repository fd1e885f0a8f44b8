"""The oracle's J of every window under the per-step schedule a policy sequence had in force."""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexforge.config import STEP_NS, WINDOW_NS
from reflexforge.oracle import costs_from_counts, pair_indices, window_bounds
from reflexforge.simulate import as_sizes, replay_schedule


@njit(cache=True, nogil=True)
def _schedule_windows(ts, size, first, last, t0, sched_n, sched_d_ns, flush_cost_ns, link_bps,
                      p95_ns, flushes):
    """Per window [first[w], last[w]): isolated replay under the step schedule; p95 and flushes."""
    longest = 1
    for w in range(first.shape[0]):
        longest = max(longest, last[w] - first[w])
    done = np.empty(longest, dtype=np.int64)
    for w in range(first.shape[0]):
        lo = first[w]
        hi = last[w]
        flushes[w] = replay_schedule(ts[lo:hi], size[lo:hi], t0, STEP_NS, sched_n, sched_d_ns,
                                     flush_cost_ns, link_bps, done[:hi - lo])
        lat = done[:hi - lo]
        for x in range(hi - lo):
            lat[x] -= ts[lo + x]
        lat.sort()
        p95_ns[w] = lat[(95 * (hi - lo) + 99) // 100 - 1]


def schedule_window_costs(ts: np.ndarray, size: np.ndarray, starts: np.ndarray,
                          schedule_n: np.ndarray, schedule_d_us: np.ndarray, lam: float,
                          flush_cost_ns: int, link_bps: int, t0: int | None = None):
    """The oracle's J of every window, for the step schedule a policy sequence had in force.

    Window [s, s + 200 ms) is replayed alone, from an empty system, exactly like the oracle
    does, except that each batch uses the policy of the step in which it opens. For a constant
    schedule this is the oracle's J of that pair, bit for bit. Returns ``OracleCosts`` of shape
    (n,) instead of (n, 24). ``t0`` is where step 0 of the schedule starts (default the first
    arrival).
    """
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    size = as_sizes(size)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    first, last = window_bounds(ts, starts)
    p95_ns = np.zeros(starts.shape[0], dtype=np.int64)
    flushes = np.zeros(starts.shape[0], dtype=np.int64)
    if starts.shape[0]:
        _schedule_windows(ts, size, first, last, int(ts[0]) if t0 is None else int(t0),
                          np.ascontiguousarray(schedule_n, dtype=np.int64),
                          np.ascontiguousarray(schedule_d_us, dtype=np.int64) * 1000,
                          int(flush_cost_ns), int(link_bps), p95_ns, flushes)
    return costs_from_counts(p95_ns, flushes, lam, flush_cost_ns)


def schedule_window_J(pair_J: np.ndarray, ts: np.ndarray, size: np.ndarray,
                      starts: np.ndarray, schedule_n: np.ndarray, schedule_d_us: np.ndarray,
                      lam: float, flush_cost_ns: int, link_bps: int, t0: int) -> np.ndarray:
    """``schedule_window_costs(...).J``, with the oracle's J of all 24 pairs at hand
    (``pair_J[w, p]`` of the same windows): a window whose steps all hold one grid pair
    (steps before the schedule and past its end hold its first and last entries, as in the
    replay) takes that pair's column, which is the same number bit for bit (see above);
    only the windows across a switch are replayed."""
    starts = np.asarray(starts, dtype=np.int64)
    n = np.asarray(schedule_n, dtype=np.int64)
    d = np.asarray(schedule_d_us, dtype=np.int64)
    constant = np.zeros(starts.shape[0], dtype=np.bool_)
    column = np.full(starts.shape[0], -1, dtype=np.int64)
    if n.shape[0]:
        last = n.shape[0] - 1
        lo = np.clip((starts - t0) // STEP_NS, 0, last)
        hi = np.clip((starts + WINDOW_NS - 1 - t0) // STEP_NS, 0, last)
        changes = np.concatenate(([0], np.cumsum((n[1:] != n[:-1]) | (d[1:] != d[:-1]))))
        column = pair_indices(n[lo], d[lo])
        constant = (changes[hi] == changes[lo]) & (column >= 0)
    out = np.empty(starts.shape[0], dtype=np.float64)
    rows = np.flatnonzero(constant)
    out[rows] = pair_J[rows, column[rows]]
    rest = np.flatnonzero(~constant)
    if rest.shape[0]:
        out[rest] = schedule_window_costs(ts, size, starts[rest], n, d, lam, flush_cost_ns,
                                          link_bps, t0).J
    return out
