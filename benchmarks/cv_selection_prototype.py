"""Prototype: would blocked cross-validation choose better than the last 20 % of a trace?

Model selection judges each candidate on one validation span, the last 20 % of the training
trace. With regimes of minutes, that span can hold one or two of them, and a tree that wins
there can lose on a held-out day (README, "Nor is a larger margin"). The usual remedy for
time series is blocked cross-validation: K contiguous blocks, each in turn the validation
span of a fit on the others.

Not the forge: like ``burstiness_prototype.py``, open loop on the oracle's matrices, load
features, no rate copy. Candidates: the static pair and the policy trees of the default grid
(horizon costs at offset 11 over 30 windows, depth 4, leaf 20 and 100). A candidate's
validation J is the mean, over the validation windows, of the J of the pair in force (the
runtime's hysteresis over its per-window decisions on the whole trace). The rule: the
lowest J wins; within 0.5 % of it, the one with the fewest leaves (static first), as
``spec/training.md`` section 10. The winner is refitted on all the training windows and
replayed on the held-out trace. Printed: its points of gap closed against the held-out
trace's best static pair, with the last 20 % (``last``) and with K-fold blocks (``cvK``).

Usage: python benchmarks/cv_selection_prototype.py [--profiles diurnal mixed ...]
           [--seeds 1:2 3:4 ...] [--folds 5]
(about 6 s per trace on 2 cores; the traces are synthesized in memory).
"""

from __future__ import annotations

import argparse

import numpy as np
from burstiness_prototype import day, gap, in_force, quantize  # beside this script

from reflexforge.config import PAIRS
from reflexforge.horizon import horizon_costs
from reflexforge.policytree import collapse, fit_policy_tree, leaves, predict
from reflexforge.train import FEATURE_SETS

LOAD = FEATURE_SETS["load"]
MIN_LEAVES = (20, 100)
TOLERANCE = 1.005


def fit(kind: int | None, q: np.ndarray, costs: np.ndarray, j: np.ndarray,
        rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Candidate ``kind`` (None: the static pair; else a tree's min leaf) fitted on ``rows``:
    its pair in force in every window of ``q`` and its leaves."""
    if kind is None:
        return np.full(q.shape[0], int(np.argmin(j[rows].mean(axis=0)))), 1
    tree = fit_policy_tree(q[rows], costs[rows], LOAD, 4, kind)
    return in_force(predict(tree, q)), leaves(collapse(tree))


def choose(q: np.ndarray, costs: np.ndarray, j: np.ndarray, folds: list[np.ndarray]) -> int | None:
    """The candidate the rule keeps, judged on ``folds`` (validation rows, each fitted on the
    rest)."""
    n = q.shape[0]
    scored = []
    for kind in (None, *MIN_LEAVES):
        total, count, most = 0.0, 0, 1
        for val in folds:
            rows = np.setdiff1d(np.arange(n), val)
            pairs, n_leaves = fit(kind, q, costs, j, rows)
            total += float(j[val, pairs[val]].sum())
            count += val.shape[0]
            most = max(most, n_leaves)
        scored.append((total / count, most, kind))
    best = min(s[0] for s in scored)
    return min((s for s in scored if s[0] <= best * TOLERANCE), key=lambda s: s[1])[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", nargs="+", default=["diurnal", "mixed"])
    parser.add_argument("--seeds", nargs="+", metavar="TRAIN:SHADOW",
                        default=["1:2", "3:4", "5:6", "7:8", "51:52", "53:54", "55:56", "57:58"])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    rules = ("last", f"cv{args.folds}")
    results: dict[tuple[str, str], list[float]] = {}
    print("| profile | seeds | " + " | ".join(rules) + " |")
    print("|---|---|" + "---:|" * len(rules))
    for profile in args.profiles:
        for pair in args.seeds:
            train, shadow = (int(s) for s in pair.split(":"))
            xa, ja, starts = day(profile, train)
            xb, jb, _ = day(profile, shadow)
            costs = horizon_costs(ja, starts, 11, 30)
            lo, hi = xa.min(axis=0), xa.max(axis=0)
            qa, qb = quantize(xa, lo, hi), quantize(xb, lo, hi)
            n = qa.shape[0]
            blocks = np.array_split(np.arange(n), args.folds)
            best = max(gap(jb, np.full(jb.shape[0], p)) for p in range(len(PAIRS)))
            row = []
            for rule, folds in zip(rules, ([np.arange(int(n * 0.8), n)], blocks), strict=True):
                kind = choose(qa, costs, ja, folds)
                if kind is None:
                    held = np.full(qb.shape[0], int(np.argmin(ja.mean(axis=0))))
                else:
                    held = in_force(predict(fit_policy_tree(qa, costs, LOAD, 4, kind), qb))
                points = gap(jb, held) - best
                results.setdefault((profile, rule), []).append(points)
                row.append(f"{points:+.1f} ({'static' if kind is None else f'leaf {kind}'})")
            print(f"| {profile} | {train}→{shadow} | " + " | ".join(row) + " |", flush=True)
    for profile in args.profiles:
        print(f"| {profile} | mean / worst / below −1 | " + " | ".join(
            f"{np.mean(v):+.2f} / {min(v):+.1f} / {sum(x < -1 for x in v)}"
            for v in (results[(profile, r)] for r in rules)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
