"""Prototype: would a feature for the burstiness of arrivals help the trees generalize?

Not the forge: like the issue's 70-line prototype, one policy tree per training trace, on
the oracle's horizon costs (offset 11, 30 windows: the default candidates' span), depth 4,
leaf 20, fitted on every window of the training trace and quantized with its range; on the
held-out trace its per-window decisions go through the runtime's hysteresis
(``runtime_steps``, confirm 10, dwell 30) and its 2-step lead, and their J is read from the
held-out trace's oracle matrix (open loop; no rate copy or fallback, so its failures are
bigger than the forge's). With ``--select`` it also chooses, like the forge's model
selection, between the tree and the training trace's best static pair by their mean J on
the last 20 % of the training windows (the tree fitted on the first 80 % for that), and
refits the winner on all of them.
Printed: points of gap closed against the held-out trace's best static pair, for the load
features alone and with two candidate features computed from the arrivals only
(independent of the policy in force), per 200 ms window:

- ``cv``: the coefficient of variation of the inter-arrival gaps;
- ``peak``: the largest 1 ms arrival count over the window's mean 1 ms count.

Usage: python benchmarks/burstiness_prototype.py [--profile diurnal] [--seeds 1:2 3:4 ...]
                                                [--select]
(about 10 s per trace on 2 cores; the traces are synthesized in memory).
"""

from __future__ import annotations

import argparse

import numpy as np

from reflexforge.config import LEAD_STEPS, PAIRS, ForgeOptions
from reflexforge.horizon import horizon_costs
from reflexforge.labelling import make_training_set
from reflexforge.oracle import pair_indices
from reflexforge.policytree import fit_policy_tree, predict
from reflexforge.runtime import runtime_steps
from reflexforge.synth import generate
from reflexforge.trace import Trace
from reflexforge.train import FEATURE_SETS

INCUMBENT = PAIRS.index((16, 1000))
CV, PEAK = 10, 11  # the two extra columns, after the ten of schema v1
SETS = {"load": FEATURE_SETS["load"], "load+cv": (*FEATURE_SETS["load"], CV),
        "load+peak": (*FEATURE_SETS["load"], PEAK),
        "load+cv+peak": (*FEATURE_SETS["load"], CV, PEAK)}


def day(profile: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features [n, 12], oracle J [n, 24], window starts) of a 10-minute synthetic trace."""
    parts = list(generate(profile, 600.0, seed))
    ts, size, rtt = (np.concatenate([p[k] for p in parts]) for k in range(3))
    tset, costs = make_training_set(Trace(ts, size, rtt), ForgeOptions())
    starts = tset.window_start_ns
    lo, hi = np.searchsorted(ts, starts), np.searchsorted(ts, starts + 200_000_000)
    extra = np.zeros((starts.shape[0], 2))
    for w in range(starts.shape[0]):
        t = ts[lo[w]:hi[w]]
        if t.shape[0] >= 3:
            gaps = np.diff(t).astype(np.float64)
            extra[w, 0] = gaps.std() / gaps.mean() if gaps.mean() > 0 else 0.0
            counts = np.bincount((t - starts[w]) // 1_000_000, minlength=200)
            extra[w, 1] = counts.max() / counts.mean()
    return np.column_stack([tset.X, extra]), costs.J, starts


def quantize(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.clip(np.floor((x - lo) / span * 32767), 0, 32767).astype(np.int64)


def in_force(decisions: np.ndarray, confirm: int = 10, dwell: int = 30) -> np.ndarray:
    """The pair (index into PAIRS) in force in each window: the runtime's hysteresis (spec
    NEM1 section 11) over the per-window decisions, the incumbent for the first LEAD_STEPS."""
    raw = np.array(PAIRS, dtype=np.int64)[decisions]
    applied = runtime_steps(raw, confirm, dwell)
    held = pair_indices(applied[:, 0], applied[:, 1])
    return np.concatenate([np.full(LEAD_STEPS, INCUMBENT), held[:-LEAD_STEPS]])


def fitted_pairs(qa: np.ndarray, costs: np.ndarray, ja: np.ndarray, features: tuple,
                 qb: np.ndarray, select: bool) -> np.ndarray:
    """The pair in force in each held-out window: the tree's, or with ``select`` the
    validation winner's (tree or static pair), refitted on all training windows."""
    n_train = int(qa.shape[0] * 0.8)
    if select:
        static = int(np.argmin(ja[:n_train].mean(axis=0)))
        tree = fit_policy_tree(qa[:n_train], costs[:n_train], features, 4, 20)
        val = np.arange(n_train, qa.shape[0])
        tree_j = ja[val, in_force(predict(tree, qa))[n_train:]].mean()
        if ja[val, static].mean() <= tree_j:
            return np.full(qb.shape[0], int(np.argmin(ja.mean(axis=0))))
    return in_force(predict(fit_policy_tree(qa, costs, features, 4, 20), qb))


def gap(J: np.ndarray, pairs: np.ndarray) -> float:
    incumbent, oracle = J[:, INCUMBENT].mean(), J.min(axis=1).mean()
    return 100 * (incumbent - J[np.arange(J.shape[0]), pairs].mean()) / (incumbent - oracle)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="diurnal")
    parser.add_argument("--seeds", nargs="+", metavar="TRAIN:SHADOW",
                        default=["1:2", "3:4", "5:6", "7:8", "51:52", "53:54", "55:56", "57:58"])
    parser.add_argument("--select", action="store_true",
                        help="choose between the tree and the static pair on validation")
    args = parser.parse_args()
    results: dict[str, list[float]] = {name: [] for name in SETS}
    print(f"| {args.profile} | " + " | ".join(SETS) + " |")
    print("|---|" + "---:|" * len(SETS))
    for pair in args.seeds:
        train, shadow = (int(s) for s in pair.split(":"))
        xa, ja, starts = day(args.profile, train)
        xb, jb, _ = day(args.profile, shadow)
        costs = horizon_costs(ja, starts, 11, 30)
        lo, hi = xa.min(axis=0), xa.max(axis=0)
        qa, qb = quantize(xa, lo, hi), quantize(xb, lo, hi)
        best = max(gap(jb, np.full(jb.shape[0], p)) for p in range(len(PAIRS)))
        row = []
        for name, features in SETS.items():
            points = gap(jb, fitted_pairs(qa, costs, ja, features, qb, args.select)) - best
            results[name].append(points)
            row.append(f"{points:+.1f}")
        print(f"| {train}→{shadow} | " + " | ".join(row) + " |", flush=True)
    print("| mean / worst | " + " | ".join(
        f"{np.mean(v):+.2f} / {min(v):+.1f}" for v in results.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
