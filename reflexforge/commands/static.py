"""``reflex-forge static N,D -o MODEL``: a one-leaf reflex that always picks one pair.

The fallback when the gate refuses a forged reflex because a static pair beats it (the
refusal names the pair): the same pair as a .reflex that any runtime loads, shadows and
promotes like a forged one. N and D must be a pair of the oracle grid; no telemetry is read
(spec/training.md section 11).
"""

from __future__ import annotations

import argparse

from reflexforge.commands import COMMANDS
from reflexforge.commands.argtypes import pair
from reflexforge.commands.options import description


def register(subparsers) -> None:
    from reflexforge.commands.training_options import add_hysteresis_options

    parser = subparsers.add_parser("static", help=COMMANDS["static"],
                                   description=description(__doc__))
    parser.add_argument("pair", metavar="N,D", type=pair,
                        help="the pair: N packets (1, 4, 8, 16, 32 or 64) and D (50us, 200us, "
                        "1ms or 4ms), such as 32,50us")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL",
                        help="the .reflex file to write")
    add_hysteresis_options(parser, filled=True)  # the header's; no effect on one leaf
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reflexforge.commands.modelio import dump_model
    from reflexforge.commands.options import shown
    from reflexforge.commands.paths import check_output_path
    from reflexforge.static_reflex import static_reflex

    target = check_output_path(args.output)
    reflex = static_reflex(args.pair, args.confirm_steps, args.dwell_steps)
    dump_model(reflex, target)
    if not args.quiet:
        n, d_us = args.pair
        print(shown(f"{target}: one leaf, always ({n} packets, {d_us} µs)"))
    return 0
