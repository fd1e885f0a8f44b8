"""From a labelled trace to a ``Reflex``: split, scale, quantize, train, export, validate,
and the metadata that records all of it (spec/training.md)."""

from __future__ import annotations

import functools
import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sklearn

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex
from reflexforge.config import (
    GRID_D_US,
    GRID_N,
    PAIRS,
    STEP_NS,
    WINDOW_NS,
    ForgeOptions,
    source_date_epoch,
)
from reflexforge.errors import E_TRAINSET, ForgeError
from reflexforge.labels import count_switches, training_labels
from reflexforge.oracle import OracleCosts, best_pairs
from reflexforge.quantize import Q_SCALE, quantize_matrix, scaling_from_training
from reflexforge.train import (
    MAX_DEPTH,
    RANDOM_STATE,
    TrainOptions,
    evaluate_tree,
    export_tree,
    fit_tree,
    split_by_time,
)

FEATURE_SCHEMA = "v1"
BOUNDS = ((min(GRID_N), max(GRID_N)), (min(GRID_D_US), max(GRID_D_US)))
"""Output clamps: 1..64 packets and 50..4000 us, the ends of the oracle grid."""
LEGAL = (GRID_N, GRID_D_US)
"""The values a leaf may take, per output: the oracle grid."""
_PAIR_N = np.array([n for n, _ in PAIRS], dtype=np.int64)
_PAIR_D = np.array([d for _, d in PAIRS], dtype=np.int64)


@dataclass(frozen=True)
class Figures:
    """Exact-match rate against the oracle's labels and mean J regret (us) on some windows."""

    exact_match: float | None
    mean_regret_us: float | None

    def as_metadata(self) -> dict[str, object]:
        return {"exact_match": self.exact_match, "mean_regret_us": self.mean_regret_us}


