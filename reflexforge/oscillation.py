"""Switches and oscillations of a policy sequence (spec/validation.md, "Oscillation").

``a_k`` is the pair in force during step k. A *switch* happens at k when a_k != a_(k-1). An
*oscillation* happens at k when the switch at k reverses, in at least one knob, the direction
of another switch at k' with k - LOOKBACK <= k' < k (A -> B -> A is the basic case); a step
counts at most one. The gate reads the largest number of oscillations in any WINDOW_STEPS
consecutive steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOOKBACK_STEPS = 10
"""1 s at 100 ms per step."""
WINDOW_STEPS = 300
"""30 s at 100 ms per step."""
STEP_S = 0.1


@dataclass(frozen=True)
class OscillationStats:
    """Summary of one policy sequence."""

    steps: int
    switches: int
    oscillations: int
    oscillations_max_per_30s: int
    switches_per_min: float
    median_dwell_s: float

    def as_dict(self) -> dict:
        return {
            "steps": self.steps,
            "switches": self.switches,
            "oscillations": self.oscillations,
            "oscillations_max_per_30s": self.oscillations_max_per_30s,
            "switches_per_min": self.switches_per_min,
            "median_dwell_s": self.median_dwell_s,
        }


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


def oscillation_flags(n: np.ndarray, d: np.ndarray,
                      lookback: int = LOOKBACK_STEPS) -> np.ndarray:
    """bool[k]: an oscillation happens at step k."""
    switch, dn, dd = _directions(n, d)
    flags = np.zeros(switch.shape[0], dtype=bool)
    for k in np.flatnonzero(switch):
        for kp in range(max(1, k - lookback), k):
            if switch[kp] and (dn[k] * dn[kp] < 0 or dd[k] * dd[kp] < 0):
                flags[k] = True
                break
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


def oscillation_stats(n: np.ndarray, d: np.ndarray, step_s: float = STEP_S) -> OscillationStats:
    """Switches, oscillations (total and the 30 s maximum), switches/min and median dwell."""
    switch, _, _ = _directions(n, d)
    flags = oscillation_flags(n, d)
    steps = int(switch.shape[0])
    runs = dwell_runs(n, d)
    minutes = steps * step_s / 60.0
    return OscillationStats(
        steps=steps,
        switches=int(switch.sum()),
        oscillations=int(flags.sum()),
        oscillations_max_per_30s=max_in_window(flags),
        switches_per_min=float(switch.sum()) / minutes if minutes > 0 else 0.0,
        median_dwell_s=float(np.median(runs)) * step_s if runs.shape[0] else 0.0,
    )
