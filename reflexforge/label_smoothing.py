"""Training labels from the oracle's cost matrix, with the stability options (spec/training.md).

The plain label of a window is the argmin of its 24 costs (ties to the lowest pair
index), as ``reflex-forge label`` writes it. For training, two optional steps come first:

1. ``label_target = "next"``: the decision made at the end of a window applies during the
   next step, so each window takes the cost row of the window that starts one step later
   (its own row when there is none);
2. ``switch_cost_us > 0``: a Viterbi pass over the 24 pairs picks the label sequence that
   minimizes the sum of J plus ``switch_cost_us`` for every change of pair.

``confirm_steps`` and ``dwell_steps`` are not label options: they go into the file header
and drive the runtime hysteresis of spec/NEM1.md section 11.
"""

from __future__ import annotations

import numpy as np

from reflexforge.config import STEP_NS

LABEL_TARGETS = ("current", "next")


def target_costs(costs: np.ndarray, starts: np.ndarray, label_target: str) -> np.ndarray:
    """The cost row each window is labelled from: its own, or its successor's one step later."""
    if label_target == "current" or len(starts) < 2:
        return costs
    out = costs.copy()
    follows = np.diff(np.asarray(starts, dtype=np.int64)) == STEP_NS
    out[:-1][follows] = costs[1:][follows]
    return out


def viterbi(costs: np.ndarray, switch_cost: float) -> np.ndarray:
    """Pair indices minimizing ``sum J[k, a_k] + switch_cost * #(a_k != a_(k-1))``.

    Deterministic ties: staying beats switching, and a switch goes to the lowest index;
    the last label is the lowest index of minimal total cost.
    """
    from reflexforge.oracle import best_pairs  # here: `build --help` needs no numba

    n, m = costs.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if switch_cost == 0:
        return best_pairs(costs)
    states = np.arange(m)
    back = np.empty((n, m), dtype=np.int64)
    total = costs[0].astype(np.float64).copy()
    for k in range(1, n):
        best = int(np.argmin(total))
        moved = total[best] + switch_cost
        stay = total <= moved
        back[k] = np.where(stay, states, best)
        total = np.where(stay, total, moved) + costs[k]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmin(total))
    for k in range(n - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    return path


def training_labels(
    costs: np.ndarray, starts: np.ndarray, label_target: str, switch_cost_us: float
) -> np.ndarray:
    """The pair index each window is trained on, under the label stability options."""
    return viterbi(target_costs(costs, starts, label_target), float(switch_cost_us))


def count_switches(labels: np.ndarray) -> int:
    """Number of label changes between consecutive windows."""
    labels = np.asarray(labels)
    return int(np.count_nonzero(labels[1:] != labels[:-1])) if len(labels) else 0
