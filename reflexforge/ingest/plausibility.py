"""Plausibility warnings for a trace that reads fine but looks wrong (spec/telemetry.md 7).

Each warning is one line ``W_NAME: message`` with a stable name; they never stop a command
(``reflex-forge check`` counts them as problems). The usual cause is the unit of ts_ns.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from reflexforge.config import SECOND_NS, WINDOW_NS
from reflexforge.ingest.scan import DEFAULT_LINK_BPS, LINK_WAIT_NS, Scan, scan
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
    """What ``shape_of`` found: the figures of W_SIZE_UNIT, W_RTT_UNIT and W_SPARSE."""

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
    found = scan(trace.ts_ns, trace.size, zero_mtu=mtu, link_bps=link_bps)
    return warnings_from(trace.rows, trace.duration_ns, found.total_bytes, found.zero_gaps,
                         link_bps, queue_of(found),
                         shape_of(found, trace.rtt_samples[1] if own_rtt else None))


def shape_of(found: Scan, rtt: np.ndarray | None) -> Shape:
    """``scan``'s sizes, windows and gaps, and the RTT median (``rtt``: the samples in row
    order, None or fewer than RTT_MIN_SAMPLES: not checked)."""
    rtt_median, samples = -1, 0
    if rtt is not None:
        head = rtt[:RTT_SAMPLE]
        head = head[head >= 0]
        samples = int(head.shape[0])
        if samples >= RTT_MIN_SAMPLES:
            rtt_median = int(np.partition(head, (samples - 1) // 2)[(samples - 1) // 2])
    return Shape(found.median_size, found.windows, found.busy_windows, found.largest_gap_ns,
                 rtt_median, samples)


def queue_of(found: Scan) -> LinkQueue:
    """``scan``'s figures of the link's queue."""
    return LinkQueue(found.link_packets, found.link_peak_ns, found.link_peak_at_ns)


def link_queue(ts: np.ndarray, size: np.ndarray, link_bps: int | None = None) -> LinkQueue:
    """The link alone (``link_bps``, default DEFAULT_LINK_BPS) as a fluid queue over the
    runtime's 100 ms steps (counted from the first packet): the packets of the steps that end
    with a backlog longer than LINK_WAIT_NS, and the longest backlog (``scan``)."""
    return queue_of(scan(ts, size, link_bps=link_bps))


def caplen_warning(records: int, first_offset: int) -> list[str]:
    """W_CAPLEN for capture records whose captured length is above their original length."""
    if not records:
        return []
    return [f"{W_CAPLEN}: {records} records have a captured length above their original "
            f"(wire) length (the first at byte offset {first_offset}): inconsistent record "
            "headers; bytes is the original length, which may be too small"]


def shape_warnings(packets: int, span_ns: int, shape: Shape) -> list[str]:
    """W_SIZE_UNIT, W_RTT_UNIT and W_SPARSE from ``shape_of``'s figures."""
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


def warnings_from(packets: int, span_ns: int, total_bytes: int, zero_gaps: int,
                  link_bps: int | None = None,
                  queue: LinkQueue | None = None, shape: Shape | None = None) -> list[str]:
    """The warnings from a trace's figures: packets, span, bytes, packets at the same ts_ns
    as the one before, ``queue_of`` and ``shape_of``."""
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
