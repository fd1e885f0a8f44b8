"""Shadow validation and the promotion gate (spec/validation.md).

``run_shadow`` replays a trace three ways: under the incumbent while logging the reflex's
decisions (open loop), under that logged schedule, and with the reflex in control (closed
loop); it adds the baselines and applies the gate: promote iff ∆p95 <= -10% in the worse loop,
the reflex's mean J is not above the incumbent's in either loop (``gate_j``, on by default),
its gap closed at most ``gate_static`` points below the best static pair's in hindsight (on
by default, with the J check), at most one oscillation in any 30 s at the lookback its
hysteresis calls for, and a trace of at least 10 minutes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from reflexforge.baselines import hill_climber, p95_ns_in_place, static_pairs
from reflexforge.closedloop import (
    MAX_STEPS,
    MODE_CLOSED,
    MODE_OPEN,
    MODE_SCHEDULE,
    LoopResult,
    decision_count,
    run_loop,
    step_count,
)
from reflexforge.config import (
    GATE_STATIC_POINTS,
    MAX_THRESHOLD,
    PAIRS,
    STEP_NS,
    WINDOW_NS,
    ForgeOptions,
)
from reflexforge.envelope import outside_notes, outside_training_range
from reflexforge.errors import E_TRACE_SHORT, E_USAGE, ForgeError
from reflexforge.features import window_starts
from reflexforge.gate import (
    DURATION_TOLERANCE_PERCENT,
    PROMOTION_MIN_DURATION_S,
    SILENCE_S,
    GateVerdict,
    covered_s,
    covers,
    delta_ratio,
    gap_closed,
    gate,
    vs_best_static,
)
from reflexforge.ingest.plausibility import LINK_WAIT_NS, OVERLOAD_SHARE, link_queue
from reflexforge.oscillation import (
    OscillationStats,
    gate_lookback,
    load_rows,
    offered_load,
    oscillation_stats,
    switch_load,
)
from reflexforge.plotseries import window_p95_us
from reflexforge.quantize import clamp
from reflexforge.runtime import flatten
from reflexforge.schedulecost import schedule_window_J
from reflexforge.simulate import as_sizes
from reflexforge.trace import Trace

REPORT_SCHEMA = "reflex-shadow-report/1"
_NO_COMPLETIONS = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class PolicyResult:
    """One policy (sequence) replayed over the whole trace."""

    name: str
    p95_ns: int
    mean_J: float
    flushes: int
    stats: OscillationStats | None = None
    pair: tuple[int, int] | None = None


@dataclass(frozen=True)
class ShadowReport:
    """Everything the report, the table and the figure show (spec/validation.md)."""

    options: ForgeOptions
    trace: dict
    model: dict
    min_duration_s: float
    duration_s: float
    promotable: bool
    incumbent: PolicyResult
    open_loop: PolicyResult
    closed_loop: PolicyResult
    raw_stats_open: OscillationStats
    raw_stats_closed: OscillationStats
    static_p95: PolicyResult
    static_J: PolicyResult
    climber: PolicyResult
    oracle_mean_J: float
    verdict: GateVerdict
    series: dict[str, np.ndarray] = field(repr=False)
    lookback_steps: int = 10
    gate_j: bool = True
    gate_static: float | None = GATE_STATIC_POINTS
    outside: dict = field(default_factory=dict)  # reflexforge.envelope, closed loop

    @property
    def promoted(self) -> bool:
        return self.verdict.promoted

    def delta_p95(self, result: PolicyResult) -> float | None:
        return delta_ratio(result.p95_ns, self.incumbent.p95_ns)

    def delta_flushes(self, result: PolicyResult) -> float | None:
        """Relative change of ``result``'s flushes (the batching overhead) vs the incumbent's."""
        return delta_ratio(result.flushes, self.incumbent.flushes)

    def flushes_per_s(self, result: PolicyResult) -> float:
        return result.flushes / self.duration_s if self.duration_s > 0 else 0.0

    def gap_closed(self, result: PolicyResult) -> float | None:
        """``gap_closed`` of ``result`` against this report's incumbent and oracle."""
        return gap_closed(self.incumbent.mean_J, self.oracle_mean_J, result.mean_J)

    def vs_best_static(self, result: PolicyResult) -> float | None:
        """Gap closed of ``result`` minus that of the best static pair by J (points / 100)."""
        return vs_best_static(self.incumbent.mean_J, self.oracle_mean_J, result.mean_J,
                              self.static_J.mean_J)


