"""One compiled pass over a trace's rows (spec/telemetry.md 7, 8).

It counts what ``check`` reports (steps back in time, records above the MTU, values above
65535) and gathers every figure of the plausibility warnings: packets at the same ts_ns as
the one before, span, bytes, the link's fluid queue over the 100 ms steps, the packet sizes
as read, the 200 ms windows that hold a packet and the largest gap. The reader (through
``plausibility.warnings_for``) and ``check`` both use it, so a 10 M-row trace is walked
once for all of them.
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
"""Where ``_pass`` stores the link's peak and its step (in Scan's order)."""


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
def _pass(ts, size, window, mtu, mode, zero_mtu, capacity, longer):
    """capacity: the bits the link sends in one step; longer: a backlog of more bits waits
    longer than LINK_WAIT_NS. The counters are locals (registers), stored once at the end."""
    s = np.zeros(19, np.int64)
    beyond = np.full((PLACES, 2), -1, np.int64)
    over = np.full((PLACES, 2), -1, np.int64)
    counts = np.zeros(65536, np.int64)
    n = ts.shape[0]
    if n == 0:
        s[9], s[10] = 1 << 62, -1  # t_min, t_max: none
        return s, beyond, over
    n_beyond = n_within = largest_back = big = added = clamped = largest = n_over = zero = 0
    total = link_packets = peak = peak_at = busy = gap = 0
    t0 = ts[0]
    top = t0
    prev = t0
    t_min = np.int64(1 << 62)
    t_max = np.int64(-1)
    last = np.int64(0)
    queue, step, bits, in_step, last_k, read_rows = 0, 0, 0, 0, -1, 0
    w_lo = s_lo = t0 + WINDOW_NS  # beyond any first row: the first row computes its own
    for i in range(n):
        t = ts[i]
        b = np.int64(size[i])
        if i > 0:
            if t < top:
                back = top - t
                if back > window:
                    if n_beyond < PLACES:
                        beyond[n_beyond, 0] = i
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
                over[n_over, 0] = i
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
    queue = max(0, queue + bits - capacity)
    if queue > longer:
        link_packets += in_step
    if queue > peak:
        peak, peak_at = queue, step
    half, seen, median = (read_rows + 1) // 2, 0, 0
    for v in range(65536):
        seen += counts[v]
        if seen >= half:
            median = v
            break
    windows = (t_max - t_min) // WINDOW_NS + 1 if t_max >= t_min else 0
    for j, v in enumerate((n_beyond, n_within, largest_back, big, added, clamped, largest,
                           n_over, zero, t_min, t_max, total, link_packets, peak, peak_at,
                           median, windows, busy, gap)):
        s[j] = v
    return s, beyond, over


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
    link = link_bps or DEFAULT_LINK_BPS
    s, beyond, over = _pass(ts, size, np.int64(window), np.int64(mtu), MODE_CODE[oversize],
                            np.int64(-1 if zero_mtu is None else zero_mtu),
                            np.int64(link * STEP_NS // SECOND_NS),
                            np.int64(link * LINK_WAIT_NS // SECOND_NS))
    v = [int(x) for x in s]
    v[_LINK_PEAK] = v[_LINK_PEAK] * SECOND_NS // link
    v[_LINK_PEAK_AT] *= STEP_NS
    return Scan(*v, beyond, over)
