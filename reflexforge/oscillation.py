"""Switches and oscillations of a policy sequence (spec/validation.md section 5).

``a_k`` is the pair in force during step k. A *switch* happens at k when a_k != a_(k-1). An
*reversal* happens at k when, in at least one knob, the switch at k moves it the other way
from the most recent earlier switch that moved that knob, at k' with k - L <= k' < k
(A -> B -> A is the basic case; a knob that dips and then climbs on reverses once); a step
counts at most one. The lookback L of a reflex is ``gate_lookback(confirm_steps, dwell_steps)``:
at least twice the shortest time the runtime's hysteresis keeps a decision, so no setting
of confirm/dwell can hide a cycle from it. An *oscillation* is a reversal that the offered
load did not call for: given the load before each step (``switch_load``), a reversal is
excused when the load before k and the load before k' differ by LOAD_CHANGE_FACTOR or more
in packets or in bytes (a policy that follows a load change up and later down); under a
steady load every reversal counts (a limit cycle). The gate reads the largest number of
oscillations in any WINDOW_STEPS consecutive steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reflexforge.config import STEP_NS

LOOKBACK_STEPS = 10
"""The shortest lookback: 1 s at 100 ms per step."""
REPORT_LOOKBACKS_S = (1, 5, 10, 30)
"""Extra lookbacks (seconds) the report counts oscillations at, for diagnosis."""
WINDOW_STEPS = 300
"""30 s at 100 ms per step."""
STEP_S = 0.1
LOAD_CHANGE_FACTOR = 2.0
"""A reversal is called for by the load when the offered packets or bytes per step before it
and before the switch it undoes differ by this factor or more."""
MIN_LOAD_STEPS = 2
"""The shortest span the load before a switch is averaged over: one 200 ms feature window."""


def load_span(confirm_steps: int) -> int:
    """Steps the load before a switch is averaged over: the steps whose decisions the runtime
    confirmed before applying it, ``max(2, confirm_steps + 1)``."""
    return max(MIN_LOAD_STEPS, confirm_steps + 1)


LOAD_CHUNK = 1 << 20
"""Packets ``offered_load`` bins at a time: its temporaries stay a few MB on any trace."""


def offered_load(ts: np.ndarray, size: np.ndarray, steps: int, t0: int) -> np.ndarray:
    """float64[steps, 2]: the packets and bytes arriving in each 100 ms step from ``t0``.

    Summed LOAD_CHUNK packets at a time (every partial sum is an integer below 2^53, so the
    float64 totals are exact whatever the order)."""
    out = np.zeros((steps, 2), dtype=np.float64)
    for first in range(0, ts.shape[0], LOAD_CHUNK):
        k = (np.asarray(ts[first:first + LOAD_CHUNK], dtype=np.int64) - t0) // STEP_NS
        keep = (k >= 0) & (k < steps)
        k = k[keep]
        out[:, 0] += np.bincount(k, minlength=steps)[:steps]
        out[:, 1] += np.bincount(k, weights=np.asarray(size[first:first + LOAD_CHUNK],
                                                       dtype=np.float64)[keep],
                                 minlength=steps)[:steps]
    return out


def switch_load(per_step: np.ndarray, confirm_steps: int) -> np.ndarray:
    """float64[steps, 2]: the load before each switch of a reflex with ``confirm_steps``: at
    each step k, the mean of ``per_step`` over the ``load_span(confirm_steps)`` steps before
    k (k - span .. k - 1; fewer near the start, zero at k = 0)."""
    span = load_span(confirm_steps)
    per_step = np.asarray(per_step, dtype=np.float64)
    steps = per_step.shape[0]
    sums = np.concatenate((np.zeros((1, 2)), np.cumsum(per_step, axis=0)))
    k = np.arange(steps)
    first = np.maximum(k - span, 0)
    count = np.maximum(k - first, 1)
    return (sums[k] - sums[first]) / count[:, None]


def load_rows(load: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The rows of ``load`` (``switch_load``) at ``steps``; a step past its end gets the last
    row (a replay can run one step beyond the last arrival)."""
    return load[np.minimum(np.asarray(steps), load.shape[0] - 1)]


