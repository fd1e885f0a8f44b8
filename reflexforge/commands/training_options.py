"""The training and stability options of ``build``, ``train`` and ``demo``.

``add_training_options`` adds them to a parser (defaults: ``reflexforge.train.TrainOptions``);
``training_options_from_args`` reads them back as ``TrainOptions``.
"""

from __future__ import annotations

import argparse

from reflexfmt.limits import CONFIRM_STEPS_RANGE, DWELL_STEPS_RANGE, MAX_TREE_DEPTH
from reflexforge.augment import MAX_AUGMENT_FACTOR, check_factors
from reflexforge.candidates import DEFAULT_MIN_LEAF, HYSTERESIS_GRID, MIN_LEAF_GRID
from reflexforge.commands.argtypes import int_range, non_negative_float
from reflexforge.config import GRID_N
from reflexforge.errors import E_USAGE, ForgeError
from reflexforge.horizon import MAX_HORIZON, check_aggregate
from reflexforge.train import (
    FEATURE_SETS,
    MAX_DAGGER_ROUNDS,
    MAX_MIN_LEAF,
    MODELS,
    PLAIN,
    SELECTIONS,
    TARGETS,
    TrainOptions,
)


def _aggregate(text: str) -> str:
    try:
        return check_aggregate(text)
    except ForgeError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None

def _rate_factors(text: str) -> tuple[int, ...]:
    """argparse type of --augment: ``off``, or factors joined by commas that
    ``augment.check_factors`` accepts."""
    if text == "off":
        return ()
    try:
        return check_factors(tuple(int(part) for part in text.split(",")))
    except (ValueError, ForgeError):
        raise argparse.ArgumentTypeError(f"must be 'off' or distinct integers in "
                                         f"2..{MAX_AUGMENT_FACTOR} joined by commas, "
                                         f"got {text!r}") from None


_STABILITY = ("label_target", "switch_cost_us", "confirm_steps", "dwell_steps", "target",
              "dagger_rounds", "features", "model", "select", "horizon", "horizon_agg",
              "min_leaf", "max_depth", "refit", "min_flush_threshold", "augment")


