"""Feature windows and the ten features of schema v1 (spec/forge.md sections 2 and 4).

Integer aggregates are computed exactly; each float64 feature is then formed by the few
IEEE-754 operations spec/forge.md lists, so other implementations reproduce it bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexfmt.limits import FEATURE_COUNT
from reflexforge.config import STEP_NS, WINDOW_NS
from reflexforge.simulate import as_sizes, kth_smallest

PER_SECOND = 10**9 / WINDOW_NS  # 5.0 exactly: a count per window times 5 is a rate per second


def window_starts(ts: np.ndarray) -> np.ndarray:
    """Starts of the windows [t0 + k*100 ms, +200 ms) that end at or before the last ts and
    hold at least one arrival, ascending (t0 = ts[0]).

    The candidates come from the packets, not from the span: the windows holding a packet at
    ``ts`` are k = (ts - t0) // 100 ms and k - 1, so memory is O(packets) however far apart
    the packets are.
    """
    ts = np.asarray(ts, dtype=np.int64)
    if ts.shape[0] == 0 or int(ts[-1]) - int(ts[0]) < WINDOW_NS:
        return np.empty(0, dtype=np.int64)
    last_k = (int(ts[-1]) - int(ts[0]) - WINDOW_NS) // STEP_NS
    k = _distinct_steps(ts, STEP_NS)
    k = np.union1d(k, k - 1)
    k = k[(k >= 0) & (k <= last_k)]
    return ts[0] + k * STEP_NS


@njit(cache=True)
def _distinct_steps(ts, step_ns):
    """The distinct step indices (ts - ts[0]) // step_ns of the non-decreasing ``ts``, in
    order, without a packet-sized temporary."""
    out = np.empty(16, dtype=np.int64)
    count = 0
    prev = -1
    for x in range(ts.shape[0]):
        k = (ts[x] - ts[0]) // step_ns
        if k != prev:
            if count == out.shape[0]:
                grown = np.empty(2 * count, dtype=np.int64)
                grown[:count] = out
                out = grown
            out[count] = k
            count += 1
            prev = k
    return out[:count].copy()


@njit(cache=True, inline="always")
def _advance(ts, completion, s, e, a0, a1, c0, c1):
    """Move the two-pointer ranges to window [s, e): arrivals [a0, a1) with s <= ts < e and
    completions [c0, c1) with s <= completion < e (both arrays non-decreasing, windows in
    increasing order)."""
    m = ts.shape[0]
    while a0 < m and ts[a0] < s:
        a0 += 1
    a1 = max(a1, a0)
    while a1 < m and ts[a1] < e:
        a1 += 1
    while c0 < m and completion[c0] < s:
        c0 += 1
    c1 = max(c1, c0)
    while c1 < m and completion[c1] < e:
        c1 += 1
    return a0, a1, c0, c1


@njit(cache=True, inline="always")
def window_sums(ts, size, completion, s, e, a0, a1, q0, c0, c1):
    """The exact integer sums of window [s, e), shared by the offline features and the closed
    loop: (time in system within the window of the packets [q0, a1), bytes in and the sum of
    their squares over the arrivals [a0, a1), bytes out over the completions [c0, c1)).
    A packet counts only the part of its stay inside the window; ``completion`` may be
    INT64_MAX for a packet not completed yet."""
    in_system = 0
    for x in range(q0, a1):
        end = completion[x] if completion[x] < e else e
        begin = ts[x] if ts[x] > s else s
        if end > begin:
            in_system += end - begin
    bytes_in = 0
    squares = 0
    for x in range(a0, a1):
        v = np.int64(size[x])
        bytes_in += v
        squares += v * v
    bytes_out = 0
    for x in range(c0, c1):
        bytes_out += np.int64(size[x])
    return in_system, bytes_in, squares, bytes_out


@njit(cache=True)
def _window_aggregates(ts, size, completion, starts, window_ns, ints, lat_ns):
    """Exact integer aggregates of each window [s, s + window_ns).

    ints[w] = (arrivals, completions, sum of time in system within the window, bytes in,
    bytes out, sum of squared bytes in); lat_ns[w] = (p50, p95) latency in ns of the packets
    completing in the window, -1 if none.
    """
    m = ts.shape[0]
    longest = 1
    a0 = 0
    a1 = 0
    c0 = 0
    c1 = 0
    q0 = 0
    for w in range(starts.shape[0]):
        s = starts[w]
        e = s + window_ns
        a0, a1, c0, c1 = _advance(ts, completion, s, e, a0, a1, c0, c1)
        longest = max(longest, c1 - c0)
    buf = np.empty(longest, dtype=np.int64)
    counts = np.empty(2048, dtype=np.int64)
    a0 = 0
    a1 = 0
    c0 = 0
    c1 = 0
    for w in range(starts.shape[0]):
        s = starts[w]
        e = s + window_ns
        a0, a1, c0, c1 = _advance(ts, completion, s, e, a0, a1, c0, c1)
        while q0 < m and completion[q0] <= s:
            q0 += 1
        in_system, bytes_in, squares, bytes_out = window_sums(ts, size, completion, s, e, a0,
                                                              a1, q0, c0, c1)
        ints[w, 0] = a1 - a0
        ints[w, 1] = c1 - c0
        ints[w, 2] = in_system
        ints[w, 3] = bytes_in
        ints[w, 4] = bytes_out
        ints[w, 5] = squares
        n = c1 - c0
        if n == 0:
            lat_ns[w, 0] = -1
            lat_ns[w, 1] = -1
            continue
        lo = completion[c0] - ts[c0]
        hi = lo
        for x in range(c0, c1):
            v = completion[x] - ts[x]
            lo = min(lo, v)
            hi = max(hi, v)
        for rank_col in range(2):
            percent = 50 if rank_col == 0 else 95
            for x in range(c0, c1):
                buf[x - c0] = completion[x] - ts[x]
            lat_ns[w, rank_col] = kth_smallest(buf, n, (percent * n + 99) // 100, lo, hi, counts)


@njit(cache=True)
def _rtt_ewma_ns(rtt):
    """EWMA (alpha = 1/8) in ns after each sample: e1 = x1, e = e + (x - e) * 0.125."""
    out = np.empty(rtt.shape[0], dtype=np.float64)
    e = 0.0
    for i in range(rtt.shape[0]):
        x = np.float64(rtt[i])
        e = x if i == 0 else e + (x - e) * 0.125
        out[i] = e
    return out


def window_features(ts: np.ndarray, size: np.ndarray,
                    rtt_ns: np.ndarray | tuple[np.ndarray, np.ndarray],
                    completion_ns: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """float64[len(starts), 10] features in schema v1 order, from one replay of the whole trace
    (``completion_ns``, e.g. under the incumbent policy) and the raw packets. ``rtt_ns`` is
    int64 per packet (-1 = no sample) or the sparse pair (packet indices, RTT ns) of
    ``Trace.rtt_samples``."""
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    size = as_sizes(size)
    completion = np.ascontiguousarray(completion_ns, dtype=np.int64)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    n_win = starts.shape[0]
    ints = np.zeros((n_win, 6), dtype=np.int64)
    lat_ns = np.zeros((n_win, 2), dtype=np.int64)
    if n_win:
        _window_aggregates(ts, size, completion, starts, WINDOW_NS, ints, lat_ns)
    arrivals = ints[:, 0]
    X = np.zeros((n_win, FEATURE_COUNT), dtype=np.float64)
    X[:, 0] = ints[:, 2].astype(np.float64) / np.float64(WINDOW_NS)
    X[:, 1] = arrivals.astype(np.float64) * PER_SECOND
    X[:, 2] = ints[:, 1].astype(np.float64) * PER_SECOND
    has_lat = lat_ns[:, 0] >= 0
    X[has_lat, 3] = lat_ns[has_lat, 0].astype(np.float64) / 1000.0
    X[has_lat, 4] = lat_ns[has_lat, 1].astype(np.float64) / 1000.0
    X[:, 5] = ints[:, 3].astype(np.float64) * PER_SECOND
    X[:, 6] = ints[:, 4].astype(np.float64) * PER_SECOND
    nonempty = arrivals > 0
    X[nonempty, 7] = ints[nonempty, 3].astype(np.float64) / arrivals[nonempty].astype(np.float64)
    for w in np.flatnonzero(nonempty).tolist():
        n, total, squares = int(arrivals[w]), int(ints[w, 3]), int(ints[w, 5])
        X[w, 8] = (n * squares - total * total) / (n * n)  # exact rational, rounded once
    if isinstance(rtt_ns, tuple):
        at = np.asarray(rtt_ns[0], dtype=np.int64)
        values = np.ascontiguousarray(rtt_ns[1], dtype=np.int64)
    else:
        rtt = np.asarray(rtt_ns, dtype=np.int64)
        at = np.flatnonzero(rtt >= 0)
        values = np.ascontiguousarray(rtt[at])
    if n_win and at.shape[0]:
        sample_ts = ts[at]
        ewma = _rtt_ewma_ns(values)
        last = np.searchsorted(sample_ts, starts + WINDOW_NS, side="left") - 1
        seen = last >= 0
        X[seen, 9] = ewma[last[seen]] / 1000.0
    return X