def called_for(load: np.ndarray, k: np.ndarray, k_prev: np.ndarray) -> np.ndarray:
    """bool[i]: the load before step k[i] and before step k_prev[i] differ by
    LOAD_CHANGE_FACTOR or more in packets or in bytes (any load after none counts)."""
    a, b = load[k_prev], load[k]
    high, low = np.maximum(a, b), np.minimum(a, b)
    return np.any((high > 0) & (high >= LOAD_CHANGE_FACTOR * low), axis=1)


def gate_lookback(confirm_steps: int, dwell_steps: int) -> int:
    """The oscillation lookback, in steps, for a runtime with this hysteresis:
    ``max(10, 2 * (confirm_steps + dwell_steps))``. The hysteresis keeps two applied switches
    at least ``max(1, dwell_steps)`` steps apart and a decision needs ``confirm_steps`` steps
    to be applied, so every A -> B -> A cycle the runtime can produce at its fastest lies
    well inside the lookback."""
    return max(LOOKBACK_STEPS, 2 * (confirm_steps + dwell_steps))


@dataclass(frozen=True)
class Alternation:
    """The longest strict A/B/A/B... alternation: ``runs`` consecutive runs of two pairs
    (at least 3), from the first switch to the last, ``seconds`` long."""

    runs: int
    seconds: float
    pairs: tuple[tuple[int, int], tuple[int, int]] | None

    def as_dict(self) -> dict:
        return {"runs": self.runs, "seconds": self.seconds,
                "pairs": None if self.pairs is None else [list(p) for p in self.pairs]}


@dataclass(frozen=True)
class OscillationStats:
    """Summary of one policy sequence."""

    steps: int
    switches: int
    oscillations: int
    oscillations_max_per_30s: int
    reversals_max_per_30s: int
    switches_per_min: float
    median_dwell_s: float
    lookback_steps: int = LOOKBACK_STEPS
    max_per_30s_by_lookback: dict[str, int] | None = None
    longest_alternation: Alternation | None = None

    def as_dict(self) -> dict:
        out: dict = {
            "steps": self.steps,
            "switches": self.switches,
            "oscillations": self.oscillations,
            "oscillations_max_per_30s": self.oscillations_max_per_30s,
            "reversals_max_per_30s": self.reversals_max_per_30s,
            "lookback_steps": self.lookback_steps,
            "switches_per_min": self.switches_per_min,
            "median_dwell_s": self.median_dwell_s,
        }
        if self.max_per_30s_by_lookback is not None:
            out["oscillations_max_per_30s_by_lookback"] = dict(self.max_per_30s_by_lookback)
        if self.longest_alternation is not None:
            out["longest_alternation"] = self.longest_alternation.as_dict()
        return out


