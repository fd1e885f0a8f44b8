"""The oracle of spec/forge.md section 5: every window replayed under all 24 policy pairs.

``window_costs`` returns the whole cost matrix; ``best_pairs`` picks the label of each window.
The compiled replay is ``reflexforge.oracle_kernel``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reflexforge.config import PAIRS, WINDOW_NS
from reflexforge.simulate import as_sizes


@dataclass(frozen=True)
class OracleCosts:
    """Per window (rows) and pair (columns, PAIRS order): J, p95 latency in us, flushes."""

    J: np.ndarray  # float64[n, 24]
    p95_us: np.ndarray  # float64[n, 24]
    flushes: np.ndarray  # int64[n, 24]


def window_bounds(ts: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges [first, last) of the packets arriving in each window [s, s + 200 ms)."""
    first = np.searchsorted(ts, starts, side="left").astype(np.int64)
    last = np.searchsorted(ts, starts + WINDOW_NS, side="left").astype(np.int64)
    return first, last


def costs_from_counts(p95_ns: np.ndarray, flushes: np.ndarray, lam: float,
                      flush_cost_ns: int) -> OracleCosts:
    """J = p95_us + lam * overhead_us in float64, in the order of operations of spec/forge.md."""
    p95_us = p95_ns.astype(np.float64) / 1000.0
    overhead_us = (flushes * np.int64(flush_cost_ns)).astype(np.float64) / 1000.0
    J = p95_us + np.float64(lam) * overhead_us
    return OracleCosts(J=J, p95_us=p95_us, flushes=flushes)


def best_pairs(J: np.ndarray) -> np.ndarray:
    """Index into PAIRS of the smallest J of each row; ties go to the lowest index."""
    return np.argmin(J, axis=1).astype(np.int64)


def pair_indices(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Index into PAIRS of each (flush_threshold, max_batch_delay_us), -1 if not on the grid."""
    out = np.full(len(n), -1, dtype=np.int64)
    for i, (pn, pd) in enumerate(PAIRS):
        out[(n == pn) & (d == pd)] = i
    return out


def window_costs(ts: np.ndarray, size: np.ndarray, starts: np.ndarray, lam: float,
                 flush_cost_ns: int, link_bps: int, workers: int | None = None,
                 dask: str | None = None, progress=None, stop=None) -> OracleCosts:
    """The oracle's costs of every window start in ``starts`` under every pair of PAIRS.

    Parallel over windows: local processes (``workers``, default all cores) or a Dask
    distributed scheduler at address ``dask``. The result does not depend on either.
    ``progress``, if given, is advanced by the number of windows labelled.
    """
    from reflexforge.parallel import label_windows

    ts = np.ascontiguousarray(ts, dtype=np.int64)
    size = as_sizes(size)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    first, last = window_bounds(ts, starts)
    p95_ns, flushes = label_windows(ts, size, first, last, flush_cost_ns, link_bps,
                                    workers=workers, dask=dask, progress=progress,
                                    stop=stop)
    return costs_from_counts(p95_ns, flushes, lam, flush_cost_ns)