LOOP_GAP_NOTE = 0.10
"""Open and closed loop gap closed further apart than this earn a note."""
J_NOTE_MARGIN = 0.01
"""A mean J earns a note when it is worse than another by more than this share of it."""


def notes(report: ShadowReport) -> list[str]:
    """Advice that is not part of the gate (spec/validation.md section 9, ``notes``), from the
    worse loop by mean J: a reflex worse than the incumbent or than the best static pair by
    J, a shadow trace the reflex was trained on, a link slower than the trace, and loops that
    disagree, and traffic outside the range the reflex was trained on."""
    out = []
    worse = max(report.open_loop, report.closed_loop, key=lambda r: r.mean_J)
    loop = "open loop" if worse is report.open_loop else "closed loop"
    if worse.mean_J > report.incumbent.mean_J * (1 + J_NOTE_MARGIN):
        out.append(f"the reflex's mean J ({worse.mean_J:.1f} µs, {loop}) is worse than the "
                   f"incumbent's ({report.incumbent.mean_J:.1f} µs)")
    static = report.static_J
    if static.pair is not None and static.mean_J * (1 + J_NOTE_MARGIN) < worse.mean_J:
        out.append(f"the best static pair by J, ({static.pair[0]}, {static.pair[1]} µs), has a "
                   f"lower mean J ({static.mean_J:.1f} µs) than the reflex "
                   f"({worse.mean_J:.1f} µs, {loop}): consider it as the incumbent, or retrain "
                   "on several traces of this kind of traffic")
    seen = {report.model.get("telemetry_hash"), *(report.model.get("telemetry_files") or [])}
    if report.trace.get("sha1") is not None and report.trace["sha1"] in seen:
        out.append("the shadow trace is one the reflex was trained on (same sha1): these "
                   "figures are not held out")
    elif report.trace.get("packets_sha1") in (report.model.get("telemetry_packets") or []):
        out.append("the shadow trace holds the packets of a trace the reflex was trained on "
                   "(another file, the same packets as read: a converted copy?): these "
                   "figures are not held out")
    share = report.trace.get("link_wait_share") or 0.0
    if share >= OVERLOAD_SHARE:
        out.append(f"at --link-bps {report.options.link_bps} the link alone makes {share:.1%} "
                   f"of the packets wait more than {LINK_WAIT_NS / 1e6:g} ms, longer than "
                   "any max_batch_delay: every policy's p95, and so the gate's ∆p95, measure "
                   "the link's queue; if the link is faster, shadow with its rate")
    gap_open, gap_closed = report.gap_closed(report.open_loop), report.gap_closed(
        report.closed_loop)
    if gap_open is not None and gap_closed is not None \
            and abs(gap_open - gap_closed) > LOOP_GAP_NOTE:
        out.append(f"the loops disagree (gap closed {gap_open:.1%} open, {gap_closed:.1%} "
                   "closed): the reflex sees its own policy's effects; `--features load` "
                   "(the default) trains on features it cannot change")
    return out + outside_notes(report.outside)


def link_wait_share(ts: np.ndarray, size: np.ndarray, link_bps: int) -> float:
    """The share of packets that the link alone, as a fluid queue over the steps, makes wait
    longer than LINK_WAIT_NS (W_OVERLOAD, spec/telemetry.md 7)."""
    return link_queue(ts, size, link_bps).packets / ts.shape[0] if ts.shape[0] else 0.0


def _result(name: str, ts: np.ndarray, loop: LoopResult, lookback: int, load: np.ndarray
            ) -> PolicyResult:
    """``loop``'s p95, flushes and oscillations; its mean J comes later (``_scored``), once
    the oracle has labelled the windows. The p95 is computed in ``loop.completion``, whose
    content is gone afterwards."""
    steps = np.arange(loop.schedule_n.shape[0])
    return PolicyResult(name=name, p95_ns=p95_ns_in_place(ts, loop.completion), mean_J=math.nan,
                        flushes=loop.flushes,
                        stats=oscillation_stats(loop.schedule_n, loop.schedule_d_us,
                                                lookback=lookback, load=load_rows(load, steps)))


