"""The runtime loop of spec/validation.md, replayed over a trace in one compiled pass.

One numba loop processes arrivals and deadline flushes in time order. At every 100 ms step
boundary ``e`` from ``t0 + 200 ms`` on it computes the ten features of the window
``[e - 200 ms, e)`` exactly as ``reflexforge.features`` defines them (packets that have not
completed by ``e`` are in the system up to ``e``), and a *decider* picks the pair that applies to
the batches opening during the next step:

- ``MODE_OPEN``: the reflex's trees (spec NEM1 section 10) and hysteresis (section 11) decide,
  but every batch uses the incumbent; the decisions are only logged (open loop).
- ``MODE_CLOSED``: the same decider, and its decisions are applied (closed loop).
- ``MODE_CLIMB``: the net_dim-style hill climber of ``reflexforge.baselines`` decides and its
  decisions are applied.
- ``MODE_SCHEDULE``: no decider; the batches follow a given per-step schedule.

Steps 0 and 1 (before the first full 200 ms window) always run the incumbent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from reflexfmt.limits import FEATURE_COUNT, LEAF, MAX_NODES, Q_SCALE_RANGE
from reflexforge.config import STEP_NS, WINDOW_NS
from reflexforge.errors import E_USAGE, ForgeError
from reflexforge.simulate import as_sizes, replay_schedule

MODE_OPEN = 0
MODE_CLOSED = 1
MODE_CLIMB = 2
MODE_SCHEDULE = 3

MAX_STEPS = 10**7
"""Most 100 ms steps a replay handles (about 11.6 days): its arrays hold a few hundred bytes
per step, so a trace spanning more is refused instead of exhausting memory."""
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min
_BITS_PER_BYTE_NS = 8 * 10**9
PER_SECOND = 10**9 / WINDOW_NS

# Hill-climber tune states, as in Linux lib/dim.
GOING_RIGHT = 0
GOING_LEFT = 1
PARKING_ON_TOP = 2
PARKING_TIRED = 3


@dataclass(frozen=True)
class FlatReflex:
    """A reflex as flat int64/float64 arrays for the compiled evaluator."""

    feature: np.ndarray  # int64[2, 255]
    threshold: np.ndarray  # int64[2, 255]
    left: np.ndarray  # int64[2, 255]
    right: np.ndarray  # int64[2, 255]
    value: np.ndarray  # int64[2, 255]
    lo: np.ndarray  # float64[10]
    hi: np.ndarray  # float64[10]
    q_scale: int
    bound_min: np.ndarray  # int64[2]
    bound_max: np.ndarray  # int64[2]
    confirm_steps: int
    dwell_steps: int


def flatten(reflex) -> FlatReflex:
    """Flatten a ``reflexfmt.Reflex`` into arrays (node ``i`` of tree ``o`` at ``[o, i]``)."""
    arrays = {name: np.zeros((2, MAX_NODES), dtype=np.int64)
              for name in ("feature", "threshold", "left", "right", "value")}
    for o, tree in enumerate(reflex.trees):
        for i, node in enumerate(tree):
            for name, arr in arrays.items():
                arr[o, i] = int(getattr(node, name))
    return FlatReflex(
        lo=np.array([s.lo for s in reflex.scaling], dtype=np.float64),
        hi=np.array([s.hi for s in reflex.scaling], dtype=np.float64),
        q_scale=int(reflex.q_scale),
        bound_min=np.array([b.min for b in reflex.bounds], dtype=np.int64),
        bound_max=np.array([b.max for b in reflex.bounds], dtype=np.int64),
        confirm_steps=int(reflex.confirm_steps),
        dwell_steps=int(reflex.dwell_steps),
        **arrays,
    )


def constant_flat(n: int, d_us: int) -> FlatReflex:
    """A FlatReflex whose trees are single leaves (n, d_us); used for schedules and baselines."""
    value = np.zeros((2, MAX_NODES), dtype=np.int64)
    feature = np.zeros((2, MAX_NODES), dtype=np.int64)
    feature[:, 0] = LEAF
    value[0, 0] = n
    value[1, 0] = d_us
    zeros = np.zeros((2, MAX_NODES), dtype=np.int64)
    return FlatReflex(feature, zeros, zeros, zeros, value, np.zeros(FEATURE_COUNT),
                      np.ones(FEATURE_COUNT), Q_SCALE_RANGE[1],
                      np.array([n, d_us], dtype=np.int64), np.array([n, d_us], dtype=np.int64),
                      1, 0)


@njit(cache=True, inline="always")
def service_ns(batch_bytes, flush_cost_ns, link_bps):
    """flush_cost_ns + ceil(8 * batch_bytes * 10^9 / link_bps) in exact integers (spec/forge.md)."""
    return flush_cost_ns + (batch_bytes * _BITS_PER_BYTE_NS + link_bps - 1) // link_bps


@njit(cache=True)
def quantize_value(x, lo, hi, q_scale):
    """Spec NEM1 section 10 step 1, binary64 throughout: the compiled twin of
    ``reflexfmt.model.quantize_value`` (reflexfmt stays free of numba), the forge's only one;
    tests/forge/test_shadow.py proves the two equal."""
    if x != x or x <= lo:
        return 0
    if x >= hi:
        return q_scale
    r = ((x - lo) * q_scale) / (hi - lo)
    if r >= q_scale:
        return q_scale
    return np.int64(np.floor(r))


@njit(cache=True)
def evaluate_tree(raw, o, feature, threshold, left, right, value, lo, hi, q_scale, bmin, bmax):
    """Spec NEM1 section 10 for tree ``o``: quantize on demand, walk, clamp."""
    i = 0
    f = feature[o, 0]
    while f != LEAF:
        q = quantize_value(raw[f], lo[f], hi[f], q_scale)
        if q <= threshold[o, i]:
            i = left[o, i]
        else:
            i = right[o, i]
        f = feature[o, i]
    v = value[o, i]
    if v < bmin[o]:
        v = bmin[o]
    if v > bmax[o]:
        v = bmax[o]
    return v


@njit(cache=True)
def evaluate_batch(raw, feature, threshold, left, right, value, lo, hi, q_scale, bmin, bmax):
    """Evaluate both trees on every row of raw[n, 10]; returns int64[n, 2]."""
    out = np.empty((raw.shape[0], 2), dtype=np.int64)
    for r in range(raw.shape[0]):
        for o in range(2):
            out[r, o] = evaluate_tree(raw[r], o, feature, threshold, left, right, value, lo, hi,
                                      q_scale, bmin, bmax)
    return out


@njit(cache=True, inline="always")
def hysteresis_step(first, d0, d1, a0, a1, held, c0, c1, has_c, streak, confirm, dwell):
    """One step of spec NEM1 section 11 on the raw decision (d0, d1).

    State: the applied pair (a0, a1), the steps it has been held, the candidate (c0, c1) if
    ``has_c`` and how many consecutive steps it has been seen. ``first`` marks the first step,
    which applies its decision at once. Returns the new (a0, a1, held, c0, c1, has_c, streak).
    """
    if first:
        return d0, d1, 1, c0, c1, False, 0
    if d0 == a0 and d1 == a1:
        return a0, a1, held + 1, c0, c1, False, 0
    if has_c and d0 == c0 and d1 == c1:
        streak += 1
    else:
        c0, c1, has_c, streak = d0, d1, True, 1
    if streak >= confirm and held >= dwell:
        return d0, d1, 1, c0, c1, False, 0
    return a0, a1, held + 1, c0, c1, has_c, streak


@njit(cache=True)
def runtime_steps(decisions, confirm, dwell):
    """Spec NEM1 section 11 over a sequence of raw decisions int64[n, 2]; returns int64[n, 2]."""
    out = np.empty_like(decisions)
    a0 = np.int64(0)
    a1 = np.int64(0)
    held = 0
    c0 = np.int64(-1)
    c1 = np.int64(-1)
    has_c = False
    streak = 0
    for k in range(decisions.shape[0]):
        a0, a1, held, c0, c1, has_c, streak = hysteresis_step(
            k == 0, decisions[k, 0], decisions[k, 1], a0, a1, held, c0, c1, has_c, streak,
            confirm, dwell)
        out[k, 0] = a0
        out[k, 1] = a1
    return out


@njit(cache=True)
def _nearest_rank(sorted_vals, count, percent):
    rank = (percent * count + 99) // 100
    return sorted_vals[rank - 1]


@njit(cache=True)
def _bit_length(x):
    n = 0
    while x > 0:
        x >>= 1
        n += 1
    return n


@njit(cache=True)
def exact_ratio(u, f, den):
    """u + f / den correctly rounded to binary64 (ties to even); 0 <= u < 2**53, 0 <= f < den.

    Long division yields the significand, a guard bit and a sticky bit in exact integers, so
    the result equals Python's exact ``int / int`` (one rounding of the true quotient).
    """
    if u == 0 and f == 0:
        return 0.0
    mant = u
    r = f
    shift = 0
    while _bit_length(mant) < 54:
        r *= 2
        mant *= 2
        if r >= den:
            r -= den
            mant += 1
        shift += 1
    guard = mant & 1
    mant >>= 1
    shift -= 1
    if guard == 1 and (r != 0 or (mant & 1) == 1):
        mant += 1
    return math.ldexp(float(mant), -shift)


@njit(cache=True)
def size_variance(n, total, squares):
    """(n * squares - total**2) / n**2, exactly rounded, without overflowing int64.

    With total = a*n + b, c = squares - a*a*n - 2*a*b = sum((x - a)**2) and c = u*n + w, the
    value is u + (w*n - b*b) / n**2.
    """
    a = total // n
    b = total % n
    c = squares - a * a * n - 2 * a * b
    u = c // n
    w = c % n
    den = n * n
    f = w * n - b * b
    if f < 0:
        u -= 1
        f += den
    return exact_ratio(u, f, den)


@njit(cache=True)
def _window_features(ts, size, comp, s, e, a_lo, a_hi, q_lo, c_lo, c_hi, ewma, has_ewma,
                     lat_buf, out):
    """The ten features of window [s, e), bit for bit as ``reflexforge.features`` computes them.

    [a_lo, a_hi): arrivals in [s, e); [q_lo, a_hi): packets in the system during the window;
    [c_lo, c_hi): completions in [s, e). ``comp`` is INT64_MAX for packets not completed yet.
    """
    in_system = 0
    for x in range(q_lo, a_hi):
        end = comp[x] if comp[x] < e else e
        begin = ts[x] if ts[x] > s else s
        if end > begin:
            in_system += end - begin
    n_in = a_hi - a_lo
    bytes_in = 0
    squares = 0
    for x in range(a_lo, a_hi):
        v = np.int64(size[x])
        bytes_in += v
        squares += v * v
    n_out = c_hi - c_lo
    bytes_out = 0
    for x in range(c_lo, c_hi):
        bytes_out += np.int64(size[x])
        lat_buf[x - c_lo] = comp[x] - ts[x]
    out[0] = np.float64(in_system) / np.float64(e - s)
    out[1] = np.float64(n_in) * PER_SECOND
    out[2] = np.float64(n_out) * PER_SECOND
    if n_out > 0:
        lat = np.sort(lat_buf[:n_out])
        out[3] = np.float64(_nearest_rank(lat, n_out, 50)) / 1000.0
        out[4] = np.float64(_nearest_rank(lat, n_out, 95)) / 1000.0
    else:
        out[3] = 0.0
        out[4] = 0.0
    out[5] = np.float64(bytes_in) * PER_SECOND
    out[6] = np.float64(bytes_out) * PER_SECOND
    if n_in > 0:
        out[7] = np.float64(bytes_in) / np.float64(n_in)
        out[8] = size_variance(n_in, bytes_in, squares)
    else:
        out[7] = 0.0
        out[8] = 0.0
    out[9] = ewma / 1000.0 if has_ewma else 0.0


@njit(cache=True)
def _climb_cost(comp, c_lo, c_hi, ts, lat_buf, lam, flush_cost_ns):
    """The climber's observed cost of a window: p95 (us) + lam * overhead (us), or -1 if idle."""
    n_out = c_hi - c_lo
    if n_out == 0:
        return -1.0
    batches = 0
    for x in range(c_lo, c_hi):
        lat_buf[x - c_lo] = comp[x] - ts[x]
        if x == c_lo or comp[x] != comp[x - 1]:
            batches += 1
    lat = np.sort(lat_buf[:n_out])
    p95_us = _nearest_rank(lat, n_out, 95) / 1000.0
    return p95_us + lam * ((batches * flush_cost_ns) / 1000.0)


