"""``reflex-forge demo [--out DIR]``: the whole forge on synthetic traffic, end to end.

Synthesizes a 10-minute ``mixed`` trace, builds a reflex from it, shows it with
reflex-inspect, then shadow-validates it on a second, held-out trace with another seed.
Exit code: the shadow verdict's (0 promoted, 1 not promoted), 2 for bad input. Files:
telemetry.csv, training-set.csv, model.reflex, heldout.csv, report.json, report.png in DIR,
put in place together once every step is done; when a step fails or the demo is
interrupted, none of them is written (nor DIR made), and the files already there are kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reflexforge.commands import COMMANDS
from reflexforge.commands.argtypes import non_negative_int, positive_float
from reflexforge.commands.options import (
    add_common_options,
    description,
    progress_enabled,
    say,
)
from reflexforge.commands.training_options import add_training_options

TRAIN_SEED = 1
DEMO_FILES = ("telemetry.csv", "training-set.csv", "model.reflex", "heldout.csv",
              "report.json", "report.png")
"""What the demo writes in DIR."""


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
    from reflexforge.commands.staging import StagedOutputs

    console = Console()
    out = Path(args.out)
    # Every file is staged beside its place in DIR and put in place once the last step is
    # done: a failed or interrupted demo leaves nothing (nor DIR, if it made it), and a
    # previous run's files stay as they were until then.
    with StagedOutputs() as staging:
        staging.directory(out)
        final = {name: out / name for name in DEMO_FILES}
        staged = {name: staging.path(path) for name, path in final.items()}
        telemetry, model, heldout = (staged[n] for n in ("telemetry.csv", "model.reflex",
                                                         "heldout.csv"))
        console.rule(f"1. synthesize {args.duration:g} s of mixed traffic (seed {args.seed})")
        _synthesize(telemetry, final["telemetry.csv"], args.duration, args.seed,
                    progress_enabled(args), console)
        console.rule("2. build: features, oracle labels, trees, int16, .reflex")
        build_file(str(telemetry), str(model), args,
                   training_set=str(staged["training-set.csv"]),
                   name=str(final["model.reflex"]))
        console.rule("3. inspect")
        _inspect(model, final["model.reflex"])
        console.rule(f"4. shadow on a held-out trace (seed {args.seed + 1})")
        _synthesize(heldout, final["heldout.csv"], args.duration, args.seed + 1,
                    progress_enabled(args), console)
        code = _shadow(staged, final, args)
    say(console, f"report: {final['report.json']}, figure: {final['report.png']}")
    return code


def _synthesize(path: Path, name: Path, duration: float, seed: int, progress: bool,
                console) -> None:
    from reflexforge.progress import progress_bar
    from reflexforge.synth import pieces, synthesize

    with progress_bar(pieces("mixed", duration, seed), f"synth {path.name}", progress) as bar:
        stats = synthesize(path, "mixed", duration, seed, progress=bar)
    say(console, f"{name}: {stats.rows} packets, {stats.rtt_samples} rtt samples, "
        f"{stats.segments} segments")


def _inspect(model: Path, name: Path) -> None:
    """Show the model as reflex-inspect does, in-process, under its final ``name`` (it is
    staged until the demo ends; the staging path was shown)."""
    from rich.console import Console

    from reflexfmt import loads
    from reflexfmt.pretty import render

    data = model.read_bytes()
    render(Console(highlight=False), str(name), data, loads(data))


def _shadow(staged: dict[str, Path], final: dict[str, Path], args: argparse.Namespace) -> int:
    """The shadow verdict on the held-out trace; its exit code (0 promoted, 1 not) is the demo's."""
    from reflexforge.commands.shadow import demo_verdict

    argv = [str(staged["model.reflex"]), str(staged["heldout.csv"]),
            "--report", str(staged["report.json"]), "--plot", str(staged["report.png"])]
    if args.duration < 600:
        argv += ["--min-duration", "0"]  # a short demo: reported as not promotable
    return demo_verdict(argv, args, {"MODEL": str(final["model.reflex"]),
                                     "TELEMETRY": str(final["heldout.csv"])})
