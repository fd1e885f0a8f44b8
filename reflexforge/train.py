"""Tree training on the integer grid and export to int16 NEM1 nodes (spec/training.md).

The trees learn from the grid values the runtime will compute, so a split's float
threshold ``t`` (a midpoint between neighbouring grid values) becomes the int16 threshold
``T = floor(t)``: for every integer q, ``q <= T`` iff ``q <= t``, which is how sklearn
routes (it compares the float32 cast of q, exact for 0..32767, with the float64 t).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from reflexfmt import Node
from reflexfmt.limits import CONFIRM_STEPS_RANGE, DWELL_STEPS_RANGE, FEATURE_COUNT, MAX_TREE_DEPTH
from reflexforge.augment import check_factors
from reflexforge.config import GRID_N
from reflexforge.errors import E_USAGE, ForgeError
from reflexforge.horizon import MAX_HORIZON, check_aggregate
from reflexforge.label_smoothing import LABEL_TARGETS
from reflexforge.quantize import clamp, snap_log

if TYPE_CHECKING:  # imported where it is fitted: `build --help` needs no sklearn
    from sklearn.tree import DecisionTreeRegressor

DEFAULT_DEPTH = 4
"""The trees' depth unless --max-depth says otherwise (the guide's 4); the format allows up
to MAX_TREE_DEPTH (8)."""
MODELS = ("auto", "policy-tree", "cost-regressor", "regressors", "static")
"""``auto``: with selection, the best static pair and policy trees compete; without, a
policy tree. ``policy-tree``: one cost-sensitive tree (reflexforge/policytree.py),
exported as two trees of one structure; ``cost-regressor``: scikit-learn's multi-output
DecisionTreeRegressor fitted on the horizon costs, each leaf taking the pair of lowest mean
cost; ``regressors``: two DecisionTreeRegressors on the argmin labels (the earlier
default); ``static``: the best static pair on the training windows, a one-leaf reflex."""
SELECTIONS = ("closed-loop", "off")
"""``closed-loop``: choose among candidates by closed-loop replay of the validation span
(reflexforge/selection.py); ``off``: build the one model of ``model``."""
MAX_MIN_LEAF = 100_000
RANDOM_STATE = 0
TRAIN_FRACTION = (4, 5)
"""Training share of the windows, as a fraction: the first 4/5 by time."""
TARGETS = ("log2", "linear")
"""What the regressors fit: log2 of the labels or the labels themselves (default)."""
MAX_DAGGER_ROUNDS = 20
"""Most DAgger rounds: each adds one closed-loop replay and one copy of the training rows."""
FEATURE_SETS: dict[str, tuple[int, ...]] = {
    "all": tuple(range(FEATURE_COUNT)),
    "arrivals": (1, 5, 7, 8, 9),
    "load": (1, 5, 7, 8),
}
"""The features the trees may split on, by name (indices in feature_schema v1 order).
``arrivals`` keeps the ones the batching policy cannot change (enqueue_rate,
bytes_in_per_sec, packet_size_mean, packet_size_var, rtt_ewma), so a reflex sees the same
inputs in closed loop as in the incumbent's replay it was trained on. ``load`` (the
default of the cost-sensitive trees) is the offered load alone: ``arrivals`` without
rtt_ewma, which says where the traffic goes rather than how much of it the batcher gets,
and which can name a stretch of a trace without describing its load (spec/training.md
section 6.2)."""


@dataclass(frozen=True)
class TrainOptions:
    """Training and stability options. The defaults live here and only here.

    ``model`` and ``select`` choose what is trained (spec/training.md sections 4 and 10);
    ``horizon`` (windows; None: the hysteresis span), ``horizon_agg``, ``min_leaf`` (None:
    the selection grid, or DEFAULT_MIN_LEAF without selection), ``max_depth`` and
    ``features`` (None: the grid, or the model's default) shape the cost-sensitive trees;
    ``refit`` fits the selection's winner again on all windows;
    ``label_target`` and ``switch_cost_us`` shape the regressors' labels
    (reflexforge/label_smoothing.py); ``confirm_steps`` and ``dwell_steps`` go into the file header
    (runtime hysteresis, spec/NEM1.md section 11); ``target`` is what the regressors fit;
    ``dagger_rounds`` is the number of DAgger rounds (reflexforge/candidates.py): retrain on
    the features the reflex itself sees in a closed-loop replay of the training windows;
    ``min_flush_threshold``: the smallest flush threshold a leaf, the static pair or the
    file's bounds allow (1: every pair of the grid; spec/training.md section 6.3);
    ``augment``: rate factors; each training trace is also trained on at each factor times
    its packet rate (``reflexforge.augment``; spec/training.md section 6.4);
    ``hysteresis_grid``: with selection, cost-sensitive trees are also tried at the
    hysteresis settings of ``candidates.HYSTERESIS_GRID`` (off by default; the CLI's
    --hysteresis-grid, which --confirm-steps, --dwell-steps and --plain exclude). It is not
    metadata: the file header and
    ``training.stability`` carry the winner's hysteresis, ``training.selection`` each
    candidate's.
    """

    label_target: str = "next"
    switch_cost_us: float = 200.0
    confirm_steps: int = 10
    dwell_steps: int = 30
    target: str = "linear"
    dagger_rounds: int = 0
    features: str | None = None
    model: str = "auto"
    select: str = "closed-loop"
    horizon: int | None = None
    horizon_agg: str = "mean"
    min_leaf: int | None = None
    max_depth: int = DEFAULT_DEPTH
    refit: bool = True
    hysteresis_grid: bool = False
    min_flush_threshold: int = 1
    augment: tuple[int, ...] = (2,)

    def __post_init__(self) -> None:
        if self.label_target not in LABEL_TARGETS:
            raise ForgeError(E_USAGE, f"label target must be one of {LABEL_TARGETS}, "
                             f"got {self.label_target!r}")
        cost = self.switch_cost_us
        if isinstance(cost, bool) or not isinstance(cost, int | float) \
                or not math.isfinite(cost) or cost < 0:
            raise ForgeError(E_USAGE, f"switch cost must be a finite number >= 0, got {cost!r}")
        if not _int_in(self.confirm_steps, *CONFIRM_STEPS_RANGE):
            raise ForgeError(E_USAGE, f"confirm steps must be an integer in "
                             f"{CONFIRM_STEPS_RANGE[0]}..{CONFIRM_STEPS_RANGE[1]}, "
                             f"got {self.confirm_steps!r}")
        if not _int_in(self.dwell_steps, *DWELL_STEPS_RANGE):
            raise ForgeError(E_USAGE, f"dwell steps must be an integer in "
                             f"{DWELL_STEPS_RANGE[0]}..{DWELL_STEPS_RANGE[1]}, "
                             f"got {self.dwell_steps!r}")
        if self.target not in TARGETS:
            raise ForgeError(E_USAGE, f"target must be one of {TARGETS}, got {self.target!r}")
        if self.features is not None and self.features not in FEATURE_SETS:
            raise ForgeError(E_USAGE, f"feature set must be one of {tuple(FEATURE_SETS)}, "
                             f"got {self.features!r}")
        if self.model not in MODELS:
            raise ForgeError(E_USAGE, f"model must be one of {MODELS}, got {self.model!r}")
        if self.select not in SELECTIONS:
            raise ForgeError(E_USAGE, f"selection must be one of {SELECTIONS}, "
                             f"got {self.select!r}")
        if self.horizon is not None and not _int_in(self.horizon, 1, MAX_HORIZON):
            raise ForgeError(E_USAGE, f"horizon must be an integer in 1..{MAX_HORIZON} "
                             f"windows, got {self.horizon!r}")
        check_aggregate(self.horizon_agg)
        if self.min_leaf is not None and not _int_in(self.min_leaf, 1, MAX_MIN_LEAF):
            raise ForgeError(E_USAGE, f"minimum leaf size must be an integer in "
                             f"1..{MAX_MIN_LEAF} windows, got {self.min_leaf!r}")
        for name in ("refit", "hysteresis_grid"):
            if not isinstance(getattr(self, name), bool):
                raise ForgeError(E_USAGE, f"{name} must be true or false, "
                                 f"got {getattr(self, name)!r}")
        if not _int_in(self.max_depth, 1, MAX_TREE_DEPTH):
            raise ForgeError(E_USAGE, f"depth must be an integer in 1..{MAX_TREE_DEPTH}, "
                             f"got {self.max_depth!r}")
        if isinstance(self.min_flush_threshold, bool) \
                or self.min_flush_threshold not in GRID_N:
            raise ForgeError(E_USAGE, "minimum flush threshold must be one of "
                             f"{', '.join(map(str, GRID_N))} packets, "
                             f"got {self.min_flush_threshold!r}")
        check_factors(self.augment)
        if not _int_in(self.dagger_rounds, 0, MAX_DAGGER_ROUNDS):
            raise ForgeError(E_USAGE, f"DAgger rounds must be an integer in "
                             f"0..{MAX_DAGGER_ROUNDS}, got {self.dagger_rounds!r}")

    def as_metadata(self) -> dict[str, object]:
        """The options as canonical metadata values."""
        out: dict[str, object] = asdict(self)
        del out["hysteresis_grid"]
        out["augment"] = list(self.augment)
        out["switch_cost_us"] = float(self.switch_cost_us)
        return out


def _int_in(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


PLAIN = TrainOptions(label_target="current", switch_cost_us=0.0, confirm_steps=1, dwell_steps=0,
                     hysteresis_grid=False)
"""No stability at all: plain per-window labels and a runtime without hysteresis."""


def split_by_time(n: int) -> int:
    """Number of training windows: the first floor(4n/5) by time (at least 1)."""
    num, den = TRAIN_FRACTION
    return max(1, (num * n) // den) if n else 0


def fit_tree(
    q_train: np.ndarray, labels: np.ndarray, target: str, features: str = "all",
    max_depth: int = DEFAULT_DEPTH,
) -> DecisionTreeRegressor:
    """One ``DecisionTreeRegressor(max_depth=max_depth, random_state=0)`` on grid values.

    Features outside the set ``features`` are zeroed: a constant column is never split on,
    and the tree keeps the v1 feature indices.
    """
    from sklearn.tree import DecisionTreeRegressor

    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    keep = FEATURE_SETS[features]
    if len(keep) < q_train.shape[1]:
        q_train = np.where(np.isin(np.arange(q_train.shape[1]), keep), q_train, 0)
    y = np.asarray(labels, dtype=np.float64)
    if target == "log2":
        y = np.log2(y)
    model = DecisionTreeRegressor(max_depth=max_depth, random_state=RANDOM_STATE)
    model.fit(np.asarray(q_train, dtype=np.float32), y)
    return model


def grid_threshold(threshold: float) -> int:
    """The int16 threshold of a float split: ``floor(t)`` (not round, not truncation)."""
    return math.floor(threshold)


def leaf_output(mean: float, target: str, legal: Sequence[int], bounds: tuple[int, int]) -> int:
    """A leaf's mean prediction -> its output: back to units, log-snapped, clamped."""
    y = 2.0**mean if target == "log2" else float(mean)
    return clamp(snap_log(y, legal), bounds[0], bounds[1])


@dataclass(frozen=True)
class _Leaf:
    value: int


@dataclass(frozen=True)
class _Split:
    feature: int
    threshold: int
    left: _Leaf | _Split
    right: _Leaf | _Split


def export_tree(
    model: DecisionTreeRegressor,
    target: str,
    legal: Sequence[int],
    bounds: tuple[int, int],
) -> tuple[Node, ...]:
    """The fitted tree as NEM1 nodes in preorder (children after parents).

    A split whose two children are leaves with the same output collapses into that leaf;
    this changes no output, only the node count.
    """
    tree = model.tree_

    def walk(i: int) -> _Leaf | _Split:
        left, right = int(tree.children_left[i]), int(tree.children_right[i])
        if left == right:  # both -1: a leaf
            return _Leaf(leaf_output(float(tree.value[i].ravel()[0]), target, legal, bounds))
        lo, hi = walk(left), walk(right)
        if isinstance(lo, _Leaf) and lo == hi:
            return lo
        return _Split(int(tree.feature[i]), grid_threshold(float(tree.threshold[i])), lo, hi)

    nodes: list[Node] = []

    def emit(n: _Leaf | _Split) -> int:
        index = len(nodes)
        nodes.append(Node.leaf(0))
        if isinstance(n, _Leaf):
            nodes[index] = Node.leaf(n.value)
        else:
            left = emit(n.left)
            right = emit(n.right)
            nodes[index] = Node.split(n.feature, n.threshold, left, right)
        return index

    emit(walk(0))
    return tuple(nodes)


def evaluate_grid_rows(nodes: Sequence[Node], q: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    """Spec 10 steps 2 and 3 of one tree (its ``nodes``) for every row of the matrix ``q``
    [n, 10] of quantized (grid) features, vectorized; ``reflexforge.runtime.evaluate_raw_row``
    is the compiled evaluator of one row of raw features."""
    at = np.zeros(q.shape[0], dtype=np.int64)
    feature = np.array([n.feature for n in nodes], dtype=np.int64)
    threshold = np.array([n.threshold for n in nodes], dtype=np.int64)
    left = np.array([n.left for n in nodes], dtype=np.int64)
    right = np.array([n.right for n in nodes], dtype=np.int64)
    value = np.array([n.value for n in nodes], dtype=np.int64)
    is_leaf = np.array([n.is_leaf for n in nodes], dtype=bool)
    rows = np.arange(q.shape[0])
    for _ in range(len(nodes)):
        inner = ~is_leaf[at]
        if not inner.any():
            break
        f = np.where(inner, feature[at], 0)
        go_left = q[rows, f] <= threshold[at]
        at = np.where(inner, np.where(go_left, left[at], right[at]), at)
    return np.clip(value[at], bounds[0], bounds[1])
