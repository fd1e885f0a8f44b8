"""From a labelled trace to a ``Reflex``: split, scale, quantize, train, export, validate,
and the metadata that records all of it (spec/training.md)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import sklearn

from reflexfmt import Reflex
from reflexfmt.limits import FEATURE_SCHEMA
from reflexforge.candidates import (
    BOUNDS,
    Candidate,
    FileWindows,
    Fitted,
    allowed_costs,
    candidate_grid,
    fit_candidate,
    runtime_reflex,
    without_copies,
)
from reflexforge.config import (
    GRID_D_US,
    GRID_N,
    PAIRS,
    STEP_NS,
    WINDOW_NS,
    ForgeOptions,
)
from reflexforge.errors import E_TRAINSET, ForgeError
from reflexforge.label_smoothing import count_switches, training_labels
from reflexforge.oracle import OracleCosts, best_pairs, pair_indices
from reflexforge.provenance import created_at, trainer_commit
from reflexforge.quantize import Q_SCALE, quantize_matrix
from reflexforge.selection import (
    SELECT_TOLERANCE,
    Score,
    choose,
    score_all,
    validation_span,
)
from reflexforge.trace import Trace
from reflexforge.train import RANDOM_STATE, TrainOptions, evaluate_grid_rows, split_by_time


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
    candidates: list[tuple[Candidate, int, Score | None]] = field(default_factory=list)
    """Every candidate with its number of leaves and validation score (None without one)."""
    winner: int = 0
    refitted: bool = False
    """The file holds the winner refitted on all windows (spec/training.md section 10)."""
    seconds: dict[str, float] = field(default_factory=dict)


def chosen_pairs(fitted: Fitted, x: np.ndarray) -> np.ndarray:
    """Index into PAIRS of the pair ``fitted``'s trees give each row of ``x`` (open loop)."""
    q = quantize_matrix(x, fitted.lo, fitted.hi, Q_SCALE)
    return pair_indices(evaluate_grid_rows(fitted.trees[0], q, BOUNDS[0]),
                        evaluate_grid_rows(fitted.trees[1], q, BOUNDS[1]))


def mean_cost(chosen: np.ndarray, costs: np.ndarray) -> float:
    """The mean over rows of ``costs[row, chosen[row]]``."""
    return float(costs[np.arange(len(chosen)), chosen].mean())


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
    trace: Trace | None = None,
) -> tuple[Reflex, BuildReport]:
    """Train and quantize a reflex from the feature windows and the oracle's cost matrix.

    ``trace`` (the telemetry the windows come from) is needed for model selection's
    closed-loop replays and for DAgger rounds; without it the one model of
    ``train_opts.model`` is built.
    """
    return reflex_from_segments([Segment(starts, x, costs, trace)], telemetry_sha1, opts,
                                train_opts)


@dataclass(frozen=True)
class Segment:
    """The windows of one telemetry file: starts, features, oracle costs, and the trace
    itself (needed for model selection and DAgger rounds)."""

    starts: np.ndarray
    x: np.ndarray
    costs: OracleCosts
    trace: Trace | None = None


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


def rate_copies(traces: list[Trace | None], opts: ForgeOptions,
                factors: tuple[int, ...], stop: threading.Event | None = None
                ) -> list[Segment]:
    """Section 6.4: each trace at each rate factor, labelled like a file of its own (a copy
    without a complete window is left out; None: a file without its trace). ``stop`` set
    from another thread ends the work (``parallel.Stopped``)."""
    from reflexforge.augment import rate_copy
    from reflexforge.labelling import make_training_set

    out = []
    for trace in traces:
        if trace is None:
            continue
        for factor in factors:
            if (copy := rate_copy(trace, factor)) is not None:
                tset, costs = make_training_set(copy, opts, stop=stop)
                out.append(Segment(tset.window_start_ns, tset.X, costs, copy))
    return out


