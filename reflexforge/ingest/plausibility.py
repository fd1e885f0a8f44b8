"""Plausibility warnings for a trace that reads fine but looks wrong (spec/telemetry.md 7).

Each warning is one line ``W_NAME: message`` with a stable name; they never stop a command
(``reflex-forge check`` counts them as problems). The usual cause is the unit of ts_ns.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from reflexforge.config import GRID_D_US, SECOND_NS, STEP_NS
from reflexforge.ingest.records import ERROR, MODE_CODE, as_read
from reflexforge.trace import Trace

W_RATE = "W_RATE"
W_OVERLOAD = "W_OVERLOAD"
W_SPAN = "W_SPAN"
W_ZERO_GAP = "W_ZERO_GAP"
WARNINGS = (W_RATE, W_OVERLOAD, W_SPAN, W_ZERO_GAP)
SPAN_ROWS = 1_000_000
"""A trace of at least this many packets ..."""
SPAN_NS = SECOND_NS
"""... over less than this span is almost surely not in nanoseconds."""
ZERO_GAP_SHARE = 0.05
"""More than this share of packets at the same ts_ns as the previous one: timestamps
coarser than the delays the oracle chooses between (50 us .. 4 ms)."""
ZERO_GAP_MIN_ROWS = 1000
OVERLOAD_SHARE = 0.05
"""W_OVERLOAD when at least this share of packets (the share above a p95) wait behind the
link's own queue longer than LINK_WAIT_NS."""
LINK_WAIT_NS = max(GRID_D_US) * 1000
"""The largest max_batch_delay of the grid: a longer wait behind the link is not batching."""
DEFAULT_LINK_BPS = 10_000_000_000


class LinkQueue(NamedTuple):
    """What ``link_queue`` found."""

    packets: int  # packets of the steps whose backlog waits longer than LINK_WAIT_NS
    peak_ns: int  # the longest backlog, in time to send it
    peak_at_ns: int  # the step it ends, from the first packet


def warnings_for(trace: Trace, link_bps: int | None = None, mtu: int | None = None) -> list[str]:
    """The plausibility warnings of a trace, each ``W_NAME: message``."""
    return warnings_from(trace.rows, trace.duration_ns, int(np.sum(trace.size, dtype=np.int64)),
                         zero_gaps(trace.ts_ns, trace.size, mtu), link_bps,
                         link_queue(trace.ts_ns, trace.size, link_bps))


@njit(cache=True)
def _link_queue(ts, size, capacity, longer, mode, mtu):
    """capacity: the bits the link sends in one step; longer: a backlog of more bits waits
    longer than the threshold; each row counts as the rows and bytes ``as_read`` makes of
    it."""
    packets, queue, peak, peak_at, step, bits, in_step = 0, 0, 0, 0, 0, 0, 0
    t0 = ts[0] if ts.shape[0] else 0
    for i in range(ts.shape[0] + 1):
        k = (ts[i] - t0) // STEP_NS if i < ts.shape[0] else step + 1
        if k != step:
            queue = max(0, queue + bits - capacity)
            if queue > longer:
                packets += in_step
            if queue > peak:
                peak, peak_at = queue, step
            queue = max(0, queue - max(0, k - step - 1) * capacity)  # empty steps drain it
            step, bits, in_step = k, 0, 0
        if i < ts.shape[0]:
            rows, kept, _ = as_read(np.int64(size[i]), mode, mtu)
            bits += kept * 8
            in_step += rows
    return packets, peak, peak_at


def link_queue(ts: np.ndarray, size: np.ndarray, link_bps: int | None = None,
               oversize: str = ERROR, mtu: int = 0) -> LinkQueue:
    """The link alone (``link_bps``, default DEFAULT_LINK_BPS) as a fluid queue over the
    runtime's 100 ms steps (counted from the first packet): the packets of the steps that end
    with a backlog longer than LINK_WAIT_NS, and the longest backlog. One pass, no
    allocation; rows in time order (a row out of order starts a new step, so the figures may
    be low). ``oversize`` and ``mtu`` count each row as the packets ``--oversize`` makes of
    it (the default keeps rows as they are), so `check` gives a capture's figures as its
    readers will."""
    link = link_bps or DEFAULT_LINK_BPS
    packets, peak, at = _link_queue(ts, size, link * STEP_NS // SECOND_NS,
                                    link * LINK_WAIT_NS // SECOND_NS, MODE_CODE[oversize],
                                    np.int64(mtu))
    return LinkQueue(int(packets), int(peak) * SECOND_NS // link, int(at) * STEP_NS)


def zero_gaps(ts: np.ndarray, size: np.ndarray, mtu: int | None) -> int:
    """Rows at the same ts_ns as the row before, except after a row of exactly ``mtu`` bytes
    (a piece of a split segment, spec 6.2)."""
    same = ts[1:] == ts[:-1]
    if mtu is not None:
        same &= size[:-1] != mtu
    return int(np.count_nonzero(same))


def warnings_from(packets: int, span_ns: int, total_bytes: int, zero_gaps: int,
                  link_bps: int | None = None,
                  queue: LinkQueue | None = None) -> list[str]:
    """The warnings from a trace's figures: packets, span, bytes, packets at the same ts_ns
    as the one before, and ``link_queue``."""
    link = link_bps or DEFAULT_LINK_BPS
    out = []
    rate_warned = False
    if packets >= SPAN_ROWS and span_ns < SPAN_NS:
        out.append(f"{W_SPAN}: {packets} packets within {span_ns / 1e9:.3g} s: ts_ns is "
                   "probably not in nanoseconds (microseconds: multiply by 1000; seconds: "
                   "by 1e9)")
    if span_ns > 0:
        rate = total_bytes * 8 * 1e9 / span_ns
        if rate > link:
            out.append(f"{W_RATE}: mean rate {rate / 1e9:.3g} Gb/s is above the link "
                       f"({link / 1e9:.3g} Gb/s, --link-bps): the batcher could never keep "
                       "up; is ts_ns in nanoseconds?")
            rate_warned = True
    if queue is not None and queue.packets >= OVERLOAD_SHARE * packets > 0 and not rate_warned:
        out.append(f"{W_OVERLOAD}: at {link / 1e9:.3g} Gb/s (--link-bps) the link alone makes "
                   f"{queue.packets / packets:.1%} of packets wait more than "
                   f"{LINK_WAIT_NS / 1e6:.3g} ms, the largest max_batch_delay (its backlog "
                   f"reaches {queue.peak_ns / 1e6:.4g} ms at {queue.peak_at_ns / SECOND_NS:.1f} "
                   "s): every policy's p95 is then the link's queue, not batching; if the link "
                   "is faster, give its rate with --link-bps")
    if packets >= ZERO_GAP_MIN_ROWS and zero_gaps > ZERO_GAP_SHARE * (packets - 1):
        out.append(f"{W_ZERO_GAP}: {zero_gaps / (packets - 1):.1%} of packets have the same "
                   "ts_ns as the previous one: timestamps coarser than the batching delays "
                   "(check their resolution and unit)")
    return out
