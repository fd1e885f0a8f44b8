"""``reflex-forge build TELEMETRY... -o MODEL [--training-set PATH]``: every stage in one command.

Reads the telemetry, replays it under the incumbent for the features, labels every window
with the oracle, trains, quantizes, and writes the .reflex (and, if asked, the training set).
Several telemetry files train one reflex on all of them (spec/training.md section 9).
"""

from __future__ import annotations

import argparse
import time

from reflexfmt.atomic import same_file
from reflexforge.commands import COMMANDS
from reflexforge.commands.build_report import report_build
from reflexforge.commands.modelio import dump_model
from reflexforge.commands.options import (
    add_common_options,
    add_telemetry_options,
    description,
    options_from_args,
    progress_enabled,
    read_input_trace,
)
from reflexforge.commands.paths import check_distinct_paths, check_output_path
from reflexforge.commands.staging import StagedOutputs
from reflexforge.commands.training_options import (
    add_training_options,
    training_options_from_args,
)
from reflexforge.errors import E_USAGE, ForgeError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build", help=COMMANDS["build"],
        description=description(__doc__),
    )
    parser.add_argument("telemetry", metavar="TELEMETRY", nargs="+",
                        help="telemetry: CSV, Parquet, pcap or pcapng, optionally gzip or zstd "
                        "(recognised by content); several files train one reflex on all of "
                        "them")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL",
                        help="the .reflex file to write")
    parser.add_argument("--training-set", default=None, metavar="PATH",
                        help="also write the plain training set (as `label` does) to PATH")
    add_common_options(parser)
    add_telemetry_options(parser)
    add_training_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    build_file(args.telemetry, args.output, args, training_set=args.training_set)
    return 0


def build_file(telemetry: str | list[str], output: str, args: argparse.Namespace,
               training_set: str | None = None, name: str | None = None):
    """Build ``output`` from ``telemetry`` (one path or several) with the options in
    ``args``; print the figures, naming the model ``name`` if given (the demo's). Both
    outputs are staged and put in place together once both are complete
    (commands/staging.py)."""
    import hashlib

    from reflexforge.pipeline import build_reflex
    from reflexforge.progress import progress_bar

    paths = [telemetry] if isinstance(telemetry, str) else list(telemetry)
    opts = options_from_args(args)
    train_opts = training_options_from_args(args)
    if len(paths) > 1 and training_set is not None:
        raise ForgeError(E_USAGE, "--training-set needs a single TELEMETRY file (a training "
                         "set describes the windows of one trace)")
    for i, first in enumerate(paths):
        for j in range(i + 1, len(paths)):
            if same_file(first, paths[j]):
                raise ForgeError(E_USAGE, f"TELEMETRY {i + 1} and {j + 1} are the same file; "
                                 "it would be trained on twice", path=paths[j])
    check_distinct_paths({f"TELEMETRY {i + 1}" if len(paths) > 1 else "TELEMETRY": p
                          for i, p in enumerate(paths)},
                         {"-o": output, "--training-set": training_set})
    target = check_output_path(output)
    if training_set is not None:
        check_output_path(training_set, "--training-set")
    t0 = time.perf_counter()
    # One file is its own hash; several are hashed once more, one after the other.
    combined = hashlib.sha1() if len(paths) > 1 else None
    traces = [read_input_trace(args, p, also_hash=combined) for p in paths]
    t1 = time.perf_counter()
    with StagedOutputs() as staging:
        staged_set = None if training_set is None else staging.path(training_set)
        with progress_bar(None, "features and oracle", progress_enabled(args)) as bar:
            reflex, report = build_reflex(
                traces, opts, train_opts, progress=bar, training_set_path=staged_set,
                telemetry_sha1=None if combined is None else combined.hexdigest())
        dump_model(reflex, staging.path(target))
    report.seconds["read"] = t1 - t0
    report.seconds["total"] = time.perf_counter() - t0
    report_build(report, str(target) if name is None else name, train_opts,
                 bool(getattr(args, "quiet", False)))
    return reflex, report