@dataclass
class BuildReport:
    """What a build did and how well the model does on the validation windows."""

    windows: int
    train_windows: int
    validation_windows: int
    model: Figures
    static: Figures
    static_pair: tuple[int, int]
    model_train: Figures
    oracle_mean_j_us: float | None
    label_switches_plain: int
    label_switches_trained: int
    node_counts: tuple[int, int]
    training_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def pair_indices(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Index into PAIRS of each (flush_threshold, max_batch_delay_us), -1 if not on the grid."""
    out = np.full(len(n), -1, dtype=np.int64)
    for i, (pn, pd) in enumerate(PAIRS):
        out[(n == pn) & (d == pd)] = i
    return out


def figures(chosen: np.ndarray, costs: np.ndarray) -> Figures:
    """Exact match against the per-window argmin and mean regret of the chosen pair indices."""
    if len(chosen) == 0:
        return Figures(None, None)
    oracle = best_pairs(costs)
    rows = np.arange(len(chosen))
    regret = costs[rows, chosen] - costs[rows, oracle]
    return Figures(float(np.mean(chosen == oracle)), float(np.mean(regret)))


def reflex_from_costs(
    starts: np.ndarray,
    x: np.ndarray,
    costs: OracleCosts,
    telemetry_sha1: str,
    opts: ForgeOptions,
    train_opts: TrainOptions,
    trace=None,
) -> tuple[Reflex, BuildReport]:
    """Train and quantize a reflex from the feature windows and the oracle's cost matrix.

    ``trace`` (int64 arrays ``ts_ns``, ``size``, ``rtt_ns``: the telemetry the windows come
    from) is needed only for DAgger rounds (``train_opts.dagger_rounds > 0``).
    """
    return reflex_from_segments([Segment(starts, x, costs, trace)], telemetry_sha1, opts,
                                train_opts)


@dataclass(frozen=True)
class Segment:
    """The windows of one telemetry file: starts, features, oracle costs, and the trace
    itself (needed only for DAgger rounds)."""

    starts: np.ndarray
    x: np.ndarray
    costs: OracleCosts
    trace: object = None


def _checked(segment: Segment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts = np.asarray(segment.starts, dtype=np.int64)
    x = np.asarray(segment.x, dtype=np.float64)
    j = np.asarray(segment.costs.J, dtype=np.float64)
    n = len(starts)
    if n == 0 or x.shape != (n, 10) or j.shape != (n, len(PAIRS)):
        raise ForgeError(E_TRAINSET, f"need at least one window with 10 features and "
                         f"{len(PAIRS)} costs, got X {x.shape} and J {j.shape}")
    if np.any(np.diff(starts) <= 0):
        raise ForgeError(E_TRAINSET, "window starts are not strictly increasing")
    for name, values in (("X", x), ("J", j)):
        bad = np.argwhere(~np.isfinite(values))
        if bad.shape[0]:
            w, col = (int(v) for v in bad[0])
            raise ForgeError(E_TRAINSET, f"non-finite {name}[{w}, {col}] = {values[w, col]!r} "
                             f"(window starting at {int(starts[w])} ns)")
    return starts, x, j


def reflex_from_segments(
    segments: list[Segment],
    telemetry_sha1: str,
    opts: ForgeOptions,
    train_opts: TrainOptions,
    telemetry_files: list[str] | None = None,
) -> tuple[Reflex, BuildReport]:
    """``reflex_from_costs`` over the windows of one or more telemetry files
    (spec/training.md section 9): labels, the 80/20 time split and DAgger replays are per
    file; the trees are fitted on all the files' training windows, in file order."""
    t_start = time.perf_counter()
    checked = [_checked(s) for s in segments]
    xs, js, val = [], [], []
    train_x, train_labels, train_starts, train_traces = [], [], [], []
    switches_plain = switches_trained = 0
    for segment, (starts, x, j) in zip(segments, checked, strict=True):
        n = len(starts)
        n_train = split_by_time(n)
        lab = training_labels(j, starts, train_opts.label_target, train_opts.switch_cost_us)
        xs.append(x)
        js.append(j)
        val.append(np.arange(n) >= n_train)
        train_x.append(x[:n_train])
        train_labels.append(lab[:n_train])
        train_starts.append(starts[:n_train])
        train_traces.append(segment.trace)
        switches_plain += count_switches(best_pairs(j))
        switches_trained += count_switches(lab)
    x, j, val = np.concatenate(xs), np.concatenate(js), np.concatenate(val)
    n, n_val = len(x), int(val.sum())
    rows = dagger_rows(train_starts, np.concatenate(train_x), np.concatenate(train_labels),
                       opts, train_opts, train_traces)
    lo, hi, trees = rows.lo, rows.hi, rows.trees
    q = quantize_matrix(x, lo, hi, Q_SCALE)
    out_n = evaluate_tree(trees[0], q, BOUNDS[0])
    out_d = evaluate_tree(trees[1], q, BOUNDS[1])
    chosen = pair_indices(out_n, out_d)
    # The best single static pair in hindsight: lowest mean J over the validation windows.
    static = int(np.argmin(j[val].mean(axis=0) if n_val else j.mean(axis=0)))
    report = BuildReport(
        windows=n,
        train_windows=n - n_val,
        validation_windows=n_val,
        model=figures(chosen[val], j[val]),
        static=figures(np.full(n_val, static, dtype=np.int64), j[val]),
        static_pair=PAIRS[static],
        model_train=figures(chosen[~val], j[~val]),
        oracle_mean_j_us=float(j[val].min(axis=1).mean()) if n_val else None,
        label_switches_plain=switches_plain,
        label_switches_trained=switches_trained,
        node_counts=(len(trees[0]), len(trees[1])),
        training_rows=int(rows.x.shape[0]),
    )
    metadata = build_metadata(telemetry_sha1, opts, train_opts, report)
    if telemetry_files is not None and len(telemetry_files) > 1:
        metadata["telemetry_files"] = list(telemetry_files)
    reflex = runtime_reflex(lo, hi, trees, train_opts, metadata)
    report.seconds["train"] = time.perf_counter() - t_start
    return reflex, report


@dataclass(frozen=True)
class TrainingRows:
    """The rows the final trees were fitted on, the scaling over them and the exported trees."""

    x: np.ndarray  # float64[rows, 10]
    labels: np.ndarray  # int64[rows], pair indices
    lo: np.ndarray
    hi: np.ndarray
    trees: tuple[tuple[Node, ...], tuple[Node, ...]]


def fit_rows(x_rows: np.ndarray, labels: np.ndarray, train_opts: TrainOptions) -> TrainingRows:
    """Scale over the rows (min/max per feature), quantize, fit both trees and export them."""
    lo, hi = scaling_from_training(x_rows)
    q = quantize_matrix(x_rows, lo, hi, Q_SCALE)
    trees = []
    for o, column in enumerate((_PAIR_N, _PAIR_D)):
        model = fit_tree(q, column[labels], train_opts.target, train_opts.features)
        trees.append(export_tree(model, train_opts.target, LEGAL[o], BOUNDS[o]))
    return TrainingRows(x_rows, labels, lo, hi, (trees[0], trees[1]))


def dagger_rows(
    starts: list[np.ndarray],
    x: np.ndarray,
    labels: np.ndarray,
    opts: ForgeOptions,
    train_opts: TrainOptions,
    traces: list | None = None,
) -> TrainingRows:
    """Round 0 fits the training windows' incumbent features ``x`` and ``labels``; each of the
    ``train_opts.dagger_rounds`` rounds then replays each whole trace in closed loop under
    the current reflex, appends the features it saw at the end of each training window with
    the same windows' labels, rescales over all rows and refits (spec/training.md sections
    6.1 and 9). ``starts`` and ``traces`` have one entry per telemetry file: its training
    windows' starts and its trace; the rows of ``x`` are in the same order."""
    parts = list(zip(starts, traces or [None] * len(starts), strict=True))
    rows = fit_rows(x, labels, train_opts)
    if train_opts.dagger_rounds and any(t is None for _, t in parts):
        raise ValueError("DAgger rounds need the trace the windows come from")
    for _ in range(train_opts.dagger_rounds):
        current = runtime_reflex(rows.lo, rows.hi, rows.trees, train_opts, {})
        seen = np.concatenate([closed_loop_features(t, current, opts, st) for st, t in parts])
        rows = fit_rows(np.concatenate((rows.x, seen)), np.concatenate((rows.labels, labels)),
                        train_opts)
    return rows


def closed_loop_features(trace, reflex: Reflex, opts: ForgeOptions,
                         starts: np.ndarray) -> np.ndarray:
    """The features (float64[n, 10]) the reflex sees at the end of the windows at ``starts``
    when it runs the whole trace in closed loop (spec/validation.md's runtime loop)."""
    from reflexforge.closedloop import MODE_CLOSED, flatten, run_loop

    ts = np.ascontiguousarray(trace.ts_ns, dtype=np.int64)
    loop = run_loop(ts, trace.size, trace.rtt_ns, tuple(opts.incumbent), opts.flush_cost_ns,
                    opts.link_bps, MODE_CLOSED, flatten(reflex), lam=opts.lam)
    index = (np.asarray(starts, dtype=np.int64) - ts[0]) // STEP_NS
    return loop.features[index]


def runtime_reflex(lo: np.ndarray, hi: np.ndarray, trees, train_opts: TrainOptions,
                   metadata: dict[str, object]) -> Reflex:
    """The reflex a runtime runs: scaling, trees, bounds and the hysteresis of the options."""
    return Reflex(
        scaling=tuple(FeatureScale(float(a), float(b)) for a, b in zip(lo, hi, strict=True)),
        trees=tuple(trees),
        bounds=tuple(OutputBounds(a, b) for a, b in BOUNDS),
        metadata=metadata,
        q_scale=Q_SCALE,
        confirm_steps=train_opts.confirm_steps,
        dwell_steps=train_opts.dwell_steps,
    )


def build_reflex(
    trace,
    opts: ForgeOptions,
    train_opts: TrainOptions | None = None,
    *,
    progress=None,
    training_set_path: str | os.PathLike[str] | None = None,
    telemetry_sha1: str | None = None,
) -> tuple[Reflex, BuildReport]:
    """All stages after reading: features and oracle labels, then ``reflex_from_segments``.

    ``trace`` is one telemetry Trace or a list of them (several files, spec/training.md
    section 9; then ``telemetry_sha1``, the sha1 of the files' bytes one after the other, is
    required, and ``training_set_path`` is not allowed). ``progress`` is handed to
    ``make_training_set``; with ``training_set_path`` the plain training set is also written
    there (atomically).
    """
    from reflexforge.trainset import make_training_set, write_training_set

    train_opts = train_opts or TrainOptions()
    traces = list(trace) if isinstance(trace, list | tuple) else [trace]
    if len(traces) > 1 and (telemetry_sha1 is None or training_set_path is not None):
        raise ValueError("several traces need telemetry_sha1 and no training_set_path")
    t0 = time.perf_counter()
    segments = []
    for one in traces:
        tset, costs = make_training_set(one, opts, progress)
        if training_set_path is not None:
            write_training_set(training_set_path, tset)
        segments.append(Segment(tset.window_start_ns, tset.X, costs, one))
    t1 = time.perf_counter()
    reflex, report = reflex_from_segments(
        segments, traces[0].sha1 if telemetry_sha1 is None else telemetry_sha1, opts,
        train_opts, [t.sha1 for t in traces])
    report.seconds["label"] = t1 - t0
    return reflex, report


def build_metadata(
    telemetry_sha1: str, opts: ForgeOptions, train_opts: TrainOptions, report: BuildReport
) -> dict[str, object]:
    """The metadata of a forged reflex: required keys, oracle config, training, validation."""
    return {
        "created_at": created_at(),
        "feature_schema": FEATURE_SCHEMA,
        "lambda": float(opts.lam),
        "telemetry_hash": telemetry_sha1,
        "trainer_commit": trainer_commit(),
        "oracle": {
            "flush_cost_ns": int(opts.flush_cost_ns),
            "grid_d_us": list(GRID_D_US),
            "grid_n": list(GRID_N),
            "incumbent": [int(opts.incumbent[0]), int(opts.incumbent[1])],
            "lambda": float(opts.lam),
            "link_bps": int(opts.link_bps),
            "step_ns": STEP_NS,
            "window_ns": WINDOW_NS,
        },
        "training": {
            "leaf_snap": "log_nearest_ties_smaller",
            "max_depth": MAX_DEPTH,
            "model": "sklearn.tree.DecisionTreeRegressor",
            "q_scale": Q_SCALE,
            "random_state": RANDOM_STATE,
            "sklearn": sklearn.__version__,
            "split": "time_first_80_percent",
            "stability": train_opts.as_metadata(),
            "threshold": "floor",
        },
        "validation": {
            "label_switches_plain": report.label_switches_plain,
            "label_switches_trained": report.label_switches_trained,
            "model": report.model.as_metadata(),
            "model_train": report.model_train.as_metadata(),
            "oracle_mean_j_us": report.oracle_mean_j_us,
            "static": report.static.as_metadata(),
            "static_pair": list(report.static_pair),
        },
        "windows": {
            "total": report.windows,
            "train": report.train_windows,
            "validation": report.validation_windows,
        },
    }


def created_at() -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` of SOURCE_DATE_EPOCH when set, else of now."""
    seconds = source_date_epoch()
    if seconds is None:
        seconds = int(time.time())
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def trainer_commit() -> str:
    """``reflexforge@<version>``, plus ``+g<12-digit sha>`` when run from a git checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"reflexforge@{version('reflex-nem1')}"
    except PackageNotFoundError:
        text = "reflexforge@unknown"
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            sha = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            sha = ""
        if sha and all(c in "0123456789abcdef" for c in sha):
            text += f"+g{sha}"
    return text