@njit(cache=True)
def _compare(curr, prev, band):
    """DIM's three-way stats comparison on a cost (lower is better): 1 better, 0 same, -1 worse."""
    if prev < 0.0:
        return 1 if curr >= 0.0 else 0
    if abs(curr - prev) * 100.0 > band * prev:
        return 1 if curr < prev else -1
    return 0


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
def replay(ts, size, rtt, flush_cost_ns, link_bps, t0, n_dec, mode, sched_n, sched_d_ns,
           feature, threshold, left, right, value, lo, hi, q_scale, bmin, bmax, confirm, dwell,
           ladder_n, ladder_d_ns, ladder_start, lam, band,
           completion, feats, raw_dec):
    """The runtime loop. Returns the number of flushes.

    ``sched_n``/``sched_d_ns`` (int64[n_dec + 2]) hold the policy of each step: entries 0 and 1
    must hold the incumbent; the deciders fill entry j + 2 with the decision taken at the end of
    window j (boundary ``t0 + (j + 2) * STEP``); MODE_SCHEDULE reads them as given.
    ``feats[j]`` and ``raw_dec[j]`` receive the features and the raw (pre-hysteresis) decision
    of window j.
    """
    m = ts.shape[0]
    n_steps = n_dec + 2
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
        while j < n_dec and t0 + (j + 2) * STEP_NS <= t:
            e = t0 + (j + 2) * STEP_NS
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
                _window_features(ts, size, completion, s, e, a_lo, i, q_lo, c_lo, c_hi, ewma,
                                 has_ewma, lat_buf, row)
                for f in range(10):
                    feats[j, f] = row[f]
            if mode == MODE_OPEN or mode == MODE_CLOSED:
                d0 = evaluate_tree(row, 0, feature, threshold, left, right, value, lo, hi,
                                   q_scale, bmin, bmax)
                d1 = evaluate_tree(row, 1, feature, threshold, left, right, value, lo, hi,
                                   q_scale, bmin, bmax)
                raw_dec[j, 0] = d0
                raw_dec[j, 1] = d1
                a0, a1, held, c0, c1, has_c, streak = hysteresis_step(
                    j == 0, d0, d1, a0, a1, held, c0, c1, has_c, streak, confirm, dwell)
                sched_n[j + 2] = a0
                sched_d_ns[j + 2] = a1 * 1000
            elif mode == MODE_CLIMB:
                if j % 2 == 0:
                    cost = _climb_cost(completion, c_lo, c_hi, ts, lat_buf, lam, flush_cost_ns)
                    tune, ix, steps_left, steps_right, tired, prev_cost = climb_sample(
                        cost, tune, ix, steps_left, steps_right, tired, prev_cost, n_ladder,
                        band)
                raw_dec[j, 0] = ladder_n[ix]
                raw_dec[j, 1] = ladder_d_ns[ix] // 1000
                sched_n[j + 2] = ladder_n[ix]
                sched_d_ns[j + 2] = ladder_d_ns[ix]
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
        if rtt[i] >= 0:
            if has_ewma:
                ewma = ewma + (np.float64(rtt[i]) - ewma) * 0.125
            else:
                ewma = float(rtt[i])
                has_ewma = True
    return flushes


