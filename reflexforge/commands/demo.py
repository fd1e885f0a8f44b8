"""``reflex-forge demo [--out DIR]``: the whole forge on synthetic traffic, end to end.

Synthesizes a 10-minute ``mixed`` trace, builds a reflex from it, shows it with
reflex-inspect, then shadow-validates it on a second, held-out trace with another seed.
Exit code: the shadow verdict's (0 promoted, 1 not promoted), 2 for bad input. Files:
telemetry.csv, training-set.csv, model.reflex, heldout.csv, report.json, report.png in DIR;
when a step fails, the demo deletes those it wrote (and DIR, if it made it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reflexforge.commands import COMMANDS
from reflexforge.commands.argtypes import non_negative_int, positive_float
from reflexforge.commands.options import add_common_options, description, progress_enabled
from reflexforge.commands.training_options import add_training_options
from reflexforge.errors import E_IO, ForgeError

TRAIN_SEED = 1


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help=COMMANDS["demo"],
        description=description(__doc__),
    )
    parser.add_argument("--out", default="reflex-demo", metavar="DIR",
                        help="directory for the traces, the model and the reports "
                        "(default ./reflex-demo; created if missing)")
    parser.add_argument("--duration", type=positive_float, default=600.0, metavar="SECONDS",
                        help="length of each synthetic trace (default 600)")
    parser.add_argument("--seed", type=non_negative_int, default=TRAIN_SEED, metavar="K",
                        help=f"seed of the training trace; the held-out trace uses K+1 "
                        f"(default {TRAIN_SEED})")
    add_common_options(parser)
    add_training_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from reflexforge.commands.build import build_file

    console = Console()
    out = Path(args.out)
    made_dir = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ForgeError(E_IO, f"cannot create the output directory: {exc.strerror}",
                         path=out) from None
    telemetry = out / "telemetry.csv"
    model = out / "model.reflex"
    heldout = out / "heldout.csv"
    written = [telemetry, out / "training-set.csv", model, heldout, out / "report.json",
               out / "report.png"]
    try:
        console.rule(f"1. synthesize {args.duration:g} s of mixed traffic (seed {args.seed})")
        _synthesize(telemetry, args.duration, args.seed, progress_enabled(args), console)
        console.rule("2. build: features, oracle labels, trees, int16, .reflex")
        build_file(str(telemetry), str(model), args, training_set=str(written[1]))
        console.rule("3. inspect")
        _inspect(model)
        console.rule(f"4. shadow on a held-out trace (seed {args.seed + 1})")
        _synthesize(heldout, args.duration, args.seed + 1, progress_enabled(args), console)
        return _shadow(model, heldout, out, args, console)
    except BaseException:
        _remove(written, out if made_dir else None)
        raise


def _remove(files: list[Path], directory: Path | None) -> None:
    """After a failed step: delete the demo's files, and its directory if this run made it."""
    for path in files:
        path.unlink(missing_ok=True)
    if directory is not None:
        try:
            directory.rmdir()
        except OSError:
            pass  # not empty: something else was put there meanwhile


def _synthesize(path: Path, duration: float, seed: int, progress: bool, console) -> None:
    from reflexforge.progress import progress_bar
    from reflexforge.synth import pieces, synthesize

    with progress_bar(pieces("mixed", duration, seed), f"synth {path.name}", progress) as bar:
        stats = synthesize(path, "mixed", duration, seed, progress=bar)
    console.print(f"{path}: {stats.rows} packets, {stats.rtt_samples} rtt samples, "
                  f"{stats.segments} segments", highlight=False)


def _inspect(model: Path) -> None:
    """Show the model with reflex-inspect, in-process."""
    from reflexfmt.cli_inspect import main as inspect_main

    inspect_main([str(model)])


def _shadow(model: Path, heldout: Path, out: Path, args: argparse.Namespace, console) -> int:
    """The shadow verdict on the held-out trace; its exit code (0 promoted, 1 not) is the demo's."""
    from reflexforge.commands.shadow import demo_verdict

    argv = [str(model), str(heldout), "--report", str(out / "report.json"),
            "--plot", str(out / "report.png")]
    if args.duration < 600:
        argv += ["--min-duration", "0"]  # a short demo: reported as not promotable
    code = demo_verdict(argv, args)
    console.print(f"report: {out / 'report.json'}, figure: {out / 'report.png'}",
                  highlight=False)
    return code
