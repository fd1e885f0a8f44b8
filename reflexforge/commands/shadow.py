"""``reflex-forge shadow MODEL TELEMETRY``: shadow-validate a reflex and apply the promotion gate.

Replays the telemetry under the incumbent (open loop) and with the reflex in control (closed
loop), compares with the baselines and promotes only if, in both loops, ∆p95 <= -10%, the mean
J is not above the incumbent's, the gap closed is at most 1 point below the best static
pair's in hindsight, there is at most one oscillation in any 30 s, and the trace covers at
least 10 minutes (spec/validation.md section 6).
Exit code 0: promoted; 1: not promoted; 2: bad input or usage. Without --incumbent the
default 16,1ms is replayed, with a one-line warning on stderr when the model's metadata
says it was forged under another incumbent (oracle.incumbent).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reflexfmt.atomic import same_file
from reflexfmt.terminal import path_text
from reflexforge.commands import COMMANDS
from reflexforge.commands.argtypes import non_negative_float, points_or_off
from reflexforge.commands.modelio import load_model
from reflexforge.commands.options import (
    add_common_options,
    add_telemetry_options,
    description,
    options_from_args,
    progress_enabled,
    read_input_trace,
    say,
    shown,
)
from reflexforge.commands.paths import check_distinct_paths, check_output_path
from reflexforge.commands.staging import StagedOutputs
from reflexforge.config import GATE_STATIC_POINTS
from reflexforge.errors import E_IO, E_USAGE, ForgeError
from reflexforge.gate import DURATION_TOLERANCE_PERCENT, PROMOTION_MIN_DURATION_S, covered_s

EXIT_PROMOTED = 0
EXIT_NOT_PROMOTED = 1


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "shadow", help=COMMANDS["shadow"],
        description=description(__doc__),
        epilog="exit codes: 0 promoted, 1 not promoted, 2 bad input or usage",
    )
    add_shadow_arguments(parser)
    add_common_options(parser)
    add_telemetry_options(parser)
    parser.set_defaults(func=run)


def add_shadow_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional arguments and the shadow-only options."""
    parser.add_argument("model", metavar="MODEL", help="the .reflex file to validate")
    parser.add_argument("telemetry", metavar="TELEMETRY",
                        help="held-out telemetry (CSV, Parquet, pcap or pcapng, optionally "
                        "gzip or zstd): at least 10 minutes of traffic to be promotable "
                        "(--min-duration lets a shorter trace be shadowed)")
    parser.add_argument("--report", default=None, metavar="PATH",
                        help="write report.json (spec/validation.md) to PATH")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="write the PNG figure (load, policy, p95 over time) to PATH")
    parser.add_argument("--promote-to", default=None, metavar="DIR",
                        help="when promoted, copy the model and its report into DIR atomically")
    parser.add_argument("--min-duration", type=non_negative_float,
                        default=float(PROMOTION_MIN_DURATION_S), metavar="SECONDS",
                        help=f"shortest trace accepted, to within {DURATION_TOLERANCE_PERCENT} "
                        f"%% (default {PROMOTION_MIN_DURATION_S}); a trace shorter than "
                        f"{covered_s(PROMOTION_MIN_DURATION_S):g} s is never promotable")
    parser.add_argument("--gate-j", choices=("on", "off"), default="on",
                        help="on (default): the reflex's mean J must not exceed the "
                        "incumbent's in either loop; off: the guide's gate alone (∆p95 and "
                        "oscillations)")
    parser.add_argument("--gate-static", type=points_or_off, default=argparse.SUPPRESS,
                        metavar="POINTS|off",
                        help="refuse a reflex whose gap closed, in either loop, is more than "
                        "POINTS points below the best static pair's in hindsight on this "
                        f"trace (default {GATE_STATIC_POINTS:g}; needs --gate-j on); off: "
                        "only the incumbent's J (∆p95, J, oscillations)")


def _gate_options(args: argparse.Namespace) -> tuple[bool, float | None]:
    """(gate_j, gate_static points or None) from --gate-j and --gate-static. The static check
    is a J check: ``run_shadow`` drops it when gate_j is off, so POINTS given with
    --gate-j off is a usage error."""
    gate_j = getattr(args, "gate_j", "on") == "on"
    points = getattr(args, "gate_static", GATE_STATIC_POINTS)  # absent when not given
    if not gate_j and hasattr(args, "gate_static") and points is not None:
        raise ForgeError(E_USAGE, f"--gate-static {points:g} needs --gate-j on (--gate-j "
                         "off is the guide's gate alone, without the J checks)")
    return gate_j, points


