"""``reflex-forge build TELEMETRY... -o MODEL [--training-set PATH]``: every stage in one command.

Reads the telemetry, replays it under the incumbent for the features, labels every window
with the oracle, trains, quantizes, and writes the .reflex (and, if asked, the training set).
Several telemetry files train one reflex on all of them (spec/training.md section 9).
"""

from __future__ import annotations

import argparse
import time

from reflexforge.commands.common import (
    add_common_options,
    add_telemetry_options,
    check_distinct_paths,
    check_output_path,
    description,
    dump_model,
    options_from_args,
    progress_enabled,
    read_input_trace,
)
from reflexforge.commands.train import add_training_options, training_options_from_args
from reflexforge.errors import E_USAGE, ForgeError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build", help="telemetry -> features -> oracle labels -> trees -> .reflex",
        description=description(__doc__),
    )
    parser.add_argument("telemetry", metavar="TELEMETRY", nargs="+",
                        help="telemetry.csv (or .csv.gz); several files train one reflex on "
                        "all of them")
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
               training_set: str | None = None):
    """Build ``output`` from ``telemetry`` (one path or several) with the options in
    ``args``; print the figures."""
    import hashlib

    from reflexforge.build import build_reflex
    from reflexforge.progress import progress_bar

    paths = [telemetry] if isinstance(telemetry, str) else list(telemetry)
    opts = options_from_args(args)
    train_opts = training_options_from_args(args)
    if len(paths) > 1 and training_set is not None:
        raise ForgeError(E_USAGE, "--training-set needs a single TELEMETRY file (a training "
                         "set describes the windows of one trace)")
    check_distinct_paths({f"TELEMETRY {i + 1}" if len(paths) > 1 else "TELEMETRY": p
                          for i, p in enumerate(paths)},
                         {"-o": output, "--training-set": training_set})
    target = check_output_path(output)
    if training_set is not None:
        check_output_path(training_set)
    t0 = time.perf_counter()
    # One file is its own hash; several are hashed once more, one after the other.
    combined = hashlib.sha1() if len(paths) > 1 else None
    traces = [read_input_trace(args, p, also_hash=combined) for p in paths]
    t1 = time.perf_counter()
    with progress_bar(None, "features and oracle", progress_enabled(args)) as bar:
        reflex, report = build_reflex(
            traces, opts, train_opts, progress=bar, training_set_path=training_set,
            telemetry_sha1=None if combined is None else combined.hexdigest())
    dump_model(reflex, target)
    report.seconds["read"] = t1 - t0
    report.seconds["total"] = time.perf_counter() - t0
    print_report(report, str(target), train_opts)
    return reflex, report


def print_report(report, output: str, train_opts=None) -> None:
    """The validation figures as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    def us(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}"

    table = Table(title=f"{output}: validation on the last {report.validation_windows} of "
                  f"{report.windows} windows")
    table.add_column("policy")
    table.add_column("exact match", justify="right")
    table.add_column("mean J regret (us)", justify="right")
    table.add_row("reflex (quantized trees)", pct(report.model.exact_match),
                  us(report.model.mean_regret_us))
    n, d = report.static_pair
    table.add_row(f"best static pair ({n}, {d}us)", pct(report.static.exact_match),
                  us(report.static.mean_regret_us))
    table.add_row("reflex on its training windows", pct(report.model_train.exact_match),
                  us(report.model_train.mean_regret_us))
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    if len(report.candidates) > 1:
        console.print(candidates_table(report, train_opts))
    console.print(table)
    for note in size_notes(report, train_opts):
        console.print(f"note: {note}", highlight=False)
    console.print(
        f"oracle mean J {us(report.oracle_mean_j_us)} us; label switches "
        f"{report.label_switches_plain} plain -> {report.label_switches_trained} trained; "
        f"nodes {report.node_counts[0]} + {report.node_counts[1]}",
        highlight=False,
    )


def size_notes(report, train_opts) -> list[str]:
    """Say so when the training windows are too few for the depth and leaf size asked."""
    if train_opts is None:
        return []
    depth = train_opts.max_depth
    out = []
    for leaf in sorted({c.min_leaf for c, _, _ in report.candidates if c.min_leaf}):
        most = report.train_windows // leaf
        if most < 2**depth:
            out.append(f"{report.train_windows} training windows allow at most {max(1, most)} "
                       f"leaves of {leaf} windows (--min-leaf), fewer than the {2**depth} of "
                       f"depth {depth}: such trees are smaller (see their leaves)")
    return out


def candidates_table(report, train_opts):
    """Every candidate's closed-loop validation figures; the winner marked with *."""
    from rich.table import Table

    from reflexforge.build import candidate_key

    table = Table(title="model selection: closed-loop replay of the validation span "
                  "(* the winner; eligible: passes the gate's checks there)")
    for name in ("", "candidate", "leaves", "mean J µs", "gap closed", "∆p95", "sw/min",
                 "osc/30s", "eligible"):
        table.add_column(name, justify="left" if name in ("", "candidate") else "right",
                         no_wrap=True)
    for i, (cand, leaves, sc) in enumerate(report.candidates):
        mark = "*" if i == report.winner else ""
        label = f"{candidate_key(i)} {cand.label(train_opts)}"
        if sc is None:
            table.add_row(mark, label, str(leaves), *["-"] * 6)
            continue
        table.add_row(mark, label, str(leaves), f"{sc.mean_j_us:.1f}",
                      "-" if sc.gap_closed is None else f"{100 * sc.gap_closed:.1f}%",
                      "-" if sc.delta_p95 is None else f"{100 * sc.delta_p95:+.1f}%",
                      f"{sc.switches_per_min:.1f}", str(sc.oscillations_max_per_30s),
                      "yes" if sc.eligible else "no")
    return table