def _directions(n: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(switch[k], sign of the N move at k, sign of the D move at k); index 0 is never a switch."""
    n = np.asarray(n, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    if n.shape != d.shape or n.ndim != 1:
        raise ValueError("n and d must be 1-D arrays of the same length")
    dn = np.zeros(n.shape[0], dtype=np.int64)
    dd = np.zeros(n.shape[0], dtype=np.int64)
    dn[1:] = np.sign(np.diff(n))
    dd[1:] = np.sign(np.diff(d))
    return (dn != 0) | (dd != 0), dn, dd


def oscillation_flags(n: np.ndarray, d: np.ndarray, lookback: int = LOOKBACK_STEPS,
                      load: np.ndarray | None = None) -> np.ndarray:
    """bool[k]: an oscillation happens at step k (vectorized: for each knob, the most recent
    earlier switch that moved that knob, a reversal when it moved it the other way at most
    ``lookback`` steps before). Without ``load`` every reversal counts; with it
    (``switch_load``, one row per step) the ones it called for do not."""
    switch, dn, dd = _directions(n, d)
    k = np.arange(switch.shape[0])
    flags = np.zeros(switch.shape[0], dtype=bool)
    if load is not None and load.shape != (switch.shape[0], 2):
        raise ValueError("load must have one row of (packets, bytes) per step")
    if not switch.shape[0]:
        return flags
    never = -(2**62)
    for moves in (dn, dd):
        last = np.maximum.accumulate(np.where(moves != 0, k, never))
        before = np.concatenate(([never], last[:-1]))
        seen = before >= 0
        earlier = np.where(seen, moves[np.where(seen, before, 0)], 0)
        hit = (moves * earlier < 0) & (k - before <= lookback)
        if load is not None and hit.any():
            where = np.flatnonzero(hit)
            hit[where[called_for(load, where, before[where])]] = False
        flags |= hit
    return flags


def max_in_window(flags: np.ndarray, width: int = WINDOW_STEPS) -> int:
    """Largest number of true flags in any ``width`` consecutive steps (all of them if fewer)."""
    counts = np.concatenate(([0], np.cumsum(np.asarray(flags, dtype=np.int64))))
    if flags.shape[0] <= width:
        return int(counts[-1])
    return int(np.max(counts[width:] - counts[:-width]))


def dwell_runs(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Lengths in steps of the runs of one pair, first and last run included."""
    switch, _, _ = _directions(n, d)
    if switch.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.concatenate(([0], np.flatnonzero(switch), [switch.shape[0]]))
    return np.diff(edges)


def longest_alternation(n: np.ndarray, d: np.ndarray, step_s: float = STEP_S) -> Alternation:
    """The longest stretch of consecutive runs that alternate strictly between two pairs
    (A, B, A, ...: every run's pair equals the pair two runs before it), at least 3 runs;
    its length is from its first switch to its last. Ties: the earliest."""
    n = np.asarray(n, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    runs = dwell_runs(n, d)
    if runs.shape[0] < 3:
        return Alternation(0, 0.0, None)
    begin = np.concatenate(([0], np.cumsum(runs)[:-1]))
    pn, pd = n[begin], d[begin]
    same2 = (pn[2:] == pn[:-2]) & (pd[2:] == pd[:-2])  # run r + 2 repeats run r
    best = (0, 0)  # (runs, first run)
    r = 0
    while r < same2.shape[0]:
        if not same2[r]:
            r += 1
            continue
        e = r
        while e < same2.shape[0] and same2[e]:
            e += 1
        count = e - r + 2  # runs r .. e + 1
        if count > best[0]:
            best = (count, r)
        r = e
    if best[0] < 3:
        return Alternation(0, 0.0, None)
    count, first = best
    seconds = float(begin[first + count - 1] - begin[first + 1]) * step_s
    pairs = ((int(pn[first]), int(pd[first])), (int(pn[first + 1]), int(pd[first + 1])))
    return Alternation(count, seconds, pairs)


def oscillation_stats(n: np.ndarray, d: np.ndarray, step_s: float = STEP_S,
                      lookback: int = LOOKBACK_STEPS,
                      load: np.ndarray | None = None) -> OscillationStats:
    """Switches, oscillations at ``lookback`` (total and the 30 s maximum, also at the
    REPORT_LOOKBACKS_S; reversals the ``load`` called for excused), every reversal's 30 s
    maximum, the longest alternation, switches/min and median dwell."""
    switch, _, _ = _directions(n, d)
    flags = oscillation_flags(n, d, lookback, load)
    steps = int(switch.shape[0])
    runs = dwell_runs(n, d)
    minutes = steps * step_s / 60.0
    by_lookback = {f"{s}s": max_in_window(oscillation_flags(n, d, round(s / step_s), load))
                   for s in REPORT_LOOKBACKS_S}
    return OscillationStats(
        steps=steps,
        switches=int(switch.sum()),
        oscillations=int(flags.sum()),
        oscillations_max_per_30s=max_in_window(flags),
        reversals_max_per_30s=max_in_window(oscillation_flags(n, d, lookback))
        if load is not None else max_in_window(flags),
        switches_per_min=float(switch.sum()) / minutes if minutes > 0 else 0.0,
        median_dwell_s=float(np.median(runs)) * step_s if runs.shape[0] else 0.0,
        lookback_steps=int(lookback),
        max_per_30s_by_lookback=by_lookback,
        longest_alternation=longest_alternation(n, d, step_s),
    )
