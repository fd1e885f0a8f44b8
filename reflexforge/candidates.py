"""The candidate models of a build and how each is fitted (spec/training.md sections 4 and 10).

Every candidate is fitted on the training windows of every file and becomes a runtime
reflex (scaling, two trees, bounds, hysteresis); ``reflexforge.selection`` then replays them
on the validation span and one is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex
from reflexforge.config import GRID_D_US, GRID_N, PAIRS, STEP_NS, ForgeOptions
from reflexforge.horizon import horizon_costs, horizon_span
from reflexforge.pairarrays import PAIR_D_US, PAIR_N
from reflexforge.policytree import (
    PolicyLeaf,
    PolicySplit,
    PolicyTree,
    collapse,
    export_policy_tree,
    fit_policy_tree,
    leaves,
)
from reflexforge.quantize import Q_SCALE, quantize_matrix, scaling_from_training
from reflexforge.trace import Trace
from reflexforge.train import (
    FEATURE_SETS,
    RANDOM_STATE,
    TrainOptions,
    export_tree,
    fit_tree,
    grid_threshold,
)

BOUNDS = ((min(GRID_N), max(GRID_N)), (min(GRID_D_US), max(GRID_D_US)))
"""Output clamps: 1..64 packets and 50..4000 us, the ends of the oracle grid."""
LEGAL = (GRID_N, GRID_D_US)
"""The values a leaf may take, per output: the oracle grid."""
EXCLUDED_COST = 1e12
"""What the fit sees as the cost of a pair ``--min-flush-threshold`` excludes: above any real
J (µs; 1e12 µs is 11.6 days), so no leaf, split or static pair takes it, yet finite, so sums
and split gains stay numbers (spec/training.md section 6.3)."""


def allowed_costs(costs: np.ndarray, t: TrainOptions) -> np.ndarray:
    """``costs`` [n, 24] with every pair below ``t.min_flush_threshold`` at EXCLUDED_COST
    (``costs`` itself when every pair is allowed)."""
    excluded = np.flatnonzero(PAIR_N < t.min_flush_threshold)
    if not excluded.shape[0]:
        return costs
    out = np.array(costs, dtype=np.float64)
    out[:, excluded] = EXCLUDED_COST
    return out


def runtime_bounds(t: TrainOptions) -> tuple[tuple[int, int], ...]:
    """The file's output bounds: the grid's, the flush threshold's from
    ``t.min_flush_threshold`` on, so that the runtime's clamp guarantees it."""
    (_n_lo, n_hi), delay = BOUNDS
    return (t.min_flush_threshold, n_hi), delay


HORIZON_GRID: tuple[int | None, ...] = (None,)
"""Horizons the selection tries when --horizon is not given (None: the hysteresis span, the
windows a decision is in force). A 4-window horizon was in the grid until measured on 52
seed pairs: its winners (2-3 leaves, fewer than the hysteresis-span trees, so they won the
simplest-within-tolerance rule) flapped on two held-out traces and were refused, and on
the others were not better on average (README, "The gate across profiles and seeds")."""
MIN_LEAF_GRID = (20, 100)
"""Minimum leaf sizes (windows) the selection tries when --min-leaf is not given."""
DEFAULT_FEATURES = "load"
"""The features of the cost-sensitive trees when --features is not given: the offered load
(packet and byte rates, packet size mean and variance), which the policy cannot move, so
every candidate's closed loop is its open loop. Trees on all ten features won validation
replays and then failed held-out ones in closed loop; trees that could also split on
rtt_ewma (``arrivals``) learned which stretch of a training trace they were in and sent
held-out traffic of another RTT to one-packet batches (README, "The gate across
profiles")."""
FEATURE_GRID = (DEFAULT_FEATURES,)
"""Feature sets the selection tries when --features is not given."""
DEFAULT_MIN_LEAF = 20
"""Minimum leaf size of a cost-sensitive tree built without selection."""
HYSTERESIS_GRID: tuple[tuple[int, int], ...] = ((5, 15),)
"""(confirm_steps, dwell_steps) the selection also tries for the cost-sensitive trees with
``--hysteresis-grid`` (``TrainOptions.hysteresis_grid``), each judged at its own hysteresis.
Off by default: faster following won the validation replay on the seeds it was measured
on, but on 24 fresh seed pairs its winners flapped on the held-out trace and were refused
on 5 (README, "The gate across profiles and seeds")."""


