"""``reflex-forge convert IN -o OUT``: any supported telemetry -> Telemetry v1 CSV or Parquet.

What is written is exactly the trace the other commands would see with the same telemetry
options (spec/telemetry.md 5.5), so a user can look at it.
"""

from __future__ import annotations

import argparse
import sys

from reflexforge.commands import COMMANDS
from reflexforge.commands.options import (
    add_quiet_option,
    add_telemetry_options,
    description,
    read_input_trace,
    shown,
)
from reflexforge.commands.paths import check_distinct_paths, check_output_path

FORMAT_CHOICES = ("csv", "csv.gz", "parquet")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help=COMMANDS["convert"],
        description=description(__doc__),
    )
    parser.add_argument("input", metavar="IN",
                        help="telemetry file: CSV, Parquet, pcap or pcapng, optionally gzip or "
                        "zstd (recognised by content)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="file to write: Parquet if it ends in .parquet, gzip CSV if .gz, "
                        "else CSV")
    parser.add_argument("--to", choices=FORMAT_CHOICES, default=None,
                        help="output format, overriding the name of OUT")
    add_telemetry_options(parser)
    add_quiet_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reflexforge.ingest.write import write_trace

    check_distinct_paths({"IN": args.input}, {"-o": args.output})
    if args.to is None:
        check_convert_suffix(args.output)
    target = check_output_path(args.output)
    trace = read_input_trace(args, args.input)
    write_trace(trace, target, args.to)
    if not args.quiet:
        samples = trace.rtt_samples[0].shape[0]
        print(shown(f"{args.output}: {trace.rows} rows, {samples} RTT samples, "
                    f"{trace.duration_ns / 1e9:.3f} s"), file=sys.stderr)
    return 0


def check_convert_suffix(output: str) -> None:
    """E_USAGE if the name of OUT says a format convert does not write (a capture, zstd, a
    compressed Parquet file): it writes CSV, gzip CSV (.gz) or Parquet (.parquet, .pq) as
    the name says, or what --to says."""
    from reflexforge.errors import E_USAGE, ForgeError
    from reflexforge.ingest.sniff import CSV, GZIP, PARQUET, named_format

    container, compression, suffix = named_format(output)
    if (container not in (None, CSV, PARQUET) or compression not in (None, GZIP)
            or (container == PARQUET and compression is not None)):
        raise ForgeError(E_USAGE, f"convert writes CSV (.csv), gzip CSV (.csv.gz, .gz) or "
                         f"Parquet (.parquet, .pq), not {suffix}; name the output so, or "
                         f"give --to", path=output)
