"""How far the traffic a reflex meets lies outside the traffic it was trained on.

A file's scaling ``[lo, hi]`` of each feature is the range of the training windows, the
windows that hold a packet (spec/training.md sections 1 and 2). Beyond it the trees see the
grid's ends (``q = 0`` or ``q = Q``): every such window falls in the leaf at that end of the
split, a region no training window reached. The shadow reports, for each feature a split of
the reflex reads, the share of the replay's windows with a packet outside that range
(spec/validation.md section 9).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reflexfmt.limits import FEATURE_NAMES, FEATURE_UNITS

OUTSIDE_NOTE_SHARE = 0.05
"""A share of windows outside the training range at or above this earns a note."""
ENQUEUE_RATE = FEATURE_NAMES.index("enqueue_rate")


def split_features(trees: Sequence[Sequence]) -> list[int]:
    """The features a split of any tree reads, in index order."""
    return sorted({node.feature for tree in trees for node in tree if not node.is_leaf})


def outside_training_range(reflex, features: np.ndarray) -> dict[str, dict]:
    """For each feature a split reads, by name: ``share`` of the windows with a packet
    (rows of ``features``, the ten raw features of a window, with ``enqueue_rate > 0``)
    whose value is outside the file's ``[lo, hi]`` (``below`` + ``above``), that range, and
    the ``min``/``max`` met there (finite values only; ``null`` without any)."""
    x = np.asarray(features, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
    x = x[x[:, ENQUEUE_RATE] > 0]
    out = {}
    for f in split_features(reflex.trees):
        column = x[:, f]
        finite = column[np.isfinite(column)]
        lo, hi = reflex.scaling[f].lo, reflex.scaling[f].hi
        below, above = int((finite < lo).sum()), int((finite > hi).sum())
        out[FEATURE_NAMES[f]] = {
            "share": _share(below + above, column.shape[0]),
            "below": _share(below, column.shape[0]),
            "above": _share(above, column.shape[0]),
            "lo": lo,
            "hi": hi,
            "min": float(finite.min()) if finite.shape[0] else None,
            "max": float(finite.max()) if finite.shape[0] else None,
        }
    return out


def _share(count: int, total: int) -> float:
    return round(count / total, 6) if total else 0.0


def outside_notes(outside: dict[str, dict]) -> list[str]:
    """One note per feature with at least OUTSIDE_NOTE_SHARE of the windows outside its
    training range."""
    out = []
    for name, item in outside.items():
        if item["share"] < OUTSIDE_NOTE_SHARE:
            continue
        unit = FEATURE_UNITS[FEATURE_NAMES.index(name)]
        out.append(f"{item['share']:.1%} of the windows with packets have {name} outside the "
                   f"range the reflex was trained on ({item['below']:.1%} below, "
                   f"{item['above']:.1%} above {item['lo']:.4g}..{item['hi']:.4g} {unit}; here "
                   f"{item['min']:.4g}..{item['max']:.4g}): there its trees extrapolate; train "
                   "on traffic of this kind (several traces: spec/training.md section 9)")
    return out