@dataclass(frozen=True)
class Candidate:
    """One model to fit: its family and, for cost-sensitive trees, its shape."""

    model: str
    horizon: int | None = None
    min_leaf: int | None = None
    features: str = "all"
    hysteresis: tuple[int, int] | None = None
    """(confirm_steps, dwell_steps) of this candidate; None: the options'."""
    copies: bool = True
    """A tree fitted with the rate copies of ``--augment`` (when there are any); False: one
    of the trees tried without them when the static pair wins (spec/training.md 10)."""

    def options(self, t: TrainOptions) -> TrainOptions:
        """``t`` with this candidate's hysteresis."""
        if self.hysteresis is None:
            return t
        return replace(t, confirm_steps=self.hysteresis[0], dwell_steps=self.hysteresis[1])

    def label(self, t: TrainOptions) -> str:
        if self.model == "static":
            return "best static pair"
        if self.model == "regressors":
            return f"regressors ({self.features})"
        mine = self.options(t)
        _, length = horizon_span(mine.confirm_steps, mine.dwell_steps, self.horizon,
                                 t.label_target)
        extra = "" if self.hysteresis is None else f" C={mine.confirm_steps} W={mine.dwell_steps}"
        extra += "" if self.copies else " no copies"
        return f"{self.model} H={length} leaf={self.min_leaf} {self.features}{extra}"

    def as_metadata(self, t: TrainOptions) -> dict[str, object]:
        out: dict[str, object] = {"features": self.features, "model": self.model}
        if self.model in ("policy-tree", "cost-regressor"):
            mine = self.options(t)
            offset, length = horizon_span(mine.confirm_steps, mine.dwell_steps, self.horizon,
                                          t.label_target)
            out |= {"horizon": length, "horizon_offset": offset, "min_leaf": self.min_leaf}
            if self.hysteresis is not None:
                out |= {"confirm_steps": mine.confirm_steps, "dwell_steps": mine.dwell_steps}
        if not self.copies:
            out["augment"] = []
        return out


def candidate_grid(t: TrainOptions) -> list[Candidate]:
    """The candidates of a build: the model of ``t.model`` alone without selection; with it,
    the best static pair, then the family of ``t.model`` (``auto``: policy trees) over the
    grid (an option given on the command line fixes its axis; cost-sensitive trees at the
    options' hysteresis first, then at each of HYSTERESIS_GRID when ``t.hysteresis_grid``)."""
    families = ("policy-tree",) if t.model == "auto" else (t.model,)
    if t.select == "off":
        model = "policy-tree" if t.model == "auto" else t.model
        if model in ("policy-tree", "cost-regressor"):
            return [Candidate(model, t.horizon, t.min_leaf or DEFAULT_MIN_LEAF,
                              t.features or DEFAULT_FEATURES)]
        return [Candidate(model, features=t.features or "all")]
    out = [Candidate("static")]
    hysteresis = (None, *HYSTERESIS_GRID) if t.hysteresis_grid else (None,)
    for family in families:
        if family in ("policy-tree", "cost-regressor"):
            for cw in hysteresis:
                for h in (t.horizon,) if t.horizon is not None else HORIZON_GRID:
                    for leaf in (t.min_leaf,) if t.min_leaf is not None else MIN_LEAF_GRID:
                        for f in (t.features,) if t.features is not None else FEATURE_GRID:
                            out.append(Candidate(family, h, leaf, f, cw))
        elif family == "regressors":
            for f in (t.features,) if t.features is not None else FEATURE_GRID:
                out.append(Candidate("regressors", features=f))
    return out


def without_copies(grid: list[Candidate]) -> list[Candidate]:
    """The trees of ``grid`` fitted without the rate copies: the candidates a build adds
    when the static pair wins over the trees fitted with them (spec/training.md 10)."""
    return [replace(c, copies=False) for c in grid if c.model != "static"]


