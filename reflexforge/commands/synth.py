"""``reflex-forge synth``: write a synthetic Telemetry v1 trace.

The profiles are those of spec/telemetry.md section 4.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

from reflexforge.commands import COMMANDS
from reflexforge.commands.argtypes import non_negative_int, positive_float
from reflexforge.commands.options import add_quiet_option, progress_enabled, shown
from reflexforge.commands.paths import STDOUT_NAME, check_output_path
from reflexforge.config import SYNTH_PROFILES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help=COMMANDS["synth"],
        description="Synthesize a Telemetry v1 trace, deterministic per seed. "
        "Writes CSV, gzip CSV if OUTPUT ends in .gz.",
    )
    parser.add_argument(
        "--profile",
        choices=SYNTH_PROFILES,
        default="mixed",
        help="load profile (default mixed: short segments of the base profiles; diurnal: "
        "1-4 minute regimes of quiet, busy and bursty load)",
    )
    parser.add_argument(
        "--duration",
        type=positive_float,
        default=600.0,
        metavar="SECONDS",
        help="trace length in seconds (default 600)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="K", help="random seed (default 0)"
    )
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=None,
        metavar="PKTS_PER_S",
        help="mean packet rate (default 15000)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="file to write; - writes the CSV to stdout")
    add_quiet_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reflexforge.errors import ForgeError
    from reflexforge.progress import progress_bar
    from reflexforge.synth import check_args, pieces, synthesize

    rate = args.rate
    check_args(args.profile, args.duration, 15_000.0 if rate is None else rate)
    to_stdout = args.output == STDOUT_NAME
    if not to_stdout:
        check_output_path(args.output)
        check_synth_suffix(args.output)
    total = pieces(args.profile, args.duration, args.seed, rate)
    # stdout gets the finished trace only (written to a scratch file first): a failed run
    # writes nothing to it.
    scratch = tempfile.TemporaryDirectory(prefix="reflex-synth-") if to_stdout \
        else contextlib.nullcontext()
    with progress_bar(total, "synth", progress_enabled(args)) as bar, scratch as directory:
        path = Path(directory) / "telemetry.csv" if to_stdout else Path(args.output)
        try:
            stats = synthesize(path, args.profile, args.duration, args.seed, rate, progress=bar)
        except ForgeError as exc:  # not the scratch file's name: the program's (spec 2)
            if not to_stdout:
                raise
            raise ForgeError(exc.code, exc.message) from None
        if to_stdout:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
            sys.stdout.buffer.flush()
    if not args.quiet:
        print(
            shown(f"{'stdout' if to_stdout else args.output}: {stats.rows} packets, "
                  f"{stats.rtt_samples} rtt samples, "
                  f"{stats.duration_ns / 1e9:g} s, profile {args.profile}, seed {args.seed}"),
            file=sys.stderr,
        )
    return 0


def check_synth_suffix(output: str) -> None:
    """E_USAGE if the name of OUTPUT says a format synth does not write (Parquet, a capture,
    zstd): it writes CSV, gzip CSV if the name ends in .gz."""
    from reflexforge.errors import E_USAGE, ForgeError
    from reflexforge.ingest.sniff import CSV, GZIP, named_format

    container, compression, suffix = named_format(output)
    if container not in (None, CSV) or compression not in (None, GZIP):
        raise ForgeError(E_USAGE, f"synth writes CSV (.csv) or gzip CSV (.csv.gz, .gz), not "
                         f"{suffix}; write CSV and use convert for another format",
                         path=output)