def reflex_from_segments(
    segments: list[Segment],
    telemetry_sha1: str,
    opts: ForgeOptions,
    train_opts: TrainOptions,
    telemetry_files: list[str] | None = None,
    copies: list[Segment] | None = None,
) -> tuple[Reflex, BuildReport]:
    """``reflex_from_costs`` over the windows of one or more telemetry files
    (spec/training.md sections 9 and 10): labels, horizon costs, the 80/20 time split and
    DAgger replays are per file; every candidate is fitted on all the files' training
    windows, in file order; with selection, each is replayed in closed loop on every file's
    validation span and the winner is kept. ``copies``: the rate copies of section 6.4 when
    the caller made them already (``rate_copies`` of the segments' traces)."""
    t_start = time.perf_counter()
    given = len(segments)
    packets = [s.trace.packets_sha1() for s in segments if s.trace is not None]
    if copies is None:
        copies = rate_copies([s.trace for s in segments], opts, train_opts.augment)
    segments = list(segments) + copies
    checked = [_checked(s) for s in segments]
    files = []
    switches_plain = switches_trained = 0
    for segment, (starts, x, j) in zip(segments, checked, strict=True):
        lab = training_labels(allowed_costs(j, train_opts), starts, train_opts.label_target,
                              train_opts.switch_cost_us)
        files.append(FileWindows(starts, x, j, split_by_time(len(starts)), lab, segment.trace))
        if len(files) <= given:
            switches_plain += count_switches(best_pairs(j))
            switches_trained += count_switches(lab)
    # Section 6.4: rate copies join the trees' fit only; the static pair, the validation
    # replays and every figure below are the given files'.
    mine = files[:given]

    def fit_on(candidate: Candidate) -> list[FileWindows]:
        return mine if candidate.model == "static" or not candidate.copies else files

    x = np.concatenate([f.x for f in mine])
    j = np.concatenate([f.J for f in mine])
    val = np.concatenate([np.arange(len(f.starts)) >= f.n_train for f in mine])
    n, n_val = len(x), int(val.sum())
    spans = []
    if train_opts.select == "closed-loop" and all(f.trace is not None for f in mine):
        spans = [sp for sp in (validation_span(f.trace, f.starts, f.x, f.n_train, f.J, opts)
                               for f in mine) if sp is not None]
    # Without a validation span to replay, there is nothing to select on: build --model.
    grid = candidate_grid(train_opts if spans else replace(train_opts, select="off"))
    fitted = [fit_candidate(c, fit_on(c), opts, train_opts) for c in grid]
    # Each candidate's pair on every window, open loop (x and j hold every file's windows in
    # order, so ~val are the training windows).
    pairs = [chosen_pairs(fi, x) for fi in fitted]
    t_fit = time.perf_counter()
    scores: list[Score | None] = [None] * len(grid)
    winner = 0

    def scored(cands: list[Candidate], fits: list[Fitted], chosen: list[np.ndarray]
               ) -> list[Score | None]:
        out = score_all([runtime_reflex(fi.lo, fi.hi, fi.trees, c.options(train_opts), {})
                         for c, fi in zip(cands, fits, strict=True)], spans, opts)
        return [None if sc is None else replace(sc, train_mean_j_us=mean_cost(p[~val], j[~val]))
                for sc, p in zip(out, chosen, strict=True)]

    if len(grid) > 1:
        scores = scored(grid, fitted, pairs)
        winner = choose(scores, [fi.leaves for fi in fitted])  # spans given: all scored
        if winner == 0 and len(files) > given:
            # Section 10: the static pair beat the trees fitted with the rate copies; the
            # same trees fitted without them are candidates too.
            # A one-leaf fit is a static pair, which c00 stands for: not added.
            more, fits = [], []
            for c in without_copies(grid):
                if (fi := fit_candidate(c, fit_on(c), opts, train_opts)).leaves > 1:
                    more.append(c)
                    fits.append(fi)
            if more:
                chosen_more = [chosen_pairs(fi, x) for fi in fits]
                scores = scores + scored(more, fits, chosen_more)
                grid, fitted, pairs = grid + more, fitted + fits, pairs + chosen_more
                winner = choose(scores, [fi.leaves for fi in fitted])
    best: Fitted = fitted[winner]
    final, refitted = best, False
    if train_opts.refit and spans and n_val:
        final, refitted = refit(grid[winner], fit_on(grid[winner]), opts, train_opts), True
    # Section 5's figures are those of the candidate as validated (trained on the training
    # windows only), so that they stay held out even when the file holds the refit.
    chosen = pairs[winner]
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
        node_counts=(len(final.trees[0]), len(final.trees[1])),
        training_rows=final.rows,
        candidates=[(c, fi.leaves, sc) for c, fi, sc in zip(grid, fitted, scores, strict=True)],
        winner=winner,
        refitted=refitted,
    )
    metadata = build_metadata(telemetry_sha1, opts, train_opts, report)
    # Each list gives way when it would not fit (41 B a file): a build of hundreds of files
    # (packets) or of some 1,500 (files) still writes its model; telemetry_hash stays.
    if telemetry_files is not None and len(telemetry_files) > 1 and \
            _fits({**metadata, "telemetry_files": list(telemetry_files)}):
        metadata["telemetry_files"] = list(telemetry_files)
    if len(packets) == given and _fits({**metadata, "telemetry_packets": packets}):
        metadata["telemetry_packets"] = packets
    reflex = runtime_reflex(final.lo, final.hi, final.trees, grid[winner].options(train_opts),
                            metadata)
    report.seconds["fit"] = t_fit - t_start
    report.seconds["select"] = time.perf_counter() - t_fit
    report.seconds["train"] = time.perf_counter() - t_start
    return reflex, report