@dataclass(frozen=True)
class FileWindows:
    """One telemetry file's windows: starts, features, the oracle's costs, the number of
    training windows, the regressors' labels of every window and the trace itself."""

    starts: np.ndarray
    x: np.ndarray
    J: np.ndarray
    n_train: int
    labels: np.ndarray
    trace: Trace | None = None


@dataclass(frozen=True)
class Fitted:
    """A fitted candidate: scaling, the two exported trees and its number of leaves."""

    lo: np.ndarray
    hi: np.ndarray
    trees: tuple[tuple[Node, ...], tuple[Node, ...]]
    leaves: int
    rows: int


def runtime_reflex(lo: np.ndarray, hi: np.ndarray, trees, train_opts: TrainOptions,
                   metadata: dict[str, object]) -> Reflex:
    """The reflex a runtime runs: scaling, trees, bounds and the hysteresis of the options."""
    return Reflex(
        scaling=tuple(FeatureScale(float(a), float(b)) for a, b in zip(lo, hi, strict=True)),
        trees=tuple(trees),
        bounds=tuple(OutputBounds(a, b) for a, b in runtime_bounds(train_opts)),
        metadata=metadata,
        q_scale=Q_SCALE,
        confirm_steps=train_opts.confirm_steps,
        dwell_steps=train_opts.dwell_steps,
    )


def closed_loop_features(trace: Trace, reflex: Reflex, opts: ForgeOptions,
                         starts: np.ndarray) -> np.ndarray:
    """The features (float64[n, 10]) the reflex sees at the end of the windows at ``starts``
    when it runs the whole trace in closed loop (spec/validation.md's runtime loop)."""
    from reflexforge.closedloop import MODE_CLOSED, run_loop
    from reflexforge.runtime import flatten

    ts = np.ascontiguousarray(trace.ts_ns, dtype=np.int64)
    loop = run_loop(ts, trace.size, trace.rtt_samples, tuple(opts.incumbent), opts.flush_cost_ns,
                    opts.link_bps, MODE_CLOSED, flatten(reflex), lam=opts.lam)
    index = (np.asarray(starts, dtype=np.int64) - ts[0]) // STEP_NS
    return loop.features[index]


def _train_x(files: list[FileWindows]) -> np.ndarray:
    return np.concatenate([f.x[:f.n_train] for f in files])


def with_dagger(targets: np.ndarray, fit: Callable[[np.ndarray, np.ndarray], Fitted],
                files: list[FileWindows], opts: ForgeOptions, t: TrainOptions) -> Fitted:
    """Round 0 fits the training windows' incumbent features with ``targets`` (one row per
    training window, file by file); each of ``t.dagger_rounds`` rounds replays each file in
    closed loop under the current reflex, appends the features it saw at the end of each
    training window with the same targets, and refits on all rows (spec/training.md
    sections 6.1 and 9)."""
    rows_x, rows_t = _train_x(files), targets
    fitted = fit(rows_x, rows_t)
    if t.dagger_rounds and any(f.trace is None for f in files):
        raise ValueError("DAgger rounds need the trace the windows come from")
    for _ in range(t.dagger_rounds):
        current = runtime_reflex(fitted.lo, fitted.hi, fitted.trees, t, {})
        seen = np.concatenate([closed_loop_features(f.trace, current, opts,
                                                    f.starts[:f.n_train]) for f in files])
        rows_x = np.concatenate((rows_x, seen))
        rows_t = np.concatenate((rows_t, targets))
        fitted = fit(rows_x, rows_t)
    return fitted


