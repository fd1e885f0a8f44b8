"""``reflex-forge static N,D -o MODEL``: a one-leaf reflex that always picks one pair.

The fallback when the gate refuses a forged reflex because a static pair beats it (the
refusal names the pair): the same pair as a .reflex that any runtime loads, shadows and
promotes like a forged one. N and D must be a pair of the oracle grid; no telemetry is read
(spec/training.md section 11).
"""

from __future__ import annotations

import argparse

from reflexfmt.limits import CONFIRM_STEPS_RANGE, DWELL_STEPS_RANGE
from reflexforge.commands import COMMANDS
from reflexforge.commands.argtypes import int_range, pair
from reflexforge.commands.options import description


def register(subparsers) -> None:
    from reflexforge.train import TrainOptions

    d = TrainOptions()
    parser = subparsers.add_parser("static", help=COMMANDS["static"],
                                   description=description(__doc__))
    parser.add_argument("pair", metavar="N,D", type=pair,
                        help="the pair: N packets (1, 4, 8, 16, 32 or 64) and D (50us, 200us, "
                        "1ms or 4ms), such as 32,50us")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL",
                        help="the .reflex file to write")
    parser.add_argument("--confirm-steps", type=int_range(*CONFIRM_STEPS_RANGE),
                        default=d.confirm_steps, metavar="C",
                        help=f"header hysteresis (no effect on one leaf; default "
                        f"{d.confirm_steps})")
    parser.add_argument("--dwell-steps", type=int_range(*DWELL_STEPS_RANGE),
                        default=d.dwell_steps, metavar="W",
                        help=f"header hysteresis (no effect on one leaf; default "
                        f"{d.dwell_steps})")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reflexforge.commands.modelio import dump_model
    from reflexforge.commands.paths import check_output_path
    from reflexforge.static_reflex import static_reflex

    target = check_output_path(args.output)
    reflex = static_reflex(args.pair, args.confirm_steps, args.dwell_steps)
    dump_model(reflex, target)
    if not args.quiet:
        n, d_us = args.pair
        print(f"{target}: one leaf, always ({n} packets, {d_us} µs)")
    return 0
