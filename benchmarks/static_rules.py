"""Which static pair should a build ship? The training trace's own, or one over its rate copy too?

For each profile and seed pair TRAIN:SHADOW it synthesizes both 10-minute traces in memory
(as `reflex-forge synth` does) and the copy of TRAIN at twice its rate (`--augment 2`,
spec/training.md section 6.4), labels them with the oracle, and chooses a static pair by
each rule below from TRAIN's windows. It prints that pair's points of gap closed against the
held-out trace's best static pair in hindsight (the gate's check 3), read off SHADOW's oracle
matrix: a static pair's schedule is the same in every window, so its mean J there is the
column mean (the shadow replay's figure for the same pair, to 0.1 point on the README's
pairs).

- ``train``: lowest mean J over TRAIN's windows (the forge's static candidate, refitted on
  all windows);
- ``pooled``: lowest mean J over TRAIN's and the copy's windows together;
- ``minimax``: lowest worst ratio to the best pair's mean J, over TRAIN and the copy;
- ``near E%``: among the pairs within E % of TRAIN's lowest mean J, the copy's lowest.

Usage: python benchmarks/static_rules.py [--profiles mixed diurnal ...] [--seeds 1:2 3:4 ...]
(about 3 s per trace on 2 cores).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from reflexforge.augment import rate_copy
from reflexforge.config import PAIRS, ForgeOptions
from reflexforge.gate import vs_best_static
from reflexforge.labelling import make_training_set
from reflexforge.synth import PROFILES, generate
from reflexforge.trace import Trace

INCUMBENT = PAIRS.index((16, 1000))
Rule = Callable[[np.ndarray, np.ndarray], int]
RULES: dict[str, Rule] = {
    "train": lambda j, _copy: int(np.argmin(j.mean(axis=0))),
    "pooled": lambda j, copy: int(np.argmin(np.concatenate([j, copy]).mean(axis=0))),
    "minimax": lambda j, copy: int(np.argmin(np.maximum(
        j.mean(axis=0) / j.mean(axis=0).min(), copy.mean(axis=0) / copy.mean(axis=0).min()))),
}


def near(within: float) -> Rule:
    """The copy's best pair among those within ``within`` of TRAIN's best mean J."""
    def rule(j: np.ndarray, copy: np.ndarray) -> int:
        means = j.mean(axis=0)
        close = np.flatnonzero(means <= means.min() * (1.0 + within))
        return int(close[np.argmin(copy.mean(axis=0)[close])])
    return rule


RULES.update({f"near {e:g}%": near(e / 100) for e in (0.5, 1, 2, 5)})


def oracle_j(profile: str, seed: int, factor: int = 1) -> np.ndarray:
    """The oracle's J [windows, 24] of a synthetic trace (at ``factor`` times its rate)."""
    parts = list(generate(profile, 600.0, seed))
    ts, size, rtt = (np.concatenate([p[k] for p in parts]) for k in range(3))
    trace = Trace(ts, size, rtt)
    if factor > 1:
        trace = rate_copy(trace, factor)
    return make_training_set(trace, ForgeOptions())[1].J


def points(held: np.ndarray, pair: int) -> float:
    """``pair``'s gap closed on ``held`` minus the best static pair's, in points."""
    means = held.mean(axis=0)
    d = vs_best_static(float(means[INCUMBENT]), float(held.min(axis=1).mean()),
                       float(means[pair]), float(means.min()))
    return 0.0 if d is None else 100.0 * d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", nargs="+", default=list(PROFILES))
    ap.add_argument("--seeds", nargs="+", default=["1:2", "3:4", "5:6", "7:8"])
    args = ap.parse_args()
    found: dict[str, dict[str, list[float]]] = {r: {} for r in RULES}
    for profile in args.profiles:
        for pair in args.seeds:
            train, shadow = (int(s) for s in pair.split(":"))
            j, copy, held = oracle_j(profile, train), oracle_j(profile, train, 2), \
                oracle_j(profile, shadow)
            cells = []
            for name, rule in RULES.items():
                k = rule(j, copy)
                found[name].setdefault(profile, []).append(points(held, k))
                cells.append(f"{name} {PAIRS[k]} {found[name][profile][-1]:+.1f}")
            print(f"{profile} {train}->{shadow}: " + ", ".join(cells), flush=True)
    print("| rule | mean, points | worst | pairs below -1 | " + " | ".join(args.profiles) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(args.profiles))
    for name, by_profile in found.items():
        d = np.concatenate([np.asarray(v) for v in by_profile.values()])
        means = " | ".join(f"{np.mean(by_profile[p]):+.2f}" for p in args.profiles)
        print(f"| {name} | {d.mean():+.2f} | {d.min():+.1f} | {int((d < -1).sum())} | {means} |")


if __name__ == "__main__":
    main()
