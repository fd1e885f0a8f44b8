"""Plausibility warnings for a trace that reads fine but looks wrong (spec/telemetry.md 7).

Each warning is one line ``W_NAME: message`` with a stable name; they never stop a command
(``reflex-forge check`` counts them as problems). The usual cause is the unit of ts_ns.
"""

from __future__ import annotations

import numpy as np

from reflexforge.trace import Trace

W_RATE = "W_RATE"
W_SPAN = "W_SPAN"
W_ZERO_GAP = "W_ZERO_GAP"
WARNINGS = (W_RATE, W_SPAN, W_ZERO_GAP)
SPAN_ROWS = 1_000_000
"""A trace of at least this many packets ..."""
SPAN_NS = 1_000_000_000
"""... over less than this span is almost surely not in nanoseconds."""
ZERO_GAP_SHARE = 0.05
"""More than this share of packets at the same ts_ns as the previous one: timestamps
coarser than the delays the oracle chooses between (50 us .. 4 ms)."""
ZERO_GAP_MIN_ROWS = 1000
DEFAULT_LINK_BPS = 10_000_000_000


def warnings_for(trace: Trace, link_bps: int | None = None, mtu: int | None = None) -> list[str]:
    """The plausibility warnings of a trace, each ``W_NAME: message``."""
    return warnings_from(trace.rows, trace.duration_ns, int(np.sum(trace.size, dtype=np.int64)),
                         zero_gaps(trace.ts_ns, trace.size, mtu), link_bps)


def zero_gaps(ts: np.ndarray, size: np.ndarray, mtu: int | None) -> int:
    """Rows at the same ts_ns as the row before, except after a row of exactly ``mtu`` bytes
    (a piece of a split segment, spec 6.2)."""
    same = ts[1:] == ts[:-1]
    if mtu is not None:
        same &= size[:-1] != mtu
    return int(np.count_nonzero(same))


def warnings_from(packets: int, span_ns: int, total_bytes: int, zero_gaps: int,
                  link_bps: int | None = None) -> list[str]:
    """The warnings from a trace's figures: packets, span, bytes, packets at the same ts_ns
    as the one before."""
    link = link_bps or DEFAULT_LINK_BPS
    out = []
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
    if packets >= ZERO_GAP_MIN_ROWS and zero_gaps > ZERO_GAP_SHARE * (packets - 1):
        out.append(f"{W_ZERO_GAP}: {zero_gaps / (packets - 1):.1%} of packets have the same "
                   "ts_ns as the previous one: timestamps coarser than the batching delays "
                   "(check their resolution and unit)")
    return out
