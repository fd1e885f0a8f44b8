"""``reflex-forge check FILE...``: every problem of telemetry files in one pass.

For each file: the problems counted per code with their first places, the plausibility
warnings, and what the telemetry options would adjust (spec/telemetry.md 8). Exit 0 when
every file is clean, 1 when any has a problem, 2 when any cannot be read.
"""

from __future__ import annotations

import argparse

from reflexforge.commands import COMMANDS
from reflexforge.commands.argtypes import link_bps_value
from reflexforge.commands.options import add_telemetry_options, description


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help=COMMANDS["check"],
        description=description(__doc__),
    )
    parser.add_argument("files", metavar="FILE", nargs="+",
                        help="telemetry: CSV, Parquet, pcap or pcapng, optionally gzip or zstd")
    parser.add_argument("--link-bps", type=link_bps_value, default=None, metavar="BPS",
                        help="link rate for the rate warning (default 10000000000)")
    add_telemetry_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reflexforge.commands.options import shown
    from reflexforge.ingest.check import check_file
    from reflexforge.ingest.options import ingest_options_from_args

    options = ingest_options_from_args(args)
    status = 0
    for path in args.files:
        found = check_file(path, options, args.link_bps)
        for line in found.lines():
            print(shown(line))
        status = max(status, 2 if found.fatal is not None else 1 if found.problems else 0)
    return status
