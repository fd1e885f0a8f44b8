"""Every candidate of a wider grid, on its training trace and on a held-out one.

For each PROFILE:TRAIN:SHADOW it reads DIR/PROFILE-seedTRAIN.csv and DIR/PROFILE-seedSHADOW.csv
(the traces `benchmarks/gate_seeds.py` synthesizes), fits every candidate on the training
windows of the first (its first 80 %, as `reflex-forge build` does) and prints, per
candidate: its figures on the validation replay of model selection (gap closed,
oscillations per 30 s, eligible) and, fitted again on all of the training trace (the
refit a build ships), its closed-loop replay over the whole held-out trace (gap closed,
oscillations per 30 s, eligible under the gate's checks, and its points against the
held-out trace's best static pair). It answers "would a wider grid or another selection
rule have found a reflex that generalizes?" without building and shadowing each one.
PROFILE:S:S (the same seed twice) gives the ceiling in hindsight instead: each candidate
refitted on the whole trace it is then replayed on.

Usage: python benchmarks/candidates_heldout.py --traces DIR PROFILE:TRAIN:SHADOW ...
           [--horizons 0 4 ...] [--min-leaves 20 100 ...] [--hysteresis 10,30 5,15 ...]
           [--features load ...] [--link-bps BPS] [--jsonl FILE]
(horizon 0: the hysteresis span, the default of `--horizon`). `--jsonl` keeps every figure,
for replaying other selection rules offline (how the default grid and the silent-span rule
of spec/training.md section 10 were chosen).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from reflexforge.candidates import (
    DEFAULT_FEATURES,
    Candidate,
    FileWindows,
    fit_candidate,
    runtime_reflex,
)
from reflexforge.commands.argtypes import link_bps_value
from reflexforge.config import ForgeOptions
from reflexforge.gate import gap_closed
from reflexforge.label_smoothing import training_labels
from reflexforge.labelling import make_training_set
from reflexforge.pipeline import chosen_pairs, mean_cost
from reflexforge.selection import ValidationSpan, score, validation_span
from reflexforge.telemetry import read_telemetry
from reflexforge.train import FEATURE_SETS, TrainOptions, split_by_time


def windows(path: Path, opts: ForgeOptions, t: TrainOptions) -> FileWindows:
    """The windows of one trace, split 80/20 as a build splits them."""
    trace = read_telemetry(path)
    tset, costs = make_training_set(trace, opts)
    labels = training_labels(costs.J, tset.window_start_ns, t.label_target, t.switch_cost_us)
    return FileWindows(tset.window_start_ns, tset.X, costs.J,
                       split_by_time(len(tset.window_start_ns)), labels, trace)


def whole(f: FileWindows, opts: ForgeOptions) -> ValidationSpan:
    """Every window of ``f`` as one replay span."""
    span = validation_span(f.trace, f.starts, f.x, 0, f.J, opts)
    assert span is not None
    return span


def grid(args: argparse.Namespace) -> list[tuple[Candidate, tuple[int, int]]]:
    hysteresis = [tuple(int(v) for v in h.split(",")) for h in args.hysteresis]
    out = [(Candidate("static"), hysteresis[0])]
    for cw in hysteresis:
        for h in args.horizons:
            for leaf in args.min_leaves:
                for feats in args.features:
                    out.append((Candidate("policy-tree", h or None, leaf, feats), cw))
    return out


def run(spec: str, args: argparse.Namespace, opts: ForgeOptions) -> None:
    profile, train, shadow = spec.split(":")
    base = TrainOptions()
    f = windows(args.traces / f"{profile}-seed{train}.csv", opts, base)
    held_f = windows(args.traces / f"{profile}-seed{shadow}.csv", opts, base)
    tail = validation_span(f.trace, f.starts, f.x, f.n_train, f.J, opts)
    held = whole(held_f, opts)
    static_gap = gap_closed(float(held.incumbent_J.mean()), float(held.oracle_J.mean()),
                            float(held_f.J.mean(axis=0).min()))
    assert static_gap is not None  # the oracle gains something on a held-out trace
    print(f"\n{profile} {train}->{shadow}: held-out best static pair closes "
          f"{static_gap:.1%}", flush=True)
    print("| candidate | C/W | leaves | validation gap | osc | eligible "
          "| held-out gap | osc | eligible | vs static (points) |")
    print("|---|---|---:|---:|---:|---|---:|---:|---|---:|")
    everything = [replace(f, n_train=len(f.starts))]
    rows = []
    for c, (confirm, dwell) in grid(args):
        t = replace(base, confirm_steps=confirm, dwell_steps=dwell)
        fitted = fit_candidate(c, [f], opts, t)
        v = score(runtime_reflex(fitted.lo, fitted.hi, fitted.trees, t, {}), [tail], opts)
        refit = fit_candidate(c, everything, opts, t)
        h = score(runtime_reflex(refit.lo, refit.hi, refit.trees, t, {}), [held], opts)
        assert v is not None and h is not None
        if args.jsonl is not None:
            again = score(runtime_reflex(refit.lo, refit.hi, refit.trees, t, {}), [tail], opts)
            validated = score(runtime_reflex(fitted.lo, fitted.hi, fitted.trees, t, {}),
                              [held], opts)
            assert again is not None and validated is not None
            rows.append({"candidate": c.label(t), "confirm_dwell": [confirm, dwell],
                         "leaves": fitted.leaves, "refit_leaves": refit.leaves,
                         "train_mean_j_us": mean_cost(
                             chosen_pairs(fitted, f.x[:f.n_train]), f.J[:f.n_train]),
                         "validation": v.as_metadata() | {"schedule": v.schedule},
                         "refit_validation": again.as_metadata(),
                         "held_out": h.as_metadata(), "held_out_validated_fit":
                         validated.as_metadata()})
        print(f"| {c.label(t)} | {confirm}/{dwell} | {refit.leaves} | {v.gap_closed:.1%} "
              f"| {v.oscillations_max_per_30s} | {'yes' if v.eligible else 'no'} "
              f"| {h.gap_closed:.1%} | {h.oscillations_max_per_30s} "
              f"| {'yes' if h.eligible else 'no'} | {100 * (h.gap_closed - static_gap):+.1f} |",
              flush=True)
    if args.jsonl is not None:
        with args.jsonl.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"pair": spec, "held_out_static_gap": static_gap,
                                  "candidates": rows}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", metavar="PROFILE:TRAIN:SHADOW")
    parser.add_argument("--traces", type=Path, required=True, help="directory of the traces")
    parser.add_argument("--horizons", type=int, nargs="+", default=[0, 1, 4, 8, 16])
    parser.add_argument("--min-leaves", type=int, nargs="+", default=[20, 100, 400])
    parser.add_argument("--hysteresis", nargs="+", default=["10,30"], metavar="C,W")
    parser.add_argument("--features", nargs="+", default=[DEFAULT_FEATURES],
                        choices=FEATURE_SETS, help="feature sets (spec/training.md section "
                        f"6.2; default {DEFAULT_FEATURES}, as a build's)")
    parser.add_argument("--link-bps", type=link_bps_value, default=ForgeOptions.link_bps,
                        help="the link rate, as for every reflex-forge command (loopback "
                        "captures: 100000000000)")
    parser.add_argument("--jsonl", type=Path, default=None,
                        help="also append one JSON line per pair with every candidate's "
                        "figures (validation as fitted and as refitted, held-out as refitted "
                        "and as fitted, mean J on its training windows): the data to replay "
                        "other selection rules offline")
    args = parser.parse_args()
    opts = ForgeOptions(link_bps=args.link_bps)
    for spec in args.pairs:
        run(spec, args, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
