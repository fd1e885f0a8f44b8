"""``reflex-forge label TELEMETRY -o TRAINING_SET``: features and oracle labels per window."""

from __future__ import annotations

import argparse
import sys

from reflexforge.commands import COMMANDS
from reflexforge.commands.options import (
    add_common_options,
    add_telemetry_options,
    options_from_args,
    progress_enabled,
    read_input_trace,
    shown,
)
from reflexforge.commands.paths import check_distinct_paths, check_output_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "label",
        help=COMMANDS["label"],
        description="Replay the telemetry under the incumbent for the features of every "
        "200 ms window, label each window with the oracle's best (threshold, delay) pair, and "
        "write training-set.csv.",
    )
    parser.add_argument("telemetry", metavar="TELEMETRY",
                        help="telemetry: CSV, Parquet, pcap or pcapng (gzip/zstd too)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="TRAINING_SET", help="training-set.csv to write"
    )
    add_common_options(parser)
    add_telemetry_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reflexforge.progress import progress_bar

    opts = options_from_args(args)
    check_distinct_paths({"TELEMETRY": args.telemetry}, {"-o": args.output})
    target = check_output_path(args.output)
    trace = read_input_trace(args, args.telemetry)
    from reflexforge.features import window_starts
    from reflexforge.labelling import make_training_set
    from reflexforge.trainset import write_training_set

    windows = len(window_starts(trace.ts_ns))
    with progress_bar(windows, "label", progress_enabled(args)) as bar:
        training_set, _costs = make_training_set(trace, opts, progress=bar)
    write_training_set(target, training_set)
    if not args.quiet:
        print(shown(f"{args.output}: {len(training_set)} windows labelled from {trace.rows} "
                    "packets"), file=sys.stderr)
    return 0
