"""The runtime loop of spec/validation.md, replayed over a trace in one compiled pass.

One numba loop processes arrivals and deadline flushes in time order. At every 100 ms step
boundary ``e`` from ``t0 + 200 ms`` on it computes the ten features of the window
``[e - 200 ms, e)`` exactly as ``reflexforge.features`` defines them (packets that have not
completed by ``e`` are in the system up to ``e``), and a *decider* picks the pair that applies to
the batches opening during the next step:

- ``MODE_OPEN``: the reflex's trees (spec NEM1 section 10) and hysteresis (section 11) decide,
  but every batch uses the incumbent; the decisions are only logged (open loop).
- ``MODE_CLOSED``: the same decider, and its decisions are applied (closed loop).
- ``MODE_CLIMB``: the net_dim-style hill climber of ``reflexforge.climber`` decides and its
  decisions are applied.
- ``MODE_SCHEDULE``: no decider; the batches follow a given per-step schedule.

Steps 0 and 1 (before the first full 200 ms window) always run the incumbent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from reflexforge.climber import DEAD_BAND_PERCENT, GOING_RIGHT, LADDER, climb_cost, climb_sample
from reflexforge.config import LEAD_STEPS, STEP_NS, WINDOW_NS
from reflexforge.errors import E_USAGE, ForgeError
from reflexforge.loopfeatures import loop_window_features
from reflexforge.runtime import FlatReflex, constant_flat, evaluate_raw_row, hysteresis_step
from reflexforge.simulate import _INT64_MIN, as_sizes, service_ns

MODE_OPEN = 0
MODE_CLOSED = 1
MODE_CLIMB = 2
MODE_SCHEDULE = 3

MAX_STEPS = 10**7
"""Most 100 ms steps a replay handles (about 11.6 days): its arrays hold a few hundred bytes
per step, so a trace spanning more is refused instead of exhausting memory."""
_INT64_MAX = np.iinfo(np.int64).max


@njit(cache=True, inline="always")
def _flush(completion, first, count, batch_bytes, flush, free, flush_cost_ns, link_bps):
    """Send the batch of packets first..first+count-1 flushed at ``flush`` (spec/forge.md
    section 3): service starts when the FIFO transmitter is free; returns its completion."""
    start = flush if flush > free else free
    done = start + service_ns(batch_bytes, flush_cost_ns, link_bps)
    for x in range(first, first + count):
        completion[x] = done
    return done


@njit(cache=True, nogil=True)
def replay(ts, size, rtt_at, rtt_val, flush_cost_ns, link_bps, t0, n_dec, mode, sched_n,
           sched_d_ns, feature, threshold, left, right, value, lo, hi, q_scale, bmin, bmax,
           confirm, dwell, ladder_n, ladder_d_ns, ladder_start, lam, band,
           completion, feats, raw_dec):
    """The runtime loop. Returns the number of flushes.

    ``sched_n``/``sched_d_ns`` (int64[n_dec + 2]) hold the policy of each step: entries 0 and 1
    must hold the incumbent; the deciders fill entry j + 2 with the decision taken at the end of
    window j (boundary ``t0 + (j + 2) * STEP``); MODE_SCHEDULE reads them as given.
    ``feats[j]`` and ``raw_dec[j]`` receive the features and the raw (pre-hysteresis) decision
    of window j.
    """
    m = ts.shape[0]
    n_steps = n_dec + LEAD_STEPS
    for x in range(m):
        completion[x] = _INT64_MAX
    lat_buf = np.empty(1024, dtype=np.int64)
    free = _INT64_MIN
    flushes = 0
    # batch state
    is_open = False
    b_first = 0
    b_count = 0
    b_limit = 1
    b_deadline = 0
    b_bytes = 0
    # window pointers
    a_lo = 0
    q_lo = 0
    c_lo = 0
    c_hi = 0
    ewma = 0.0
    has_ewma = False
    r = 0  # the next RTT sample
    n_rtt = rtt_at.shape[0]
    # hysteresis state
    a0 = sched_n[0]
    a1 = sched_d_ns[0] // 1000
    held = 0
    c0 = -1
    c1 = -1
    has_c = False
    streak = 0
    # climber state
    ix = ladder_start
    tune = GOING_RIGHT
    steps_left = 0
    steps_right = 0
    tired = 0
    prev_cost = -1.0
    n_ladder = ladder_n.shape[0]
    row = np.empty(10, dtype=np.float64)
    j = 0
    for i in range(m + 1):
        t = ts[i] if i < m else _INT64_MAX
        if is_open and t > b_deadline:
            free = _flush(completion, b_first, b_count, b_bytes, b_deadline, free,
                          flush_cost_ns, link_bps)
            flushes += 1
            is_open = False
        while j < n_dec and t0 + (j + LEAD_STEPS) * STEP_NS <= t:
            e = t0 + (j + LEAD_STEPS) * STEP_NS
            s = e - WINDOW_NS
            while a_lo < i and ts[a_lo] < s:
                a_lo += 1
            while q_lo < i and completion[q_lo] <= s:
                q_lo += 1
            while c_lo < i and completion[c_lo] < s:
                c_lo += 1
            if c_hi < c_lo:
                c_hi = c_lo
            while c_hi < i and completion[c_hi] < e:
                c_hi += 1
            if c_hi - c_lo > lat_buf.shape[0]:
                lat_buf = np.empty(2 * (c_hi - c_lo), dtype=np.int64)
            if mode != MODE_SCHEDULE:
                loop_window_features(ts, size, completion, s, e, a_lo, i, q_lo, c_lo, c_hi, ewma,
                                 has_ewma, lat_buf, row)
                for f in range(10):
                    feats[j, f] = row[f]
            if mode == MODE_OPEN or mode == MODE_CLOSED:
                d0 = evaluate_raw_row(row, 0, feature, threshold, left, right, value, lo, hi,
                                   q_scale, bmin, bmax)
                d1 = evaluate_raw_row(row, 1, feature, threshold, left, right, value, lo, hi,
                                   q_scale, bmin, bmax)
                raw_dec[j, 0] = d0
                raw_dec[j, 1] = d1
                a0, a1, held, c0, c1, has_c, streak = hysteresis_step(
                    j == 0, d0, d1, a0, a1, held, c0, c1, has_c, streak, confirm, dwell)
                sched_n[j + LEAD_STEPS] = a0
                sched_d_ns[j + LEAD_STEPS] = a1 * 1000
            elif mode == MODE_CLIMB:
                if j % 2 == 0:
                    cost = climb_cost(completion, c_lo, c_hi, ts, lat_buf, lam, flush_cost_ns)
                    tune, ix, steps_left, steps_right, tired, prev_cost = climb_sample(
                        cost, tune, ix, steps_left, steps_right, tired, prev_cost, n_ladder,
                        band)
                raw_dec[j, 0] = ladder_n[ix]
                raw_dec[j, 1] = ladder_d_ns[ix] // 1000
                sched_n[j + LEAD_STEPS] = ladder_n[ix]
                sched_d_ns[j + LEAD_STEPS] = ladder_d_ns[ix]
            j += 1
        if i == m:
            break
        if not is_open:
            k = (t - t0) // STEP_NS
            if k > n_steps - 1:
                k = n_steps - 1
            if k < 0:
                k = 0
            if mode == MODE_OPEN:
                k = 0
            is_open = True
            b_first = i
            b_count = 0
            b_bytes = 0
            b_limit = sched_n[k]
            b_deadline = t + sched_d_ns[k]
        b_count += 1
        b_bytes += np.int64(size[i])
        if b_count == b_limit:
            free = _flush(completion, b_first, b_count, b_bytes, t, free, flush_cost_ns,
                          link_bps)
            flushes += 1
            is_open = False
        if r < n_rtt and rtt_at[r] == i:
            if has_ewma:
                ewma = ewma + (np.float64(rtt_val[r]) - ewma) * 0.125
            else:
                ewma = float(rtt_val[r])
                has_ewma = True
            r += 1
    return flushes


@dataclass(frozen=True)
class LoopResult:
    """One replay of the runtime loop.

    ``schedule_n[k]``/``schedule_d_us[k]`` is the policy of the batches opening in step k
    (steps 0 and 1: the incumbent); ``features[j]`` and ``raw[j]`` are the features and the raw
    decision (before hysteresis) at the end of window j, which set step j + 2.
    """

    completion: np.ndarray
    flushes: int
    features: np.ndarray
    raw: np.ndarray
    schedule_n: np.ndarray
    schedule_d_us: np.ndarray


def decision_count(ts: np.ndarray, t0: int | None = None) -> int:
    """Number of step boundaries with a full 200 ms window that ends at or before the last ts
    (steps from ``t0``, default the first arrival)."""
    if ts.shape[0] == 0:
        return 0
    span = int(ts[-1]) - (int(ts[0]) if t0 is None else t0)
    return 0 if span < WINDOW_NS else (span - WINDOW_NS) // STEP_NS + 1


def step_count(ts: np.ndarray, t0: int | None = None) -> int:
    """Number of 100 ms steps from ``t0`` (default the first arrival) that the trace touches."""
    if ts.shape[0] == 0:
        return 0
    return (int(ts[-1]) - (int(ts[0]) if t0 is None else t0)) // STEP_NS + 1


RttSamples = np.ndarray | tuple[np.ndarray, np.ndarray]


def sparse_rtt(rtt: RttSamples) -> tuple[np.ndarray, np.ndarray]:
    """The samples of dense or sparse ``rtt`` as (packet indices, values), int64 and
    contiguous; sparse samples are taken as ``Trace`` keeps them (indices increasing)."""
    if isinstance(rtt, tuple):
        return (np.ascontiguousarray(rtt[0], dtype=np.int64),
                np.ascontiguousarray(rtt[1], dtype=np.int64))
    dense = np.asarray(rtt, dtype=np.int64)
    at = np.flatnonzero(dense >= 0).astype(np.int64, copy=False)
    return at, dense[at]


def run_loop(ts: np.ndarray, size: np.ndarray, rtt: RttSamples, incumbent: tuple[int, int],
             flush_cost_ns: int, link_bps: int, mode: int, flat: FlatReflex | None = None,
             schedule: tuple[np.ndarray, np.ndarray] | None = None, lam: float = 0.1,
             ladder: tuple[tuple[int, int], ...] = LADDER,
             ladder_start: int | None = None, t0: int | None = None) -> LoopResult:
    """Replay ``ts``/``size``/``rtt`` through the runtime loop in ``mode`` (see module doc).

    ``rtt`` is dense (int64 per packet, -1 = no sample) or sparse (packet indices, values), as
    ``Trace.rtt_ns`` and ``Trace.rtt_samples`` give them; the replay reads the sparse form, so
    a trace's samples cost no memory per packet.

    ``flat`` is the reflex for MODE_OPEN/MODE_CLOSED; ``schedule`` = (N per step, D us per step)
    for MODE_SCHEDULE (``step_count(ts)`` entries); ``ladder`` and ``ladder_start`` (default: the
    rung equal to the incumbent, else the middle rung (16, 1 ms)) for MODE_CLIMB. ``t0`` (default
    the first arrival; at most it) is where step 0 starts: a replay of a slice of a trace
    passes the start of the slice's first window so its steps and windows stay those of the
    whole trace.
    """
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    size = as_sizes(size)
    rtt_at, rtt_val = sparse_rtt(rtt)
    if t0 is None:
        t0 = int(ts[0]) if ts.shape[0] else 0
    elif ts.shape[0] and t0 > int(ts[0]):
        raise ValueError("t0 must not be after the first arrival")
    n_dec = decision_count(ts, t0)
    n_steps = n_dec + LEAD_STEPS
    if step_count(ts, t0) > MAX_STEPS:
        raise ForgeError(E_USAGE, f"the trace spans {step_count(ts, t0)} steps of 100 ms, more "
                         f"than the replay's limit of {MAX_STEPS}")
    if mode == MODE_SCHEDULE:
        if schedule is None:
            raise ValueError("MODE_SCHEDULE needs a schedule")
        sched_n = np.array(schedule[0], dtype=np.int64)
        sched_d = np.array(schedule[1], dtype=np.int64) * 1000
        if sched_n.shape != (n_steps,) or sched_d.shape != (n_steps,):
            raise ValueError(f"the schedule must have {n_steps} entries")
    else:
        sched_n = np.full(n_steps, incumbent[0], dtype=np.int64)
        sched_d = np.full(n_steps, incumbent[1] * 1000, dtype=np.int64)
    if flat is None:
        flat = constant_flat(*incumbent)
    ladder_n = np.array([n for n, _ in ladder], dtype=np.int64)
    ladder_d = np.array([d * 1000 for _, d in ladder], dtype=np.int64)
    if ladder_start is None:
        ladder_start = ladder.index(incumbent) if incumbent in ladder else ladder.index((16, 1000))
    completion = np.empty(ts.shape[0], dtype=np.int64)
    feats = np.zeros((n_dec, 10), dtype=np.float64)
    raw = np.zeros((n_dec, 2), dtype=np.int64)
    flushes = replay(ts, size, rtt_at, rtt_val, int(flush_cost_ns), int(link_bps), t0, n_dec,
                     int(mode), sched_n, sched_d, flat.feature, flat.threshold, flat.left,
                     flat.right, flat.value, flat.lo, flat.hi, flat.q_scale, flat.bound_min,
                     flat.bound_max, flat.confirm_steps, flat.dwell_steps, ladder_n, ladder_d,
                     int(ladder_start), float(lam), DEAD_BAND_PERCENT, completion, feats, raw)
    return LoopResult(completion, int(flushes), feats, raw, sched_n, sched_d // 1000)