def _scored(result: PolicyResult, schedule: tuple[np.ndarray, np.ndarray], ts: np.ndarray,
            size: np.ndarray, starts: np.ndarray, opts: ForgeOptions, pair_J: np.ndarray
            ) -> PolicyResult:
    """``result`` with the mean window J of the step schedule it had in force."""
    J = schedule_window_J(pair_J, ts, size, starts, *schedule, opts.lam, opts.flush_cost_ns,
                          opts.link_bps, int(ts[0]))
    return dataclasses.replace(result, mean_J=float(J.mean()) if J.shape[0] else 0.0)


def _raw_stats(loop: LoopResult, incumbent: tuple[int, int], lookback: int,
               load: np.ndarray) -> OscillationStats:
    """The trees' raw decisions, after two incumbent steps (index k is step k)."""
    n = np.concatenate(([incumbent[0]] * 2, loop.raw[:, 0]))
    d = np.concatenate(([incumbent[1]] * 2, loop.raw[:, 1]))
    return oscillation_stats(n, d, lookback=lookback,
                             load=load_rows(load, np.arange(n.shape[0])))


def silence_ns(ts: np.ndarray, chunk: int = 1 << 20) -> int:
    """The sum of the gaps between consecutive arrivals longer than gate.SILENCE_S (in
    chunks: no array of 8 bytes per packet)."""
    limit = SILENCE_S * 10**9
    total = 0
    for start in range(0, max(0, ts.shape[0] - 1), chunk):
        gaps = np.diff(ts[start:start + chunk + 1])
        total += int(gaps[gaps > limit].sum())
    return total