def refit(candidate: Candidate, files: list[FileWindows], opts: ForgeOptions,
          train_opts: TrainOptions) -> Fitted:
    """The winner fitted again, the same way, on all the windows of every file (training and
    validation), as scikit-learn's search estimators refit their best candidate."""
    everything = [replace(f, n_train=len(f.starts)) for f in files]
    return fit_candidate(candidate, everything, opts, train_opts)


def build_reflex(
    trace: Trace | list[Trace] | tuple[Trace, ...],
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
    from reflexforge.labelling import make_training_set
    from reflexforge.trainset import write_training_set

    train_opts = train_opts or TrainOptions()
    traces = list(trace) if isinstance(trace, list | tuple) else [trace]
    if len(traces) > 1 and (telemetry_sha1 is None or training_set_path is not None):
        raise ValueError("several traces need telemetry_sha1 and no training_set_path")
    t0 = time.perf_counter()
    segments = []
    # The rate copies (section 6.4) are labelled on a thread beside the given traces: the
    # labelling kernel releases the GIL, so on two cores they take the time of one. The
    # thread starts once the first trace's features are made, so that the two whole-trace
    # replays' completion times (8 bytes per packet each) are never held at once.
    # If this thread is interrupted (Ctrl-C, SIGTERM) or fails, ``stop`` tells the copies'
    # thread to give up (its labelling cancels what has not started), so leaving the executor, which
    # waits for that thread, is prompt.
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        started: list[Future] = []

        def start_copies() -> None:
            if not started:
                started.append(pool.submit(rate_copies, traces, opts, train_opts.augment,
                                           stop))

        try:
            for one in traces:
                tset, costs = make_training_set(one, opts, progress, features_done=start_copies)
                if training_set_path is not None:
                    write_training_set(training_set_path, tset)
                segments.append(Segment(tset.window_start_ns, tset.X, costs, one))
            made = started[0].result()
        except BaseException:
            stop.set()
            raise
    t1 = time.perf_counter()
    reflex, report = reflex_from_segments(
        segments, traces[0].sha1 if telemetry_sha1 is None else telemetry_sha1, opts,
        train_opts, [t.sha1 for t in traces], copies=made)
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
            "max_depth": train_opts.max_depth,
            "model": report.candidates[report.winner][0].model,
            "q_scale": Q_SCALE,
            "random_state": RANDOM_STATE,
            "selection": selection_metadata(train_opts, report),
            "sklearn": sklearn.__version__,
            "split": "time_first_80_percent",
            "stability": report.candidates[report.winner][0].options(train_opts).as_metadata(),
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


def candidate_key(index: int) -> str:
    """The metadata key of candidate ``index``: ``c00``, ``c01``, ..."""
    return f"c{index:02d}"


def selection_metadata(train_opts: TrainOptions, report: BuildReport) -> dict[str, object]:
    """Every candidate (its shape, leaves and validation figures) and the winner."""
    candidates = {}
    for i, (c, count, sc) in enumerate(report.candidates):
        entry = c.as_metadata(train_opts) | {"leaves": count}
        if sc is not None:
            entry |= sc.as_metadata()
        candidates[candidate_key(i)] = entry
    return {"candidates": candidates, "method": train_opts.select,
            "refit": report.refitted, "tolerance": SELECT_TOLERANCE,
            "winner": candidate_key(report.winner)}


def _fits(metadata: dict) -> bool:
    """The metadata fits in a .reflex (at most MAX_METADATA bytes, spec/NEM1.md 8)."""
    from reflexfmt.limits import MAX_METADATA
    from reflexfmt.metadata import emit

    return len(emit(metadata)) <= MAX_METADATA
