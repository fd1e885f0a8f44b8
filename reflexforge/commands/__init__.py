"""``reflex-forge`` subcommands: one module per command, each exposing ``register(subparsers)``.

This package module is imported by ``reflexforge.cli`` for ``--help``, so it imports nothing."""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "synth": "synthesize a telemetry.csv with a realistic load profile",
    "label": "telemetry -> training-set.csv (features + oracle labels per window)",
    "train": "train a .reflex from a training set and its telemetry",
    "build": "telemetry -> features -> oracle labels -> trees -> .reflex",
    "demo": "synthesize, build, inspect and shadow-validate a reflex",
    "shadow": "shadow-validate a reflex on telemetry and apply the promotion gate",
    "static": "a one-leaf .reflex that always picks one pair (the gate's fallback)",
    "convert": "any telemetry (CSV, Parquet, pcap, pcapng; gzip/zstd) -> Telemetry v1 CSV or "
    "Parquet",
    "check": "report every problem of telemetry files (exit 0 clean, 1 problems, 2 unreadable)",
}
"""The one-line summary of each command in `reflex-forge --help`, in this order; each
command's register() gives its parser the same help."""

WITHOUT_NUMBA = frozenset({"synth"})
"""The commands that never load numba (so need no room for it under ``ulimit -v``)."""

WITHOUT_KERNELS = WITHOUT_NUMBA | {"static"}
"""The commands that compile no numba kernel (``static`` imports no numba unless asked to
under ``ulimit -v``)."""