@njit(cache=True)
def climb_sample(cost, tune, ix, steps_left, steps_right, tired, prev_cost, n_ladder, band):
    """The hill climber's reaction to one sample (spec/validation.md section 8).

    ``cost`` < 0 means no sample (nothing completed): no change. ``ix`` is the rung, ``tune``
    the DIM state, ``prev_cost`` the reference sample (-1 before the first). Returns the new
    (tune, ix, steps_left, steps_right, tired, prev_cost).
    """
    if cost < 0.0:
        return tune, ix, steps_left, steps_right, tired, prev_cost
    prev_tune = tune
    if tune == PARKING_ON_TOP:
        if _compare(cost, prev_cost, band) != 0:
            tune = GOING_LEFT if ix > 0 else GOING_RIGHT
            ix, steps_left, steps_right, tired = _climb_step(
                tune, ix, steps_left, steps_right, tired, n_ladder)
    elif tune == PARKING_TIRED:
        tired -= 1
        if tired == 0:
            tune = GOING_LEFT if ix > 0 else GOING_RIGHT
            ix, steps_left, steps_right, tired = _climb_step(
                tune, ix, steps_left, steps_right, tired, n_ladder)
    else:
        if _compare(cost, prev_cost, band) != 1:
            if tune == GOING_RIGHT:
                tune = GOING_LEFT
                steps_left = 0
            else:
                tune = GOING_RIGHT
                steps_right = 0
        on_top = (steps_left > 1 and steps_right == 1) if tune == GOING_RIGHT \
            else (steps_right > 1 and steps_left == 1)
        if on_top:
            tune, steps_left, steps_right, tired = PARKING_ON_TOP, 0, 0, 0
        elif tired == 2 * n_ladder:
            tune, steps_left, steps_right = PARKING_TIRED, 0, 0
        elif (tune == GOING_RIGHT and ix == n_ladder - 1) or \
                (tune == GOING_LEFT and ix == 0):
            tune, steps_left, steps_right, tired = PARKING_ON_TOP, 0, 0, 0
        else:
            ix, steps_left, steps_right, tired = _climb_step(
                tune, ix, steps_left, steps_right, tired, n_ladder)
    if prev_tune != PARKING_ON_TOP or tune != PARKING_ON_TOP:
        prev_cost = cost
    return tune, ix, steps_left, steps_right, tired, prev_cost