def run(args: argparse.Namespace, names: dict[str, str] | None = None) -> int:
    """The shadow command. Its outputs (--report, --plot, --promote-to's two files) are
    staged and put in place together once all are complete (commands/staging.py).
    ``names`` gives the MODEL and TELEMETRY paths to record in the report and to print
    instead of the ones read (the demo's staged files)."""
    from rich.console import Console

    from reflexforge.report import render_table, report_json, write_plot
    from reflexforge.shadow import run_shadow

    opts = options_from_args(args)
    gate_j, gate_static = _gate_options(args)
    check_distinct_paths({"MODEL": args.model, "TELEMETRY": args.telemetry},
                         {"--report": args.report, "--plot": args.plot})
    for option, path in (("--report", args.report), ("--plot", args.plot)):
        if path is not None:
            check_output_path(path, option)
    promote_dir = None if args.promote_to is None else _check_promote_dir(args)
    names = names or {}
    model_name = names.get("MODEL", os.fspath(args.model))
    reflex = load_model(args.model)
    warn_oracle_mismatch(model_name, reflex.metadata, opts,
                         getattr(args, "incumbent", None) is not None)
    model_bytes = _read_bytes(args.model)
    trace = read_input_trace(args, args.telemetry)
    report = run_shadow(reflex, trace, opts, min_duration_s=args.min_duration,
                        progress=progress_enabled(args), model_path=os.fspath(args.model),
                        gate_j=gate_j, gate_static=gate_static)
    report.model["path"] = path_text(model_name)
    report.trace["path"] = path_text(names.get("TELEMETRY", os.fspath(args.telemetry)))
    data = report_json(report)
    promoted = report.promoted and promote_dir is not None
    with StagedOutputs() as staging:
        if args.report is not None:
            _write(staging.path(args.report), data)
        if args.plot is not None:
            write_plot(report, staging.path(args.plot))
        if promoted:
            name = Path(args.model).name
            staging.directory(promote_dir)
            _write(staging.path(promote_dir / f"{name}.shadow.json"), data)
            if not same_file(promote_dir / name, args.model):
                _write(staging.path(promote_dir / name), model_bytes)
    console = Console()
    if getattr(args, "quiet", False):
        say(console, f"{model_name}: {'PROMOTED' if report.promoted else 'NOT PROMOTED'}")
    else:
        render_table(report, console)
    if promoted:
        say(console, f"promoted to {promote_dir / Path(args.model).name}")
    return EXIT_PROMOTED if report.promoted else EXIT_NOT_PROMOTED


_COST_SETTINGS = (("lambda", "lam", "--lambda"), ("flush_cost_ns", "flush_cost_ns",
                  "--flush-cost-ns"), ("link_bps", "link_bps", "--link-bps"))
"""The cost model's settings a model records in metadata ``oracle``: (key, ForgeOptions
field, option)."""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def warn_oracle_mismatch(model: str, metadata: dict, opts, incumbent_given: bool) -> None:
    """One stderr line for each setting of the cost model (lambda, flush cost, link rate) that
    differs from the model's metadata ``oracle``, given or default: the gate then judges the
    model by another J than it was forged for; and for a default incumbent that differs from
    ``oracle.incumbent`` (an incumbent given on the command line is the user's choice)."""
    oracle = metadata.get("oracle") if isinstance(metadata, dict) else None
    if not isinstance(oracle, dict):
        return
    for key, field, option in _COST_SETTINGS:
        forged, used = oracle.get(key), getattr(opts, field)
        if isinstance(forged, bool) or not isinstance(forged, int | float) or forged == used:
            continue
        print(shown(f"{model}: warning: judging with {option} {_number(used)}, but the model "
                    f"was forged with {_number(forged)} (metadata oracle.{key}); the gate's J "
                    f"is not the one it was trained on: pass {option} {_number(forged)} to "
                    f"match"), file=sys.stderr)
    forged = oracle.get("incumbent")
    if incumbent_given or not (isinstance(forged, list) and len(forged) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in forged)):
        return
    used = opts.incumbent
    if tuple(forged) != tuple(used):
        print(shown(f"{model}: warning: replaying the default incumbent {used[0]},"
                    f"{used[1]}us, but the model was forged with {forged[0]},{forged[1]}us "
                    f"(metadata oracle.incumbent); pass --incumbent "
                    f"{forged[0]},{forged[1]}us to match"), file=sys.stderr)


def demo_verdict(argv: list[str], args: argparse.Namespace, names: dict[str, str]) -> int:
    """Run the shadow command from ``reflex-forge demo`` with the demo's forge options,
    recording and printing the MODEL and TELEMETRY paths in ``names``."""
    parser = argparse.ArgumentParser(prog="reflex-forge shadow", add_help=False)
    add_shadow_arguments(parser)
    shadow_args = parser.parse_args(argv)
    for name in ("lam", "incumbent", "flush_cost_ns", "link_bps", "workers", "dask", "quiet"):
        setattr(shadow_args, name, getattr(args, name, None))
    return run(shadow_args, names)


def _check_promote_dir(args: argparse.Namespace) -> Path:
    """Fail before any work if --promote-to is empty, if DIR cannot be created or written
    (it is created on promotion), or if a file it would write is one of the inputs or
    another output (E_USAGE); the model copied onto itself is allowed (nothing to write)."""
    if args.promote_to == "":
        raise ForgeError(E_USAGE, "--promote-to: the directory is empty (name one, such as .)")
    directory = Path(args.promote_to)
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ForgeError(E_IO, "the promotion directory is not a directory", path=directory)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ForgeError(E_IO, "the promotion directory is not writable", path=directory)
    name = Path(args.model).name
    check_distinct_paths({"MODEL": args.model, "TELEMETRY": args.telemetry},
                         {"--report": args.report, "--plot": args.plot,
                          "--promote-to's report": directory / f"{name}.shadow.json"})
    check_distinct_paths({"TELEMETRY": args.telemetry},
                         {"--report": args.report, "--plot": args.plot,
                          "--promote-to's model": directory / name})
    return directory


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ForgeError(E_IO, exc.strerror or str(exc), path=path) from None


def _write(path: str | os.PathLike[str], data: bytes) -> None:
    from reflexfmt.atomic import atomic_write_bytes

    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ForgeError(E_IO, exc.strerror or str(exc), path=path) from None
