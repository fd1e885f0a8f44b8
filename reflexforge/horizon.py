"""Horizon-aware costs (spec/training.md section 3.1).

A decision taken at the end of window ``w`` is not in force during window ``w``: the runtime
applies it from the next step at the earliest, only after ``confirm_steps`` equal decisions,
and then keeps it at least ``dwell_steps`` steps. So the cost of choosing pair ``p`` at
window ``w`` is taken over the windows during which that decision will be in force: the
windows whose start lies in ``[s_w + offset * S, s_w + (offset + length - 1) * S]`` with
``offset = confirm_steps + 1`` (0 with the label target ``current``) and, by default,
``length = max(1, dwell_steps)``.
"""

from __future__ import annotations

import re

import numpy as np

from reflexforge.config import STEP_NS
from reflexforge.errors import E_USAGE, ForgeError

AGGREGATES = ("mean", "max")
"""Named aggregates; ``qNN`` (NN in 1..99) is the nearest-rank NN-th percentile."""
MAX_HORIZON = 600
"""Longest horizon, in windows (60 s)."""
_QUANTILE = re.compile(r"q([1-9][0-9]?)\Z")


def check_aggregate(agg: str) -> str:
    """``agg`` if it names an aggregate, else ForgeError(E_USAGE)."""
    if agg in AGGREGATES or _QUANTILE.match(agg):
        return agg
    raise ForgeError(E_USAGE, f"horizon aggregate must be mean, max or qNN (NN in 1..99), "
                     f"got {agg!r}")


def horizon_span(confirm_steps: int, dwell_steps: int, length: int | None,
                 label_target: str = "next") -> tuple[int, int]:
    """(offset, length) in windows of the span a decision is in force: from
    ``confirm_steps + 1`` windows on (0 with label target ``current``: the window itself),
    ``length`` windows (default ``max(1, dwell_steps)``)."""
    offset = 0 if label_target == "current" else confirm_steps + 1
    return offset, max(1, dwell_steps) if length is None else length


def horizon_costs(costs: np.ndarray, starts: np.ndarray, offset: int, length: int,
                  agg: str = "mean") -> np.ndarray:
    """``C[w, p]``: the aggregate of ``costs[v, p]`` over the windows ``v`` of the span of
    window ``w``. Where the span holds no window (the end of the trace, or a gap in it),
    the last window starting at or before the span's end is used alone (``w`` itself or
    a later one)."""
    costs = np.asarray(costs, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    check_aggregate(agg)
    if length < 1 or offset < 0:
        raise ValueError("need length >= 1 and offset >= 0")
    lo = np.searchsorted(starts, starts + offset * STEP_NS, side="left")
    hi = np.searchsorted(starts, starts + (offset + length - 1) * STEP_NS, side="right")
    empty = lo >= hi
    lo = np.where(empty, hi - 1, lo)
    out = np.empty_like(costs)
    if agg == "mean":
        prefix = np.concatenate((np.zeros((1, costs.shape[1])), np.cumsum(costs, axis=0)))
        out[:] = (prefix[hi] - prefix[lo]) / (hi - lo)[:, None]
        return out
    rank = None if agg == "max" else int(agg[1:])
    for w in range(costs.shape[0]):
        block = costs[lo[w]:hi[w]]
        if rank is None:
            out[w] = block.max(axis=0)
        else:
            k = (rank * block.shape[0] + 99) // 100  # nearest rank, 1-based
            out[w] = np.partition(block, k - 1, axis=0)[k - 1]
    return out