@njit(cache=True)
def _climb_step(tune, ix, steps_left, steps_right, tired, n_ladder):
    """DIM's net_dim_step for a tune state that is moving (the edges are checked by the caller)."""
    if tune == GOING_RIGHT:
        ix += 1
        steps_right += 1
    elif tune == GOING_LEFT:
        ix -= 1
        steps_left += 1
    tired += 1
    return ix, steps_left, steps_right, tired


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


# The net_dim-style ladder of the hill climber, (N packets, D us).
LADDER: tuple[tuple[int, int], ...] = ((1, 50), (4, 200), (8, 200), (16, 1000), (32, 1000),
                                       (64, 4000))
DEAD_BAND_PERCENT = 10.0


def run_loop(ts: np.ndarray, size: np.ndarray, rtt: np.ndarray, incumbent: tuple[int, int],
             flush_cost_ns: int, link_bps: int, mode: int, flat: FlatReflex | None = None,
             schedule: tuple[np.ndarray, np.ndarray] | None = None, lam: float = 0.1,
             ladder: tuple[tuple[int, int], ...] = LADDER,
             ladder_start: int | None = None, t0: int | None = None) -> LoopResult:
    """Replay ``ts``/``size``/``rtt`` through the runtime loop in ``mode`` (see module doc).

    ``flat`` is the reflex for MODE_OPEN/MODE_CLOSED; ``schedule`` = (N per step, D us per step)
    for MODE_SCHEDULE (``step_count(ts)`` entries); ``ladder`` and ``ladder_start`` (default: the
    rung equal to the incumbent, else the middle rung (16, 1 ms)) for MODE_CLIMB. ``t0`` (default
    the first arrival; at most it) is where step 0 starts: a replay of a slice of a trace
    passes the start of the slice's first window so its steps and windows stay those of the
    whole trace.
    """
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    size = as_sizes(size)
    rtt = np.ascontiguousarray(rtt, dtype=np.int64)
    if t0 is None:
        t0 = int(ts[0]) if ts.shape[0] else 0
    elif ts.shape[0] and t0 > int(ts[0]):
        raise ValueError("t0 must not be after the first arrival")
    n_dec = decision_count(ts, t0)
    n_steps = n_dec + 2
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
    flushes = replay(ts, size, rtt, int(flush_cost_ns), int(link_bps), t0, n_dec, int(mode),
                     sched_n, sched_d, flat.feature, flat.threshold, flat.left, flat.right,
                     flat.value, flat.lo, flat.hi, flat.q_scale, flat.bound_min, flat.bound_max,
                     flat.confirm_steps, flat.dwell_steps, ladder_n, ladder_d, int(ladder_start),
                     float(lam), DEAD_BAND_PERCENT, completion, feats, raw)
    return LoopResult(completion, int(flushes), feats, raw, sched_n, sched_d // 1000)


@njit(cache=True, nogil=True)
def _schedule_windows(ts, size, first, last, t0, sched_n, sched_d_ns, flush_cost_ns, link_bps,
                      p95_ns, flushes):
    """Per window [first[w], last[w]): isolated replay under the step schedule; p95 and flushes."""
    longest = 1
    for w in range(first.shape[0]):
        longest = max(longest, last[w] - first[w])
    done = np.empty(longest, dtype=np.int64)
    for w in range(first.shape[0]):
        lo = first[w]
        hi = last[w]
        flushes[w] = replay_schedule(ts[lo:hi], size[lo:hi], t0, STEP_NS, sched_n, sched_d_ns,
                                     flush_cost_ns, link_bps, done[:hi - lo])
        lat = done[:hi - lo]
        for x in range(hi - lo):
            lat[x] -= ts[lo + x]
        lat.sort()
        p95_ns[w] = lat[(95 * (hi - lo) + 99) // 100 - 1]


def schedule_window_costs(ts: np.ndarray, size: np.ndarray, starts: np.ndarray,
                          schedule_n: np.ndarray, schedule_d_us: np.ndarray, lam: float,
                          flush_cost_ns: int, link_bps: int, t0: int | None = None):
    """The oracle's J of every window, for the step schedule a policy sequence had in force.

    Window [s, s + 200 ms) is replayed alone, from an empty system, exactly like the oracle
    does, except that each batch uses the policy of the step in which it opens. For a constant
    schedule this is the oracle's J of that pair, bit for bit. Returns ``OracleCosts`` of shape
    (n,) instead of (n, 24). ``t0`` is where step 0 of the schedule starts (default the first
    arrival).
    """
    from reflexforge.oracle import costs_from_counts, window_bounds

    ts = np.ascontiguousarray(ts, dtype=np.int64)
    size = as_sizes(size)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    first, last = window_bounds(ts, starts)
    p95_ns = np.zeros(starts.shape[0], dtype=np.int64)
    flushes = np.zeros(starts.shape[0], dtype=np.int64)
    if starts.shape[0]:
        _schedule_windows(ts, size, first, last, int(ts[0]) if t0 is None else int(t0),
                          np.ascontiguousarray(schedule_n, dtype=np.int64),
                          np.ascontiguousarray(schedule_d_us, dtype=np.int64) * 1000,
                          int(flush_cost_ns), int(link_bps), p95_ns, flushes)
    return costs_from_counts(p95_ns, flushes, lam, flush_cost_ns)


@njit(cache=True)
def _window_p95(ts, completion, first, last, out):
    for w in range(first.shape[0]):
        n = last[w] - first[w]
        if n == 0:
            out[w] = np.nan
            continue
        lat = np.sort(completion[first[w]:last[w]] - ts[first[w]:last[w]])
        out[w] = lat[(95 * n + 99) // 100 - 1] / 1000.0


def window_p95_us(ts: np.ndarray, completion: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """p95 latency (us, nearest rank) of the packets arriving in each window; NaN if none."""
    from reflexforge.oracle import window_bounds

    first, last = window_bounds(ts, np.ascontiguousarray(starts, dtype=np.int64))
    out = np.empty(first.shape[0], dtype=np.float64)
    _window_p95(ts, completion, first, last, out)
    return out