def _scaled(x_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = scaling_from_training(x_rows)
    return lo, hi, quantize_matrix(x_rows, lo, hi, Q_SCALE)


def fit_regressors(x_rows: np.ndarray, labels: np.ndarray, t: TrainOptions,
                   features: str) -> Fitted:
    """Two DecisionTreeRegressors on the pair labels' flush threshold and delay."""
    lo, hi, q = _scaled(x_rows)
    trees = []
    for o, column in enumerate((PAIR_N, PAIR_D_US)):
        model = fit_tree(q, column[labels], t.target, features, t.max_depth)
        trees.append(export_tree(model, t.target, LEGAL[o], BOUNDS[o]))
    count = max(sum(n.is_leaf for n in tree) for tree in trees)
    return Fitted(lo, hi, (trees[0], trees[1]), count, x_rows.shape[0])


def cost_regressor_tree(q: np.ndarray, costs: np.ndarray, features: str, max_depth: int,
                        min_leaf: int) -> PolicyTree:
    """scikit-learn's multi-output DecisionTreeRegressor fitted on the costs (squared error,
    features outside the set zeroed); each leaf takes the pair of lowest mean cost."""
    from sklearn.tree import DecisionTreeRegressor  # here: `build --help` needs no sklearn

    keep = FEATURE_SETS[features]
    q = np.where(np.isin(np.arange(q.shape[1]), keep), q, 0)
    model = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=min_leaf,
                                  random_state=RANDOM_STATE)
    model.fit(np.asarray(q, dtype=np.float32), costs)
    tree = model.tree_

    def walk(i: int) -> PolicyTree:
        left, right = int(tree.children_left[i]), int(tree.children_right[i])
        if left == right:
            return PolicyLeaf(int(np.argmin(tree.value[i][:, 0])), int(tree.n_node_samples[i]))
        return PolicySplit(int(tree.feature[i]), grid_threshold(float(tree.threshold[i])),
                           walk(left), walk(right))

    return walk(0)


def follows_next(files: list[FileWindows]) -> np.ndarray:
    """bool per training row: the next training row is the window one step later (same
    file)."""
    parts = []
    for f in files:
        starts = f.starts[:f.n_train]
        parts.append(np.concatenate((np.diff(starts) == STEP_NS, [False])))
    return np.concatenate(parts)


def fit_cost_tree(x_rows: np.ndarray, costs: np.ndarray, c: Candidate, t: TrainOptions,
                  follows: np.ndarray) -> Fitted:
    """A policy tree (or the cost regressor) on the rows' horizon costs; ``follows`` is
    ``follows_next`` of the training windows, repeated for the DAgger rows."""
    lo, hi, q = _scaled(x_rows)
    if c.model == "policy-tree":
        copies = x_rows.shape[0] // follows.shape[0]
        tree = fit_policy_tree(q, costs, FEATURE_SETS[c.features], t.max_depth,
                               int(c.min_leaf or DEFAULT_MIN_LEAF), np.tile(follows, copies),
                               float(t.switch_cost_us))
    else:
        tree = cost_regressor_tree(q, costs, c.features, t.max_depth,
                                   int(c.min_leaf or DEFAULT_MIN_LEAF))
    return Fitted(lo, hi, export_policy_tree(tree), leaves(collapse(tree)), x_rows.shape[0])


def static_fit(files: list[FileWindows], t: TrainOptions) -> Fitted:
    """The best static pair on the training windows (lowest mean J, ties to the lowest
    index; among the pairs ``t`` allows), as one leaf per tree."""
    x = _train_x(files)
    j = allowed_costs(np.concatenate([f.J[:f.n_train] for f in files]), t)
    best = int(np.argmin(j.mean(axis=0)))
    lo, hi = scaling_from_training(x)
    n, d = PAIRS[best]
    return Fitted(lo, hi, ((Node.leaf(n),), (Node.leaf(d),)), 1, x.shape[0])


def fit_candidate(c: Candidate, files: list[FileWindows], opts: ForgeOptions,
                  t: TrainOptions) -> Fitted:
    """Fit one candidate on the training windows of ``files`` (with DAgger rounds), at its
    own hysteresis."""
    t = c.options(t)
    if c.model == "static":
        return static_fit(files, t)
    if c.model == "regressors":
        labels = np.concatenate([f.labels[:f.n_train] for f in files])
        return with_dagger(labels, lambda x, y: fit_regressors(x, y, t, c.features), files,
                           opts, t)
    offset, length = horizon_span(t.confirm_steps, t.dwell_steps, c.horizon, t.label_target)
    costs = np.concatenate([horizon_costs(allowed_costs(f.J, t), f.starts, offset, length,
                                          t.horizon_agg)[:f.n_train] for f in files])
    follows = follows_next(files)
    return with_dagger(costs, lambda x, y: fit_cost_tree(x, y, c, t, follows), files, opts, t)
