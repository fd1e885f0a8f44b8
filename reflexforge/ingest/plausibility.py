"""Plausibility warnings for a trace that reads fine but looks wrong (spec/telemetry.md 7).

Each warning is one line ``W_NAME: message`` with a stable name; they never stop a command
(``reflex-forge check`` counts them as problems). The usual cause is the unit of ts_ns.
"""

from __future__ import annotations

import numpy as np

from reflexforge.telemetry import Trace

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


def warnings_for(trace: Trace, link_bps: int | None = None, split_rows: int = 0) -> list[str]:
    """The plausibility warnings of a trace, each ``W_NAME: message``. ``split_rows``: rows
    added by ``--oversize split`` (their zero gaps are not the input's)."""
    link = link_bps or DEFAULT_LINK_BPS
    out = []
    span = trace.duration_ns
    rows = trace.rows
    if rows >= SPAN_ROWS and span < SPAN_NS:
        out.append(f"{W_SPAN}: {rows} packets within {span / 1e9:.3g} s: ts_ns is probably "
                   "not in nanoseconds (microseconds: multiply by 1000; seconds: by 1e9)")
    if span > 0:
        bits = float(np.sum(trace.size, dtype=np.int64)) * 8
        rate = bits * 1e9 / span
        if rate > link:
            out.append(f"{W_RATE}: mean rate {rate / 1e9:.3g} Gb/s is above the link "
                       f"({link / 1e9:.3g} Gb/s, --link-bps): the batcher could never keep up; "
                       "is ts_ns in nanoseconds?")
    if rows >= ZERO_GAP_MIN_ROWS:
        zero = int(np.count_nonzero(trace.ts_ns[1:] == trace.ts_ns[:-1])) - split_rows
        packets = rows - split_rows
        if zero > ZERO_GAP_SHARE * (packets - 1):
            out.append(f"{W_ZERO_GAP}: {zero / (packets - 1):.1%} of packets have the same ts_ns "
                       "as the previous one: timestamps coarser than the batching delays "
                       "(check their resolution and unit)")
    return out
