"""``reflex-forge train TRAINING_SET --telemetry TELEMETRY -o MODEL``: trees from a training set.

The telemetry is read for its SHA-1 (the model's ``telemetry_hash``) and for the oracle's
full cost matrix, which the validation figures and the stability options need; the
training set must be the one ``label`` makes from that telemetry under the same options:
its windows, its features (recomputed by one incumbent replay, compared bit for bit), its
labels and J are checked.
"""

from __future__ import annotations

import argparse

import numpy as np

from reflexforge.commands import COMMANDS
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
from reflexforge.commands.training_options import add_training_options, training_options_from_args
from reflexforge.config import PAIRS
from reflexforge.errors import E_TRAINSET, ForgeError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help=COMMANDS["train"],
        description=description(__doc__),
    )
    parser.add_argument("training_set", metavar="TRAINING_SET",
                        help="training-set.csv written by `reflex-forge label`")
    parser.add_argument("--telemetry", required=True, metavar="TELEMETRY",
                        help="the telemetry.csv the training set was labelled from")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL",
                        help="the .reflex file to write")
    add_common_options(parser)
    add_telemetry_options(parser)
    add_training_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reflexforge.commands.build_report import report_build
    from reflexforge.features import window_starts
    from reflexforge.labelling import incumbent_features
    from reflexforge.oracle import best_pairs, window_costs
    from reflexforge.pipeline import reflex_from_costs
    from reflexforge.progress import progress_bar
    from reflexforge.trainset import check_features, read_training_set

    opts = options_from_args(args)
    train_opts = training_options_from_args(args)
    check_distinct_paths({"TRAINING_SET": args.training_set, "--telemetry": args.telemetry},
                         {"-o": args.output})
    output = check_output_path(args.output)
    tset = read_training_set(args.training_set)
    trace = read_input_trace(args, args.telemetry)
    starts = window_starts(trace.ts_ns)
    check_windows(args.training_set, tset.window_start_ns, starts)
    check_features(args.training_set, tset.X, incumbent_features(trace, opts, starts))
    with progress_bar(len(starts), "oracle", progress_enabled(args)) as bar:
        costs = window_costs(trace.ts_ns, trace.size, starts, opts.lam, opts.flush_cost_ns,
                             opts.link_bps, workers=opts.workers, dask=opts.dask, progress=bar)
    check_labels(args.training_set, tset.flush_threshold, tset.max_batch_delay_us,
                 np.asarray(tset.J), best_pairs(costs.J), costs.J)
    reflex, report = reflex_from_costs(starts, tset.X, costs, trace.sha1, opts, train_opts,
                                       trace)
    dump_model(reflex, output)
    report_build(report, str(output), train_opts, bool(getattr(args, "quiet", False)))
    return 0


def check_windows(path: str, got: np.ndarray, want: np.ndarray) -> None:
    """The training set must have exactly the telemetry's windows (E_TRAINSET)."""
    got = np.asarray(got, dtype=np.int64)
    if len(got) == len(want) and np.array_equal(got, want):
        return
    bad = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
               min(len(got), len(want)))
    if bad < len(got):
        raise ForgeError(E_TRAINSET, f"window_start_ns {int(got[bad])} is not the telemetry's "
                         f"window {bad} (the training set was not labelled from this telemetry)",
                         path=path, line=bad + 2, column="window_start_ns")
    line = len(got) + 1 if len(got) else None  # the last row, where the files part ways
    raise ForgeError(E_TRAINSET, f"{len(got)} windows, but the telemetry has {len(want)} "
                     "(the training set was not labelled from this telemetry)", path=path,
                     line=line)


def check_labels(path: str, flush_threshold: np.ndarray, max_batch_delay_us: np.ndarray,
                 j: np.ndarray, oracle: np.ndarray, costs: np.ndarray) -> None:
    """The labels and J of the training set must be the oracle's under these options; the
    error names the first row and, in it, the first column that differs."""
    best = np.asarray(PAIRS, dtype=np.int64)[oracle]
    best_j = costs[np.arange(len(oracle)), oracle]
    columns = (("flush_threshold", np.asarray(flush_threshold) != best[:, 0], "label"),
               ("max_batch_delay_us", np.asarray(max_batch_delay_us) != best[:, 1], "label"),
               ("J", np.asarray(j) != best_j, "J"))
    rows = [int(np.nonzero(bad)[0][0]) for _, bad, _ in columns if bad.any()]
    if not rows:
        return
    i = min(rows)
    column, _, what = next(c for c in columns if c[1][i])
    raise ForgeError(E_TRAINSET, f"{what} differs from the oracle's for this telemetry and "
                     "these options (--lambda, --flush-cost-ns, --link-bps?)",
                     path=path, line=i + 2, column=column)
