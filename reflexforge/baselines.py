"""Baselines of the shadow report (spec/validation.md, "Baselines").

- the incumbent: one static pair, the one the forge replays for its features;
- the best static pairs in hindsight, by p95 over all packets and by mean window J (as the
  runtime would run a one-leaf reflex of the pair: its first steps run the incumbent);
- a net_dim-style hill climber, the adaptive baseline a kernel would ship (Linux lib/dim);
- the per-window oracle in hindsight: each window's best J, a non-causal bound.

The hill climber follows the state machine of Linux ``lib/dim/net_dim.c`` on the ladder
``LADDER`` = (1, 50us) -> (4, 200us) -> (8, 200us) -> (16, 1ms) -> (32, 1ms) -> (64, 4ms):

- it measures one sample every other step boundary, over the last 200 ms window, which is
  then exactly the tenure of its previous decision: the observed cost
  ``p95 (us) of the packets completing in the window + lambda * batches * flush_cost_us``
  (our objective in place of DIM's bytes/packets/interrupts per ms), no sample when nothing
  completed;
- a sample is *better* or *worse* than the previous one only beyond a 10% dead band
  (DIM's ``IS_SIGNIFICANT_DIFF``), otherwise *same*;
- going right or left (start: going right from the incumbent's rung, as DIM starts), it turns
  unless the sample is better, parks *on top* when it has just turned back after a climb of
  more than one rung (``dim_on_top``) or hits the end of the ladder, and parks *tired* after
  2 x 6 moves without parking;
- parked on top, it leaves (towards the left unless at rung 0) as soon as a sample differs
  significantly from the one it parked with; parked tired, it waits as many samples as its
  tired counter held.

Its decisions apply at once (no hysteresis), to the batches that open during the next step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reflexforge.climber import DEAD_BAND_PERCENT, GOING_RIGHT, LADDER, climb_sample
from reflexforge.closedloop import MODE_CLIMB, LoopResult, RttSamples, run_loop
from reflexforge.config import LEAD_STEPS, PAIRS, ForgeOptions
from reflexforge.schedulecost import schedule_window_J
from reflexforge.simulate import nearest_rank, simulate


def p95_ns_in_place(ts: np.ndarray, completion: np.ndarray) -> int:
    """Nearest-rank p95 latency in ns over all packets, computed in ``completion`` (no second
    array of 8 bytes per packet): afterwards it holds the latencies, partly reordered."""
    lat = np.subtract(completion, ts, out=completion)
    rank = nearest_rank(lat.shape[0], 95)
    lat.partition(rank - 1)
    return int(lat[rank - 1])


@dataclass(frozen=True)
class StaticPairs:
    """p95 over all packets (ns), mean window J and flushes of each of the 24 PAIRS, and the
    completion times of the replay under the best pair by J (for the figure)."""

    p95_ns: np.ndarray  # int64[24]
    mean_J: np.ndarray  # float64[24]
    flushes: np.ndarray  # int64[24]: batches over the whole-trace replay
    best_J_completion: np.ndarray  # int64[packets]

    def best_by_p95(self) -> int:
        return int(np.argmin(self.p95_ns))

    def best_by_J(self) -> int:
        return int(np.argmin(self.mean_J))


def static_pairs(ts: np.ndarray, size: np.ndarray, starts: np.ndarray, oracle_J: np.ndarray,
                 opts: ForgeOptions) -> StaticPairs:
    """Replay the whole trace under each pair for its p95 and flushes; the mean J of each
    pair's one-leaf reflex (``runtime_static_J``)."""
    # Each column's mean as a 1-D array's, the same summation as a loop's mean J
    # (shadow._scored), so a reflex that is a static pair is level with it to the last bit
    # (a 2-D column mean sums in another order: 8e-15 points apart).
    J = runtime_static_J(ts, size, starts, oracle_J, opts)
    mean_J = np.array([np.ascontiguousarray(J[:, p]).mean() for p in range(len(PAIRS))]) \
        if oracle_J.shape[0] else np.zeros(len(PAIRS))
    del J
    best_J = int(np.argmin(mean_J))
    p95 = np.empty(len(PAIRS), dtype=np.int64)
    flushes = np.empty(len(PAIRS), dtype=np.int64)
    lat = np.empty(ts.shape[0], dtype=np.int64)  # one buffer for the 24 replays
    for p, (n, d_us) in enumerate(PAIRS):
        flushes[p] = simulate(ts, size, n, d_us * 1000, opts.flush_cost_ns, opts.link_bps,
                              out=lat)[1]  # (no second name for the buffer: del frees it)
        p95[p] = p95_ns_in_place(ts, lat)
    del lat
    n, d_us = PAIRS[best_J]  # replayed again for the figure, rather than kept beside the buffer
    kept, _ = simulate(ts, size, n, d_us * 1000, opts.flush_cost_ns, opts.link_bps)
    return StaticPairs(p95_ns=p95, mean_J=mean_J, flushes=flushes, best_J_completion=kept)


def runtime_static_J(ts: np.ndarray, size: np.ndarray, starts: np.ndarray,
                     oracle_J: np.ndarray, opts: ForgeOptions) -> np.ndarray:
    """J per window (rows: ``starts``) and pair (columns) of a one-leaf reflex of each pair:
    the runtime's schedule, the incumbent for its first steps (before the first full window)
    and then the pair (spec/validation.md section 8), so the oracle's matrix except the
    windows across that switch, which are replayed. So a reflex that is a static pair has
    that pair's J."""
    J = np.array(oracle_J, dtype=np.float64, copy=True)
    if not ts.shape[0]:
        return J
    for p, (n, d_us) in enumerate(PAIRS):
        sched_n = np.array([opts.incumbent[0]] * LEAD_STEPS + [n], dtype=np.int64)
        sched_d = np.array([opts.incumbent[1]] * LEAD_STEPS + [d_us], dtype=np.int64)
        J[:, p] = schedule_window_J(oracle_J, ts, size, starts, sched_n, sched_d, opts.lam,
                                    opts.flush_cost_ns, opts.link_bps, int(ts[0]))
    return J


def hill_climber(ts: np.ndarray, size: np.ndarray, rtt: RttSamples,
                 opts: ForgeOptions) -> LoopResult:
    """Closed-loop replay under the net_dim-style hill climber."""
    return run_loop(ts, size, rtt, opts.incumbent, opts.flush_cost_ns, opts.link_bps,
                    MODE_CLIMB, lam=opts.lam, ladder=LADDER)


def climber_states(samples: list[float], start: int, rungs: int = len(LADDER),
                   band: float = DEAD_BAND_PERCENT) -> list[tuple[int, int, int]]:
    """(tune state, rung, tired counter) after each sample of the hill climber's state machine,
    starting going right from rung ``start``; a negative sample means "nothing completed".

    The replay (``hill_climber``) runs this same compiled step on the costs it observes.
    """
    tune, ix, left, right, tired, prev = GOING_RIGHT, start, 0, 0, 0, -1.0
    out = []
    for cost in samples:
        tune, ix, left, right, tired, prev = climb_sample(float(cost), tune, ix, left, right,
                                                          tired, prev, rungs, float(band))
        out.append((int(tune), int(ix), int(tired)))
    return out
