"""The command-line options of telemetry input (spec/telemetry.md 6) -> ``IngestOptions``."""

from __future__ import annotations

import argparse

from reflexforge.ingest.quirks import (
    DEFAULT_MTU,
    DEFAULT_REORDER_WINDOW_NS,
    MAX_MTU,
    MIN_MTU,
    RTT_MODES,
    IngestOptions,
)
from reflexforge.ingest.records import OVERSIZE_MODES


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