def add_hysteresis_options(group, filled: bool = False) -> None:
    """--confirm-steps and --dwell-steps (the file header's hysteresis); their defaults are
    TrainOptions', given as argparse defaults when ``filled``, else None (the options
    resolved later by training_options_from_args)."""
    d = TrainOptions()
    group.add_argument(
        "--confirm-steps", type=int_range(*CONFIRM_STEPS_RANGE),
        default=d.confirm_steps if filled else None, metavar="C",
        help=f"runtime hysteresis: steps a new decision must persist (default {d.confirm_steps})",
    )
    group.add_argument(
        "--dwell-steps", type=int_range(*DWELL_STEPS_RANGE),
        default=d.dwell_steps if filled else None, metavar="W",
        help=f"runtime hysteresis: minimum steps a policy stays active (default {d.dwell_steps})",
    )


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Add the training and stability options (defaults: reflexforge.train.TrainOptions)."""
    d = TrainOptions()
    model = parser.add_argument_group("model and model selection")
    model.add_argument(
        "--model", choices=MODELS, default=None,
        help="auto (default): with --select closed-loop, the best static pair and policy "
        "trees compete (without, a policy tree); another model with --select closed-loop: "
        "the best static pair and that model's candidates; policy-tree: one cost-sensitive "
        "tree over the 24 pairs; cost-regressor: scikit-learn's multi-output tree on the "
        "costs; regressors: two trees on the argmin labels (the earlier default); static: "
        "the best static pair",
    )
    model.add_argument(
        "--select", choices=SELECTIONS, default=None,
        help="closed-loop (default): replay every candidate in closed loop on the last 20%% "
        "of the windows and keep the simplest one within 0.5%% of the lowest mean J among "
        "those the gate would pass; off: build --model alone",
    )
    model.add_argument(
        "--refit", choices=("on", "off"), default=None,
        help="on (default): the file holds the selection's winner fitted again on all windows, "
        "training and validation (as scikit-learn's searches refit); off: as validated",
    )
    model.add_argument(
        "--horizon", type=int_range(1, MAX_HORIZON), default=None, metavar="H",
        help="windows a decision is costed over, from confirm_steps + 1 windows after it "
        "(default: max(1, dwell_steps), the least it stays in force)",
    )
    model.add_argument(
        "--horizon-agg", type=_aggregate, default=None, metavar="mean|max|qNN",
        help=f"how the costs over the horizon are combined (default {d.horizon_agg})",
    )
    model.add_argument(
        "--min-leaf", type=int_range(1, MAX_MIN_LEAF), default=None, metavar="N",
        help=f"fewest training windows in a leaf of a cost-sensitive tree (default: "
        f"{', '.join(map(str, MIN_LEAF_GRID))} with --select, {DEFAULT_MIN_LEAF} without)",
    )
    model.add_argument(
        "--max-depth", type=int_range(1, MAX_TREE_DEPTH), default=None, metavar="D",
        help=f"depth of the trees (default {d.max_depth}; the format allows "
        f"{MAX_TREE_DEPTH})",
    )
    model.add_argument(
        "--hysteresis-grid", action="store_true", default=None,
        help="with --select, also try the cost-sensitive trees at confirm/dwell "
        f"{'/'.join(map(str, HYSTERESIS_GRID[0]))} (faster following; off by default: on "
        "traffic it was not tuned on it flapped more often than it gained, see README)",
    )
    model.add_argument(
        "--min-flush-threshold", type=int, choices=GRID_N, default=None, metavar="N",
        help="the smallest flush threshold the reflex may choose, in packets: no leaf and no "
        "static pair below it, and the file's bounds clamp at it (default "
        f"{d.min_flush_threshold}: every pair; 4 never flushes every packet, which a burst "
        "arriving within confirm_steps can overrun, README)",
    )
    model.add_argument(
        "--augment", type=_rate_factors, default=None, metavar="F[,F...]|off",
        help="also train on a copy of each training trace at F times its packet rate "
        f"(arrival times since the first divided by F; F in 2..{MAX_AUGMENT_FACTOR}), so "
        f"that the trees meet more load than the trace reached (default "
        f"{','.join(map(str, d.augment)) or 'off'})",
    )
    group = parser.add_argument_group("training and stability options")
    group.add_argument(
        "--plain", action="store_true",
        help="no stability: plain per-window labels, confirm 1, dwell 0 (the flags below "
        "still override)",
    )
    group.add_argument(
        "--label-target", choices=("current", "next"), default=None,
        help=f"label each window from its own costs or the next step's (default {d.label_target})",
    )
    group.add_argument(
        "--switch-cost", dest="switch_cost_us", type=non_negative_float, default=None,
        metavar="US", help="J cost of one change of pair, in us: Viterbi smoothing of the "
        "regressors' labels, and a cost-sensitive tree's price for each pair of consecutive "
        f"training windows a split separates; 0 turns it off (default {d.switch_cost_us:g})",
    )
    add_hysteresis_options(group)
    group.add_argument(
        "--target", choices=TARGETS, default=None,
        help=f"what the trees regress on: log2 of the labels or the labels (default {d.target})",
    )
    group.add_argument(
        "--dagger-rounds", type=int_range(0, MAX_DAGGER_ROUNDS), default=None, metavar="K",
        help="DAgger: K rounds that replay the training windows in closed loop under the "
        "current reflex and retrain on the features it saw, with the same labels "
        f"(default {d.dagger_rounds})",
    )
    group.add_argument(
        "--features", choices=tuple(FEATURE_SETS), default=None,
        help="the features the trees may split on: all ten; arrivals, the ones the "
        "batching policy cannot change (enqueue_rate, bytes_in_per_sec, packet_size_mean, "
        "packet_size_var, rtt_ewma); or load, the same without rtt_ewma (default: load; "
        "all for the regressors with --select off)",
    )


def training_options_from_args(args: argparse.Namespace) -> TrainOptions:
    """The ``TrainOptions`` given on the command line; unset ones keep the defaults."""
    base = PLAIN if getattr(args, "plain", False) else TrainOptions()
    given = {k: getattr(args, k) for k in _STABILITY if getattr(args, k, None) is not None}
    if "refit" in given:
        given["refit"] = given["refit"] == "on"
    fields = {k: getattr(base, k) for k in _STABILITY} | given
    grid = bool(getattr(args, "hysteresis_grid", None))
    fixed = [f"--{k.replace('_', '-')}" for k in ("confirm_steps", "dwell_steps") if k in given]
    if grid and (fixed or getattr(args, "plain", False)):
        raise ForgeError(E_USAGE, "--hysteresis-grid tries its own confirm/dwell settings; it "
                         f"cannot be combined with {(fixed or ['--plain'])[0]}")
    if grid and fields["select"] == "off":
        raise ForgeError(E_USAGE, "--hysteresis-grid adds candidates to model selection; it "
                         "cannot be combined with --select off")
    return TrainOptions(**fields, hysteresis_grid=grid)
