"""Plausibility warnings for a trace that reads fine but looks wrong (spec/telemetry.md 7).

Each warning is one line ``W_NAME: message`` with a stable name; they never stop a command
(``reflex-forge check`` counts them as problems). The usual cause is the unit of ts_ns.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from reflexforge.config import GRID_D_US, SECOND_NS, STEP_NS, WINDOW_NS
from reflexforge.ingest.options import ERROR, MODE_CODE
from reflexforge.ingest.records import as_read
from reflexforge.trace import Trace

W_RATE = "W_RATE"
W_OVERLOAD = "W_OVERLOAD"
W_SPAN = "W_SPAN"
W_ZERO_GAP = "W_ZERO_GAP"
W_SIZE_UNIT = "W_SIZE_UNIT"
W_RTT_UNIT = "W_RTT_UNIT"
W_SPARSE = "W_SPARSE"
W_CAPLEN = "W_CAPLEN"
WARNINGS = (W_RATE, W_OVERLOAD, W_SPAN, W_ZERO_GAP, W_SIZE_UNIT, W_RTT_UNIT, W_SPARSE, W_CAPLEN)
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
SIZE_MEDIAN_MIN = 20
"""W_SIZE_UNIT below this median packet size: no IP packet is smaller (an Ethernet frame is
at least 60 B); the synthetic traces' smallest packet is 64 B."""
SIZE_MIN_PACKETS = 100
"""... in a trace of at least this many packets (a median of a few says little)."""
RTT_MEDIAN_MIN_NS, RTT_MEDIAN_MAX_NS = 1_000, 10_000_000_000
"""W_RTT_UNIT outside 1 us .. 10 s (median RTT sample): microseconds or milliseconds taken
for ns below, picoseconds (or timestamps) above; the synthetic traces' samples are 18 us ..
5 ms."""
RTT_MIN_SAMPLES = 10
RTT_SAMPLE = 1 << 20
"""The RTT median is taken over the first this many samples (row order): bounded cost."""
SPARSE_WINDOW_SHARE = 0.10
"""W_SPARSE when fewer than this share of the 200 ms windows from the first packet to the
last hold a packet, ..."""
SPARSE_RATE = 1.0
"""... or fewer than this many packets per second over the span, ..."""
SPARSE_GAP_NS = 60 * SECOND_NS
"""... or two consecutive packets are further apart than this (one minute; no capture or
synthetic profile measured here has a gap above 4 s; the shadow gate does not count
silences over 10 s toward its 10 minutes)."""


class Shape(NamedTuple):
    """What ``trace_shape`` found: the figures of W_SIZE_UNIT, W_RTT_UNIT and W_SPARSE."""

    median_size: int  # lower median of the packet sizes as read
    windows: int  # 200 ms windows from the first packet to the last
    busy_windows: int  # those holding a packet
    largest_gap_ns: int  # between consecutive packets (rows in time order)
    median_rtt_ns: int  # lower median of the first RTT_SAMPLE RTT samples, -1: none checked
    rtt_samples: int


class LinkQueue(NamedTuple):
    """What ``link_queue`` found."""

    packets: int  # packets of the steps whose backlog waits longer than LINK_WAIT_NS
    peak_ns: int  # the longest backlog, in time to send it
    peak_at_ns: int  # the step it ends, from the first packet


def warnings_for(trace: Trace, link_bps: int | None = None, mtu: int | None = None,
                 own_rtt: bool = True) -> list[str]:
    """The plausibility warnings of a trace, each ``W_NAME: message``. ``own_rtt``: the RTT
    samples are the file's own (not derived by --rtt tcp, in ns by construction)."""
    rtt = trace.rtt_samples[1] if own_rtt else None
    return warnings_from(trace.rows, trace.duration_ns, int(np.sum(trace.size, dtype=np.int64)),
                         zero_gaps(trace.ts_ns, trace.size, mtu), link_bps,
                         link_queue(trace.ts_ns, trace.size, link_bps),
                         trace_shape(trace.ts_ns, trace.size, rtt))


