"""How telemetry is read (spec/telemetry.md 6): ``IngestOptions``, its limits and defaults, and
the command-line options that make one. Nothing here imports numpy or numba, so that a
command's ``--help`` does not."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from reflexforge.errors import E_USAGE, ForgeError

SPLIT, CLAMP, ERROR = "split", "clamp", "error"
OVERSIZE_MODES = (SPLIT, CLAMP, ERROR)
MODE_CODE = {ERROR: 0, CLAMP: 1, SPLIT: 2}
"""--oversize as the compiled loops take it (``as_read``'s ``mode``)."""

DEFAULT_REORDER_WINDOW_NS = 250_000_000
"""250 ms for captures (spec/telemetry.md 6.1): single-interface captures stepped back by up
to 7.3 ms (multi-CPU capture), a two-interface pcapng written by dumpcap by up to 89.6 ms
(interfaces flushed in turn); CSV and Parquet telemetry default to 0 (strict)."""
DEFAULT_MTU = 1500
"""The largest packet after split/clamp: the synthetic traces' full-size packet."""
MAX_REORDER_WINDOW_NS = 10_000_000_000
MIN_MTU, MAX_MTU = 64, 65535
RTT_MODES = ("tcp",)


@dataclass(frozen=True)
class IngestOptions:
    """How a telemetry file is read. None = the format's default (spec 6)."""

    reorder_window_ns: int | None = None
    oversize: str | None = None
    mtu: int = DEFAULT_MTU
    bpf: str | None = None
    rtt: str | None = None

    def __post_init__(self) -> None:
        w = self.reorder_window_ns
        if w is not None and not 0 <= w <= MAX_REORDER_WINDOW_NS:
            raise ForgeError(E_USAGE, f"--reorder-window must be in 0..10 s, got {w} ns")
        if self.oversize is not None and self.oversize not in OVERSIZE_MODES:
            raise ForgeError(E_USAGE, f"--oversize must be one of {', '.join(OVERSIZE_MODES)}")
        if not MIN_MTU <= self.mtu <= MAX_MTU:
            raise ForgeError(E_USAGE, f"--mtu must be in {MIN_MTU}..{MAX_MTU}, got {self.mtu}")
        if self.rtt is not None and self.rtt not in RTT_MODES:
            raise ForgeError(E_USAGE, f"--rtt must be one of {', '.join(RTT_MODES)}")

    def window_for(self, capture: bool) -> int:
        if self.reorder_window_ns is not None:
            return self.reorder_window_ns
        return DEFAULT_REORDER_WINDOW_NS if capture else 0

    def oversize_for(self, capture: bool) -> str:
        if self.oversize is not None:
            return self.oversize
        return SPLIT if capture else ERROR


def add_ingest_arguments(group, duration_type, int_range) -> None:
    """Declare --reorder-window, --oversize, --mtu, --filter, --rtt on an argparse group."""
    group.add_argument(
        "--reorder-window", type=duration_type, default=None, metavar="TIME",
        help="put rows that step back in time by up to TIME (e.g. 10ms) back in order; a "
        f"larger step is E_CSV_ORDER (default {DEFAULT_REORDER_WINDOW_NS // 1_000_000}ms for "
        "captures, 0 for CSV/Parquet)")
    group.add_argument(
        "--oversize", choices=OVERSIZE_MODES, default=None,
        help="packets above --mtu: split into MTU-sized packets at the same time, clamp to "
        "--mtu, or error (only above 65535 B) (default split for captures, error for "
        "CSV/Parquet)")
    group.add_argument(
        "--mtu", type=int_range(MIN_MTU, MAX_MTU), default=DEFAULT_MTU, metavar="BYTES",
        help=f"largest packet after split/clamp, {MIN_MTU}..{MAX_MTU} (default {DEFAULT_MTU})")
    group.add_argument(
        "--filter", dest="bpf", default=None, metavar="EXPR",
        help="captures only: keep the packets matching this BPF expression, e.g. "
        "'dst port 6379' (libpcap syntax)")
    group.add_argument(
        "--rtt", choices=RTT_MODES, default=None,
        help="captures only: RTT samples from TCP data/ACK matching (Karn's rule)")


def ingest_options_from_args(args: argparse.Namespace) -> IngestOptions:
    """The ``IngestOptions`` of a parsed command line (defaults where not given)."""
    return IngestOptions(
        reorder_window_ns=getattr(args, "reorder_window", None),
        oversize=getattr(args, "oversize", None),
        mtu=getattr(args, "mtu", DEFAULT_MTU),
        bpf=getattr(args, "bpf", None),
        rtt=getattr(args, "rtt", None),
    )