def run_shadow(reflex, trace: Trace, opts: ForgeOptions, min_duration_s: float = 600,
               progress: bool = False, workers: int | None = None,
               model_path: str | None = None, gate_j: bool = True,
               gate_static: float | None = GATE_STATIC_POINTS) -> ShadowReport:
    """Shadow-validate ``reflex`` (a ``reflexfmt.Reflex``) on ``trace`` (a telemetry Trace).

    ``gate_j`` adds the J checks to the gate: the incumbent's mean J and, unless
    ``gate_static`` (points, ``--gate-static``) is None, the best static pair's gap closed;
    ``gate_j=False`` leaves the guide's gate alone (∆p95 and oscillations).
    Raises ForgeError(E_TRACE_SHORT) when the trace covers less than ``min_duration_s`` or has
    no full 200 ms window, ForgeError(E_USAGE) when it spans more than MAX_STEPS steps or the
    reflex (read from ``model_path``, named in the error) can choose a flush threshold above
    the simulator's limit. The verdict is in ``report.promoted``.
    """
    from reflexforge.oracle import window_costs
    from reflexforge.progress import progress_bar

    gate_static = gate_static if gate_j else None
    ts = np.ascontiguousarray(trace.ts_ns, dtype=np.int64)
    size = as_sizes(trace.size)
    rtt = trace.rtt_samples  # sparse: no memory per packet
    steps = step_count(ts)
    duration_s = steps * STEP_NS / 1e9
    if steps > MAX_STEPS:
        raise ForgeError(
            E_USAGE,
            f"the trace spans {steps} steps of 100 ms ({duration_s:.1f} s), more than the "
            f"shadow replay's limit of {MAX_STEPS} steps ({MAX_STEPS * STEP_NS / 1e9:.0f} s)",
            path=getattr(trace, "path", None))
    short = [] if covers(steps * STEP_NS, min_duration_s) else [
        f"less than the {min_duration_s:g} s of --min-duration (at least "
        f"{covered_s(min_duration_s):g} s with the {DURATION_TOLERANCE_PERCENT} % tolerance)"]
    if decision_count(ts) == 0:
        short.append("less than one 200 ms window")
    if short:
        raise ForgeError(E_TRACE_SHORT, f"the trace covers {duration_s:.1f} s ({steps} steps of "
                         f"100 ms), {' and '.join(short)}", path=getattr(trace, "path", None))
    silent = silence_ns(ts)
    silent_s = silent / 1e9
    promotable = covers(steps * STEP_NS - silent, PROMOTION_MIN_DURATION_S)
    _check_reachable_outputs(reflex, model_path)
    flat = flatten(reflex)
    inc = opts.incumbent
    args = (ts, size, rtt, inc, opts.flush_cost_ns, opts.link_bps)
    starts = window_starts(ts)
    lookback = gate_lookback(reflex.confirm_steps, reflex.dwell_steps)
    per_step = offered_load(ts, size, steps, int(ts[0]))
    load = switch_load(per_step, reflex.confirm_steps)
    n_dec = decision_count(ts)
    decision_starts = int(ts[0]) + np.arange(n_dec, dtype=np.int64) * STEP_NS
    figure: dict[str, np.ndarray] = {}  # each replay's per-window p95 for the figure

    def summed_up(name: str, loop: LoopResult, key: str | None = None,
                  schedule: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[PolicyResult, LoopResult]:
        """``loop``'s result (under ``schedule`` if given) and figure series (``key``), and
        ``loop`` without its completions (8 bytes per packet)."""
        if key is not None:
            figure[key] = window_p95_us(ts, loop.completion, decision_starts)
        judged_loop = loop if schedule is None else dataclasses.replace(
            loop, schedule_n=schedule[0], schedule_d_us=schedule[1])
        result = _result(name, ts, judged_loop, lookback, load)
        return result, dataclasses.replace(loop, completion=_NO_COMPLETIONS)

    with progress_bar(7, "shadow", progress) as bar:
        logged = run_loop(*args, MODE_OPEN, flat=flat)
        incumbent_schedule = (np.full(steps, inc[0]), np.full(steps, inc[1]))
        incumbent, logged = summed_up("incumbent", logged, "p95_incumbent_us",
                                      incumbent_schedule)
        incumbent = dataclasses.replace(incumbent, pair=inc)
        bar.advance()
        # the open loop replays the logged schedule: its J is that schedule's
        open_res, _ = summed_up("reflex, open loop", run_loop(
            *args, MODE_SCHEDULE, schedule=(logged.schedule_n, logged.schedule_d_us)))
        bar.advance()
        closed = run_loop(*args, MODE_CLOSED, flat=flat)
        closed_res, closed = summed_up("reflex, closed loop", closed, "p95_reflex_us")
        one = one_pair(reflex)  # a one-leaf reflex: its pair after the start-up hand-over
        open_res = dataclasses.replace(open_res, pair=one)
        closed_res = dataclasses.replace(closed_res, pair=one)
        bar.advance()
        # labelled after the loops: the completion arrays are gone by then
        costs = window_costs(ts, size, starts, opts.lam, opts.flush_cost_ns, opts.link_bps,
                             workers=workers if workers is not None else opts.workers,
                             dask=opts.dask)
        scoring = (ts, size, starts, opts, costs.J)
        incumbent = _scored(incumbent, incumbent_schedule, *scoring)
        open_res = _scored(open_res, (logged.schedule_n, logged.schedule_d_us), *scoring)
        closed_res = _scored(closed_res, (closed.schedule_n, closed.schedule_d_us), *scoring)
        bar.advance()
        statics = static_pairs(ts, size, starts, costs.J, opts)
        figure["p95_static_us"] = window_p95_us(ts, statics.best_J_completion, decision_starts)
        statics = dataclasses.replace(statics, best_J_completion=_NO_COMPLETIONS)
        bar.advance()
        climb = hill_climber(ts, size, rtt, opts)
        climb_res, climb = summed_up("net_dim climber", climb)
        climb_res = _scored(climb_res, (climb.schedule_n, climb.schedule_d_us), *scoring)
        bar.advance()
        best_p95 = statics.best_by_p95()
        best_J = statics.best_by_J()
        static_p95 = PolicyResult("best static, p95", int(statics.p95_ns[best_p95]),
                                  float(statics.mean_J[best_p95]),
                                  int(statics.flushes[best_p95]), None, PAIRS[best_p95])
        static_J = PolicyResult("best static, J", int(statics.p95_ns[best_J]),
                                float(statics.mean_J[best_J]), int(statics.flushes[best_J]),
                                None, PAIRS[best_J])
        oracle_J = float(costs.J.min(axis=1).mean()) if costs.J.shape[0] else 0.0
        osc_max = max(open_res.stats.oscillations_max_per_30s,
                      closed_res.stats.oscillations_max_per_30s)
        vs_static = tuple(vs_best_static(incumbent.mean_J, oracle_J, r.mean_J, static_J.mean_J)
                          for r in (open_res, closed_res))
        verdict = gate(incumbent.p95_ns, open_res.p95_ns, closed_res.p95_ns, osc_max,
                       promotable, duration_s,
                       (incumbent.mean_J, open_res.mean_J, closed_res.mean_J) if gate_j
                       else None, lookback, vs_static, gate_static, static_J.pair, silent_s,
                       static_J.p95_ns)
        series = {
            "step_start_s": (np.arange(steps, dtype=np.float64) * STEP_NS) / 1e9,
            "offered_bps": per_step[:, 1] * 8.0 * (1e9 / STEP_NS),
            "reflex_n": closed.schedule_n,
            "reflex_d_us": closed.schedule_d_us,
            "window_end_s": (decision_starts - int(ts[0]) + WINDOW_NS) / 1e9,
            **figure,  # p95_incumbent_us, p95_reflex_us, p95_static_us
            "offered_pps": per_step[:, 0] * (1e9 / STEP_NS),
        }
        bar.advance()
    metadata = dict(reflex.metadata)
    files = metadata.get("telemetry_files")
    packets = metadata.get("telemetry_packets")
    model = {
        "telemetry_hash": metadata.get("telemetry_hash"),
        "telemetry_files": list(files) if isinstance(files, list) else None,
        "telemetry_packets": list(packets) if isinstance(packets, list) else None,
        "trainer_commit": metadata.get("trainer_commit"),
        "lambda": metadata.get("lambda"),
        "confirm_steps": reflex.confirm_steps,
        "dwell_steps": reflex.dwell_steps,
        "nodes": [len(tree) for tree in reflex.trees],
    }
    trace_info = {
        "path": getattr(trace, "path", None),
        "sha1": getattr(trace, "sha1", None),
        "packets_sha1": trace.packets_sha1(),
        "packets": int(ts.shape[0]),
        "steps": steps,
        "windows": int(starts.shape[0]),
        "silent_s": round(silent_s, 3),
        "link_wait_share": round(link_wait_share(ts, np.asarray(trace.size), opts.link_bps), 6),
    }
    return ShadowReport(
        options=opts, trace=trace_info, model=model, min_duration_s=float(min_duration_s),
        duration_s=duration_s, promotable=promotable, incumbent=incumbent, open_loop=open_res,
        closed_loop=closed_res, raw_stats_open=_raw_stats(logged, inc, lookback, load),
        raw_stats_closed=_raw_stats(closed, inc, lookback, load), static_p95=static_p95,
        static_J=static_J, climber=climb_res, oracle_mean_J=oracle_J, verdict=verdict,
        series=series, lookback_steps=lookback, gate_j=gate_j, gate_static=gate_static,
        outside=outside_training_range(reflex, closed.features))


def one_pair(reflex) -> tuple[int, int] | None:
    """The pair of a reflex whose two trees are one leaf each (clamped to its bounds, as a
    runtime does, spec/NEM1.md 10), else None."""
    if any(len(tree) != 1 for tree in reflex.trees):
        return None
    n, d_us = (clamp(tree[0].value, b.min, b.max)
               for tree, b in zip(reflex.trees, reflex.bounds, strict=True))
    return int(n), int(d_us)


def _check_reachable_outputs(reflex, model_path: str | None = None) -> None:
    """The simulator's integers stay exact only up to MAX_THRESHOLD packets per batch."""
    top = max(clamp(node.value, reflex.bounds[0].min, reflex.bounds[0].max)
              for node in reflex.trees[0] if node.is_leaf)
    if top > MAX_THRESHOLD:
        raise ForgeError(E_USAGE, f"the model can choose flush_threshold {top} (its bounds "
                         f"allow up to {reflex.bounds[0].max}), above the shadow simulator's "
                         f"limit of {MAX_THRESHOLD} packets per batch", path=model_path)
