"""Model selection by closed-loop replay on the validation span (spec/training.md section 10).

Every candidate reflex runs, in the closed loop of spec/validation.md, over the packets of
each file's validation span (the last 20 % of its windows, never trained on), with the
steps and windows of the whole trace. Its figures are the mean J of the schedule it had in
force over the validation windows (each window replayed alone under that schedule, as the
shadow gate does), the gap closed between the incumbent and the per-window oracle, its
switches per minute, its oscillations under the gate's definition and its ∆p95 against the
incumbent over the span's packets.

A candidate is *eligible* when it would pass the gate's checks there: ∆p95 <= -10 %, mean J
not above the incumbent's, and at most one oscillation in any 30 s, counted both on the
closed-loop validation replay and on the open-loop decisions over the whole file (the
trees on every window's incumbent features, through the runtime's hysteresis): a 2-minute
span alone is too short to see how often a policy flaps. The winner is the simplest
eligible candidate (fewest leaves, then the earliest) within ``SELECT_TOLERANCE`` of the
lowest mean J; if none is eligible, the simplest candidate of all (the static pair): the
span then shows no candidate the gate would pass, and a more complex model is chosen only
on evidence. Where the span is silent (a tied tree made exactly the static pair's decisions
throughout it), the training windows decide (``choose``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reflexforge.baselines import p95_ns_in_place
from reflexforge.closedloop import MODE_CLOSED, RttSamples, run_loop, step_count
from reflexforge.config import LEAD_STEPS, STEP_NS, ForgeOptions
from reflexforge.gate import OSCILLATIONS_MAX_PER_30S, delta_p95_passes, delta_ratio, gap_closed
from reflexforge.oscillation import (
    STEP_S,
    gate_lookback,
    load_rows,
    offered_load,
    oscillation_stats,
    switch_load,
)
from reflexforge.quantize import quantize_matrix
from reflexforge.runtime import flatten, runtime_steps
from reflexforge.schedulecost import schedule_window_J
from reflexforge.simulate import simulate
from reflexforge.trace import Trace
from reflexforge.train import evaluate_grid_rows

SELECT_TOLERANCE = 0.005
"""A candidate within 0.5 % of the lowest validation mean J counts as tied with it; the
simplest tied candidate wins (fewest leaves, then the earliest in candidate order)."""


@dataclass(frozen=True)
class ValidationSpan:
    """The packets of one file from its first validation window on, what the figures
    compare with (per validation window, the oracle's best J and the incumbent's J, and the
    incumbent's p95 over the span's packets), every window's incumbent features, the
    file's offered load per step (``oscillation.offered_load``), the span's first step and
    the step each open-loop decision is applied at (two incumbent steps, then the step at
    each window's end)."""

    ts: np.ndarray
    size: np.ndarray
    rtt: RttSamples  # sparse: (packet indices, values) within the span
    t0: int
    starts: np.ndarray
    oracle_J: np.ndarray
    pair_J: np.ndarray  # the oracle's J of every pair on each validation window
    incumbent_J: np.ndarray
    incumbent_p95_ns: int
    x_all: np.ndarray
    per_step: np.ndarray
    first_step: int
    row_steps: np.ndarray


def validation_span(trace: Trace, starts: np.ndarray, x: np.ndarray, n_train: int,
                    costs_J: np.ndarray, opts: ForgeOptions) -> ValidationSpan | None:
    """The validation span of one file (None when it has no validation window)."""
    starts = np.asarray(starts, dtype=np.int64)
    if n_train >= starts.shape[0]:
        return None
    t0 = int(starts[n_train])
    ts_all = np.asarray(trace.ts_ns)
    first = int(np.searchsorted(ts_all, t0, side="left"))
    ts = np.ascontiguousarray(ts_all[first:], dtype=np.int64)
    size = np.asarray(trace.size)[first:]
    at, values = trace.rtt_samples
    after = at >= first
    rtt = (at[after] - first, values[after])
    val = starts[n_train:]
    steps = step_count(ts, t0)
    n, d_us = opts.incumbent
    pair_J = np.ascontiguousarray(costs_J[n_train:])
    inc_J = schedule_window_J(pair_J, ts, size, val, np.full(steps, n), np.full(steps, d_us),
                              opts.lam, opts.flush_cost_ns, opts.link_bps, t0)
    completion, _ = simulate(ts, size, n, d_us * 1000, opts.flush_cost_ns, opts.link_bps)
    origin = int(ts_all[0])
    per_step = offered_load(ts_all, np.asarray(trace.size), step_count(ts_all), origin)
    row_steps = np.concatenate((np.arange(LEAD_STEPS), (starts - origin) // STEP_NS + LEAD_STEPS))
    return ValidationSpan(ts, size, rtt, t0, val, pair_J.min(axis=1), pair_J, inc_J,
                          p95_ns_in_place(ts, completion),
                          np.asarray(x, dtype=np.float64), per_step,
                          (t0 - origin) // STEP_NS, row_steps)


@dataclass(frozen=True)
class Score:
    """A candidate's validation figures, pooled over the files' validation windows."""

    mean_j_us: float
    gap_closed: float | None
    switches_per_min: float
    oscillations_max_per_30s: int
    delta_p95: float | None
    eligible: bool
    schedule: str = ""
    """A digest of the pairs in force at every step of the replays: equal digests, the same
    decisions throughout the validation spans."""
    train_mean_j_us: float | None = None
    """The mean J, open loop, of the candidate's pairs on its own training windows
    (``pipeline.mean_cost``); set by the build, used only by ``choose``'s rule for a
    validation span that cannot tell a tree from the static pair."""

    def as_metadata(self) -> dict[str, object]:
        out: dict[str, object] = {
            "delta_p95": self.delta_p95, "eligible": self.eligible,
            "gap_closed": self.gap_closed, "mean_j_us": self.mean_j_us,
            "oscillations_max_per_30s": self.oscillations_max_per_30s,
            "switches_per_min": self.switches_per_min}
        if self.train_mean_j_us is not None:
            out["train_mean_j_us"] = self.train_mean_j_us
        return out


def open_loop_oscillations(reflex, span: ValidationSpan, incumbent: tuple[int, int],
                           load: np.ndarray | None = None) -> int:
    """Worst oscillations per 30 s of the applied pairs when the trees see every window's
    incumbent features in order (after the runtime's hysteresis; two incumbent steps
    first), each decision judged against the load before the step it is applied at
    (``load``: the file's ``switch_load`` for the reflex's confirm_steps, computed when
    not given)."""
    x_all = span.x_all
    q = quantize_matrix(x_all, np.array([s.lo for s in reflex.scaling]),
                        np.array([s.hi for s in reflex.scaling]), reflex.q_scale)
    bounds = [(b.min, b.max) for b in reflex.bounds]
    raw = np.stack([evaluate_grid_rows(reflex.trees[o], q, bounds[o]) for o in range(2)], axis=1)
    applied = runtime_steps(np.ascontiguousarray(raw, dtype=np.int64), reflex.confirm_steps,
                            reflex.dwell_steps)
    n = np.concatenate(([incumbent[0]] * 2, applied[:, 0]))
    d = np.concatenate(([incumbent[1]] * 2, applied[:, 1]))
    lookback = gate_lookback(reflex.confirm_steps, reflex.dwell_steps)
    if load is None:
        load = switch_load(span.per_step, reflex.confirm_steps)
    return oscillation_stats(n, d, lookback=lookback,
                             load=load_rows(load, span.row_steps)).oscillations_max_per_30s


def score(reflex, spans: Sequence[ValidationSpan], opts: ForgeOptions) -> Score | None:
    """The pooled validation figures of ``reflex`` over ``spans`` (None without a span)."""
    if not spans:
        return None
    flat = flatten(reflex)
    lookback = gate_lookback(reflex.confirm_steps, reflex.dwell_steps)
    js, inc, oracle = [], [], []
    switches, minutes, osc, p95_ok = 0, 0.0, 0, True
    worst_delta: float | None = None
    digest = hashlib.blake2b(digest_size=16)
    for span in spans:
        loop = run_loop(span.ts, span.size, span.rtt, opts.incumbent, opts.flush_cost_ns,
                        opts.link_bps, MODE_CLOSED, flat=flat, lam=opts.lam, t0=span.t0)
        for column in (loop.schedule_n, loop.schedule_d_us):
            digest.update(np.ascontiguousarray(column, dtype=np.int64).tobytes())
        window_J = schedule_window_J(span.pair_J, span.ts, span.size, span.starts,
                                     loop.schedule_n, loop.schedule_d_us, opts.lam,
                                     opts.flush_cost_ns, opts.link_bps, span.t0)
        load = switch_load(span.per_step, reflex.confirm_steps)
        steps = span.first_step + np.arange(loop.schedule_n.shape[0])
        stats = oscillation_stats(loop.schedule_n, loop.schedule_d_us, lookback=lookback,
                                  load=load_rows(load, steps))
        p95 = p95_ns_in_place(span.ts, loop.completion)
        p95_ok &= delta_p95_passes(p95, span.incumbent_p95_ns)
        delta = delta_ratio(p95, span.incumbent_p95_ns)
        if delta is not None and (worst_delta is None or delta > worst_delta):
            worst_delta = delta
        js.append(window_J)
        inc.append(span.incumbent_J)
        oracle.append(span.oracle_J)
        switches += stats.switches
        minutes += stats.steps * STEP_S / 60.0
        osc = max(osc, stats.oscillations_max_per_30s,
                  open_loop_oscillations(reflex, span, opts.incumbent, load))
    mean_j = float(np.concatenate(js).mean())
    j_inc = float(np.concatenate(inc).mean())
    j_or = float(np.concatenate(oracle).mean())
    eligible = p95_ok and mean_j <= j_inc and osc <= OSCILLATIONS_MAX_PER_30S
    return Score(mean_j_us=mean_j, gap_closed=gap_closed(j_inc, j_or, mean_j),
                 switches_per_min=switches / minutes if minutes > 0 else 0.0,
                 oscillations_max_per_30s=osc, delta_p95=worst_delta, eligible=eligible,
                 schedule=digest.hexdigest())


def score_all(reflexes: Sequence, spans: Sequence[ValidationSpan], opts: ForgeOptions
              ) -> list[Score | None]:
    """``score`` of every reflex, in order: in this process, on ``opts.workers`` threads (the
    replay kernels release the GIL; default all cores), or on the Dask cluster at
    ``opts.dask`` (the spans are scattered to every worker once). Each score depends only on
    its reflex and the spans, so the backend cannot change a result; equal reflexes (the
    grid's trees often coincide) are scored once."""
    if not spans:
        return [None] * len(reflexes)
    distinct: list = []
    which = []
    for reflex in reflexes:
        same = next((i for i, r in enumerate(distinct) if r == reflex), None)
        if same is None:
            distinct.append(reflex)
            same = len(distinct) - 1
        which.append(same)
    scores = _score_each(distinct, spans, opts)
    return [scores[i] for i in which]


def _score_each(reflexes: Sequence, spans: Sequence[ValidationSpan], opts: ForgeOptions
                ) -> list[Score | None]:
    if opts.dask is not None:
        from reflexforge.parallel import DASK_CONNECT_TIMEOUT, connect_dask

        client = connect_dask(opts.dask, DASK_CONNECT_TIMEOUT)
        with client:
            shared = client.scatter(list(spans), broadcast=True)
            futures = [client.submit(score, r, shared, opts, pure=False) for r in reflexes]
            return list(client.gather(futures))
    from reflexforge.parallel import default_workers

    threads = min(len(reflexes), opts.workers or default_workers())
    if threads <= 1:
        return [score(r, spans, opts) for r in reflexes]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda r: score(r, spans, opts), reflexes))


def choose(scores: Sequence[Score], leaves: Sequence[int]) -> int:
    """The winner's index: among eligible candidates, the one with the fewest leaves, then
    the earliest, whose mean J is within SELECT_TOLERANCE of the lowest; if none is
    eligible, the one with the fewest leaves, then the earliest.

    A silent span: when that rule picks a one-leaf candidate (the static pair) and a tied
    tree had exactly its schedule throughout the replays (the span only ever reached the
    tree's leaf that is the static pair, so it cannot tell them apart), the simplest such
    tree wins instead if its mean J on its training windows is lower than the static
    pair's by more than SELECT_TOLERANCE: the training windows are then the only
    evidence that separates them."""
    pool = [i for i, s in enumerate(scores) if s.eligible]
    if not pool:
        return min(range(len(scores)), key=lambda i: (leaves[i], i))
    best = min(scores[i].mean_j_us for i in pool)
    tied = [i for i in pool if scores[i].mean_j_us <= best * (1 + SELECT_TOLERANCE)]
    winner = min(tied, key=lambda i: (leaves[i], i))
    static = scores[winner]
    same = [i for i in tied if leaves[i] > 1 and static.schedule
            and scores[i].schedule == static.schedule]
    if leaves[winner] > 1 or not same or static.train_mean_j_us is None:
        return winner
    tree = min(same, key=lambda i: (leaves[i], i))
    tree_j = scores[tree].train_mean_j_us
    if tree_j is not None and tree_j * (1 + SELECT_TOLERANCE) < static.train_mean_j_us:
        return tree
    return winner