@njit(cache=True, nogil=True)
def _shape(ts, size, mode, mtu):
    """(lower median size as read, windows, busy windows, largest gap) in two passes."""
    n = ts.shape[0]
    t0 = ts[0]
    t1 = ts[0]
    for i in range(n):
        t0 = min(t0, ts[i])
        t1 = max(t1, ts[i])
    counts = np.zeros(65536, np.int64)
    busy, gap, last_k, rows = 0, 0, -1, 0
    for i in range(n):
        k = (ts[i] - t0) // WINDOW_NS
        if k != last_k:
            busy += 1
            last_k = k
        if i > 0 and ts[i] - ts[i - 1] > gap:
            gap = ts[i] - ts[i - 1]
        pieces, _, last = as_read(np.int64(size[i]), mode, mtu)
        counts[min(last, 65535)] += 1
        if pieces > 1:
            counts[min(mtu, 65535)] += pieces - 1
        rows += pieces
    half, seen, median = (rows + 1) // 2, 0, 0
    for v in range(65536):
        seen += counts[v]
        if seen >= half:
            median = v
            break
    return median, (t1 - t0) // WINDOW_NS + 1, busy, gap


def trace_shape(ts: np.ndarray, size: np.ndarray, rtt: np.ndarray | None,
                oversize: str = ERROR, mtu: int = 0) -> Shape:
    """The packet sizes (each row as the rows ``--oversize`` makes of it, as ``link_queue``),
    the 200 ms windows that hold a packet (counted from the first packet; a row out of order
    may count its window twice), the largest gap, and the RTT median (``rtt``: the samples
    in row order, None or fewer than RTT_MIN_SAMPLES: not checked). Linear in the rows."""
    if ts.shape[0] == 0:
        return Shape(0, 0, 0, 0, -1, 0)
    median, windows, busy, gap = _shape(ts, size, MODE_CODE[oversize], np.int64(mtu))
    rtt_median, samples = -1, 0
    if rtt is not None:
        head = rtt[:RTT_SAMPLE]
        head = head[head >= 0]
        samples = int(head.shape[0])
        if samples >= RTT_MIN_SAMPLES:
            rtt_median = int(np.partition(head, (samples - 1) // 2)[(samples - 1) // 2])
    return Shape(int(median), int(windows), int(busy), int(gap), rtt_median, samples)


def caplen_warning(records: int, first_offset: int) -> list[str]:
    """W_CAPLEN for capture records whose captured length is above their original length."""
    if not records:
        return []
    return [f"{W_CAPLEN}: {records} records have a captured length above their original "
            f"(wire) length (the first at byte offset {first_offset}): inconsistent record "
            "headers; bytes is the original length, which may be too small"]


def shape_warnings(packets: int, span_ns: int, shape: Shape) -> list[str]:
    """W_SIZE_UNIT, W_RTT_UNIT and W_SPARSE from ``trace_shape``'s figures."""
    out = []
    if packets >= SIZE_MIN_PACKETS and shape.median_size < SIZE_MEDIAN_MIN:
        out.append(f"{W_SIZE_UNIT}: the median packet is {shape.median_size} B, below "
                   f"{SIZE_MEDIAN_MIN} B, the smallest IP packet (an Ethernet frame is at least "
                   "60 B): are the sizes in kB, or not in bytes?")
    if shape.median_rtt_ns >= 0 and not (RTT_MEDIAN_MIN_NS <= shape.median_rtt_ns
                                         <= RTT_MEDIAN_MAX_NS):
        low = shape.median_rtt_ns < RTT_MEDIAN_MIN_NS
        out.append(f"{W_RTT_UNIT}: the median RTT sample is {shape.median_rtt_ns} ns, "
                   + ("below 1 us: rtt_ns is probably in microseconds (multiply by 1000) or "
                      "milliseconds (by 10^6)" if low else
                      "above 10 s: is rtt_ns in picoseconds (divide by 1000), or a "
                      "timestamp and not an RTT?"))
    rate = packets * SECOND_NS / span_ns if span_ns > 0 else 0.0
    if span_ns >= WINDOW_NS and (shape.busy_windows < SPARSE_WINDOW_SHARE * shape.windows
                                 or rate < SPARSE_RATE
                                 or shape.largest_gap_ns > SPARSE_GAP_NS):
        out.append(f"{W_SPARSE}: {shape.busy_windows} of the {shape.windows} windows of 200 ms "
                   f"hold a packet ({shape.busy_windows / shape.windows:.2%}; {rate:.3g} "
                   f"packets/s over {span_ns / 1e9:.6g} s, the largest gap "
                   f"{shape.largest_gap_ns / 1e9:.6g} s): much of the trace is silence; cut "
                   "it, or check that the files belong together and ts_ns is in ns")
    return out


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
                  queue: LinkQueue | None = None, shape: Shape | None = None) -> list[str]:
    """The warnings from a trace's figures: packets, span, bytes, packets at the same ts_ns
    as the one before, ``link_queue`` and ``trace_shape``."""
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
    if shape is not None:
        out.extend(shape_warnings(packets, span_ns, shape))
    return out
