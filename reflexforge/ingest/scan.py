"""One compiled pass over a trace's rows (spec/telemetry.md 7, 8).

It counts what ``check`` reports (steps back in time, records above the MTU, values above
65535) and gathers every figure of the plausibility warnings: packets at the same ts_ns as
the one before, span, bytes, the link's fluid queue over the 100 ms steps, the packet sizes
as read, the 200 ms windows that hold a packet and the largest gap. The reader (through
``plausibility.warnings_for``) and ``check`` both use it, so a 10 M-row trace is walked
once for all of them. ``Scanner`` takes the rows in pieces: ``check`` of a Parquet file
feeds each row group as decoded, the reader's value checks in the same pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from reflexforge.config import GRID_D_US, SECOND_NS, STEP_NS, WINDOW_NS
from reflexforge.ingest.options import ERROR, MODE_CODE
from reflexforge.ingest.records import as_read

PLACES = 3
"""Places kept of the rows that step back beyond the window, and of values above 65535."""
DEFAULT_LINK_BPS = 10_000_000_000
LINK_WAIT_NS = max(GRID_D_US) * 1000
"""The largest max_batch_delay of the grid: a longer wait behind the link is not batching."""
NO_WINDOW = 1 << 62
"""``window`` that counts no step back as beyond it."""

_LINK_PEAK, _LINK_PEAK_AT = 13, 14
"""Where the pass stores the link's peak and its step (in Scan's order)."""
_FIGURES = 19
"""A Scanner's state holds Scan's figures first (in its order), then the running values:"""
(_ROWS, _T0, _TOP, _PREV, _LAST, _QUEUE, _STEP, _BITS, _IN_STEP, _LAST_K, _READ_ROWS, _W_LO,
 _S_LO) = range(_FIGURES, _FIGURES + 13)
_STATE = _FIGURES + 13


class Scan(NamedTuple):
    """What one pass found; sizes, bytes and rows count each row as the rows ``--oversize``
    makes of it where said."""

    beyond: int  # rows more than ``window`` before the latest ts_ns so far
    within: int  # rows before it by at most ``window`` (reordered by the readers)
    largest_back_ns: int  # the largest of those steps back
    big: int  # rows above mtu
    rows_added: int  # rows a split would add
    clamped: int  # bytes a clamp would cut
    largest: int  # the largest bytes value
    over: int  # values above 65535
    zero_gaps: int  # rows at the ts_ns before, except after a piece of zero_mtu bytes
    t_min: int  # the smallest and largest ts_ns in 0 .. 2^62 (t_max -1: none)
    t_max: int
    total_bytes: int  # as in the file
    link_packets: int  # packets (as read) of the steps whose backlog waits longer than LINK_WAIT_NS
    link_peak_ns: int  # the longest backlog, in time to send it
    link_peak_at_ns: int  # the step it ends, from the first row
    median_size: int  # lower median of the sizes as read
    windows: int  # 200 ms windows from t_min to t_max
    busy_windows: int  # those holding a row (counted from the first row's window)
    largest_gap_ns: int  # between consecutive rows
    first_beyond: np.ndarray  # (PLACES, 2): row index and step back, -1 past the count
    first_over: np.ndarray  # (PLACES, 2): row index, -1 past the count


@njit(cache=True, nogil=True)
def _feed(ts, size, st, counts, beyond, over, p, bounds, out_ts, out_size):
    """Rows ts, size after the st[_ROWS] rows already fed; p: (window, mtu, mode, zero_mtu,
    capacity, longer), capacity the bits the link sends in one step, longer a backlog of
    more bits waits longer than LINK_WAIT_NS; bounds: None or (ts lo, ts hi, size lo, size
    hi). Returns the index of the first row outside the bounds (the state is then of no
    use), -1 if none. Rows are copied to out_ts, out_size (from row st[_ROWS]) unless those
    are None. None compiles the work out: the plain pass pays nothing for it. The counters
    are locals (registers), loaded and stored once."""
    n = ts.shape[0]
    if n == 0:
        return -1
    window, mtu, mode, zero_mtu, capacity, longer = p[0], p[1], p[2], p[3], p[4], p[5]
    t_lo = t_hi = b_lo = b_hi = 0
    if bounds is not None:
        t_lo, t_hi, b_lo, b_hi = bounds[0], bounds[1], bounds[2], bounds[3]
    if st[_ROWS] == 0:  # the first row: no step back, gap or zero gap before it
        first = np.int64(ts[0])
        st[_T0] = st[_TOP] = st[_PREV] = first
        st[_LAST] = zero_mtu
        st[_W_LO] = st[_S_LO] = first + WINDOW_NS  # beyond it: it computes its own
    n_beyond, n_within, largest_back, big = st[0], st[1], st[2], st[3]
    added, clamped, largest, n_over, zero = st[4], st[5], st[6], st[7], st[8]
    t_min, t_max, total, link_packets, peak, peak_at = st[9], st[10], st[11], st[12], st[13], st[14]
    busy, gap = st[17], st[18]
    t0, top, prev, last = st[_T0], st[_TOP], st[_PREV], st[_LAST]
    queue, step = st[_QUEUE], st[_STEP]
    bits, in_step, last_k, read_rows = st[_BITS], st[_IN_STEP], st[_LAST_K], st[_READ_ROWS]
    w_lo, s_lo = st[_W_LO], st[_S_LO]
    outside = 0
    at = st[_ROWS]
    for i in range(n):
        t = np.int64(ts[i])
        b = np.int64(size[i])
        if bounds is not None:
            outside += (t < t_lo) + (t > t_hi) + (b < b_lo) + (b > b_hi)  # no branch
        if out_ts is not None:
            out_ts[at + i] = t
            out_size[at + i] = b
        if t < top:
            back = top - t
            if back > window:
                if n_beyond < PLACES:
                    beyond[n_beyond, 0] = at + i
                    beyond[n_beyond, 1] = back
                n_beyond += 1
            else:
                n_within += 1
                largest_back = max(largest_back, back)
        else:
            top = t
        if t == prev and last != zero_mtu:
            zero += 1
        gap = max(gap, t - prev)
        prev = t
        if 0 < mtu < b:
            big += 1
            added += (b + mtu - 1) // mtu - 1
            clamped += b - mtu
        largest = max(largest, b)
        if b > 65535:
            if n_over < PLACES:
                over[n_over, 0] = at + i
            n_over += 1
        if 0 <= t <= (1 << 62):
            t_min = min(t_min, t)
            t_max = max(t_max, t)
        total += b
        pieces, kept, last = as_read(b, mode, mtu)
        # the 200 ms windows holding a row (a division only when a row leaves its window)
        if t < w_lo or t >= w_lo + WINDOW_NS:
            k = (t - t0) // WINDOW_NS
            w_lo = t0 + k * WINDOW_NS
            if k != last_k:
                busy += 1
                last_k = k
        # the sizes as read, for their median
        counts[min(last, 65535)] += 1
        if pieces > 1:
            counts[min(mtu, 65535)] += pieces - 1
        read_rows += pieces
        # the link as a fluid queue over the 100 ms steps
        if t < s_lo or t >= s_lo + STEP_NS:
            k = (t - t0) // STEP_NS
            s_lo = t0 + k * STEP_NS
        else:
            k = step
        if k != step:
            queue = max(0, queue + bits - capacity)
            if queue > longer:
                link_packets += in_step
            if queue > peak:
                peak, peak_at = queue, step
            idle = k - step - 1  # empty steps drain it (compared, not multiplied: years
            if idle > 0 and queue > 0:  # of empty steps times C would overflow int64)
                queue = 0 if capacity > 0 and idle > queue // capacity else queue - idle * capacity
            step, bits, in_step = k, 0, 0
        bits += kept * 8
        in_step += pieces
    for j, v in enumerate((n_beyond, n_within, largest_back, big, added, clamped, largest,
                           n_over, zero, t_min, t_max, total, link_packets, peak, peak_at)):
        st[j] = v
    st[17], st[18] = busy, gap
    st[_TOP], st[_PREV], st[_LAST], st[_QUEUE], st[_STEP] = top, prev, last, queue, step
    st[_BITS], st[_IN_STEP], st[_LAST_K], st[_READ_ROWS] = bits, in_step, last_k, read_rows
    st[_W_LO], st[_S_LO] = w_lo, s_lo
    st[_ROWS] += n
    if outside:
        for i in range(n):
            if not (t_lo <= np.int64(ts[i]) <= t_hi and b_lo <= np.int64(size[i]) <= b_hi):
                return i
    return -1


@njit(cache=True, nogil=True)
def _figures(st, counts, capacity, longer):
    """Scan's figures (int64[_FIGURES]) once every row is fed: the last step's backlog, the
    median, the windows."""
    s = st[:_FIGURES].copy()
    if st[_ROWS] == 0:
        return s
    queue = max(0, st[_QUEUE] + st[_BITS] - capacity)
    if queue > longer:
        s[12] += st[_IN_STEP]
    if queue > s[13]:
        s[13], s[14] = queue, st[_STEP]
    half, seen = (st[_READ_ROWS] + 1) // 2, 0
    for v in range(65536):
        seen += counts[v]
        if seen >= half:
            s[15] = v
            break
    s[16] = (s[10] - s[9]) // WINDOW_NS + 1 if s[10] >= s[9] else 0
    return s


class Scanner:
    """The pass fed in pieces (a reader's row groups), as if over all rows at once."""

    def __init__(self, *, window: int = NO_WINDOW, mtu: int = 0, oversize: str = ERROR,
                 zero_mtu: int | None = None, link_bps: int | None = None) -> None:
        self.link = link_bps or DEFAULT_LINK_BPS
        self.params = np.array([window, mtu, MODE_CODE[oversize],
                                -1 if zero_mtu is None else zero_mtu,
                                self.link * STEP_NS // SECOND_NS,
                                self.link * LINK_WAIT_NS // SECOND_NS], np.int64)
        self.state = np.zeros(_STATE, np.int64)
        self.state[9], self.state[10], self.state[_LAST_K] = 1 << 62, -1, -1  # none yet
        self.counts = np.zeros(65536, np.int64)
        self.beyond = np.full((PLACES, 2), -1, np.int64)
        self.over = np.full((PLACES, 2), -1, np.int64)

    @property
    def rows(self) -> int:
        return int(self.state[_ROWS])

    def feed(self, ts: np.ndarray, size: np.ndarray,
             bounds: tuple[int, int, int, int] | None = None,
             into: tuple[np.ndarray, np.ndarray] | None = None) -> int:
        """Take the next rows; -1, or the index in them of the first row outside ``bounds``
        (ts lo, ts hi, size lo, size hi): the figures are then of no use. ``into``: int64 and
        SIZE_DTYPE arrays the rows are copied to, from index ``rows`` (sizes within bounds
        that fit SIZE_DTYPE)."""
        out_ts, out_size = (None, None) if into is None else into
        if into is not None and min(a.shape[0] for a in into) < self.rows + ts.shape[0]:
            raise ValueError("no room for the rows in the arrays to copy them to")
        return int(_feed(ts, size, self.state, self.counts, self.beyond, self.over,
                         self.params, None if bounds is None else np.array(bounds, np.int64),
                         out_ts, out_size))

    def result(self) -> Scan:
        """The figures of every row fed."""
        v = [int(x) for x in _figures(self.state, self.counts, self.params[4], self.params[5])]
        v[_LINK_PEAK] = v[_LINK_PEAK] * SECOND_NS // self.link
        v[_LINK_PEAK_AT] *= STEP_NS
        return Scan(*v, self.beyond, self.over)


def scan(ts: np.ndarray, size: np.ndarray, *, window: int = NO_WINDOW, mtu: int = 0,
         oversize: str = ERROR, zero_mtu: int | None = None,
         link_bps: int | None = None) -> Scan:
    """One pass over rows (ts_ns, bytes) in file order. ``window``: a step back by more is
    counted beyond it; ``mtu`` and ``oversize``: what a record above the MTU becomes
    (``as_read``; the default keeps rows as they are); ``zero_mtu``: a row at the ts_ns of
    the row before is not counted after a piece of exactly that many bytes (a split
    segment, spec 6.2); ``link_bps``: the link rate (default DEFAULT_LINK_BPS). Figures from
    the first row (link steps, windows) assume time order: a row out of order starts a new
    step or counts its window twice, so those may be low or high for an unordered file."""
    scanner = Scanner(window=window, mtu=mtu, oversize=oversize, zero_mtu=zero_mtu,
                      link_bps=link_bps)
    scanner.feed(ts, size)
    return scanner.result()
