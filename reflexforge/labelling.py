"""The label stage (spec/forge.md sections 4-6): the features of every window from one
incumbent replay, and the oracle's label (the pair of least J) of every window.

``make_training_set`` returns the ``TrainingSet`` that ``reflexforge.trainset`` writes, and
the oracle's whole cost matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reflexforge.config import PAIRS, ForgeOptions
from reflexforge.errors import E_CSV_VALUE, E_TRACE_SHORT, ForgeError
from reflexforge.features import window_features, window_starts
from reflexforge.oracle import OracleCosts, best_pairs, window_costs
from reflexforge.simulate import as_sizes, simulate
from reflexforge.trace import TS_MAX, Trace
from reflexforge.trainset import TrainingSet


def make_training_set(trace: Trace, opts: ForgeOptions, progress=None,
                      features_done: Callable[[], object] | None = None, stop=None
                      ) -> tuple[TrainingSet, OracleCosts]:
    """Features (one incumbent replay of the whole trace) and oracle labels of every window.

    ``trace`` has arrays ts_ns, size, rtt_ns (see ``Trace``) and a path. ``progress``, if given, is
    advanced by the number of windows labelled (``len(window_starts(trace.ts_ns))`` in all).
    ``features_done``, if given, is called once the features are made and the replay's
    completion times (8 bytes per packet) freed, before the labelling. ``stop`` (a
    threading.Event) set from another thread ends the labelling (``parallel.Stopped``).
    Raises ForgeError(E_TRACE_SHORT) when the trace holds no complete window.
    """
    ts = np.ascontiguousarray(trace.ts_ns, dtype=np.int64)
    size = as_sizes(trace.size)
    path = getattr(trace, "path", None)
    if ts.shape[0] and (int(ts[0]) < 0 or int(ts[-1]) > TS_MAX):
        raise ForgeError(E_CSV_VALUE, f"ts_ns must lie in 0..2^62 for the forge, got "
                         f"{int(ts[0])}..{int(ts[-1])}", path=path, column="ts_ns")
    starts = window_starts(ts)
    if starts.shape[0] == 0:
        span = int(ts[-1]) - int(ts[0]) if ts.shape[0] else 0
        raise ForgeError(E_TRACE_SHORT, f"the trace spans {span} ns; at least one 200 ms window "
                         "(200000000 ns from the first to the last ts_ns) is needed", path=path)
    X = incumbent_features(trace, opts, starts)
    if features_done is not None:
        features_done()
    costs = window_costs(ts, size, starts, opts.lam, opts.flush_cost_ns, opts.link_bps,
                         workers=opts.workers, dask=opts.dask, progress=progress, stop=stop)
    best = best_pairs(costs.J)
    pairs = np.array(PAIRS, dtype=np.int64)
    rows = np.arange(best.shape[0])
    return TrainingSet(window_start_ns=starts, X=X, flush_threshold=pairs[best, 0],
                       max_batch_delay_us=pairs[best, 1], J=costs.J[rows, best]), costs


def incumbent_features(trace: Trace, opts: ForgeOptions, starts: np.ndarray) -> np.ndarray:
    """The features (float64[n, 10]) of the windows at ``starts``, from one replay of the whole
    trace under ``opts.incumbent`` (spec/forge.md section 4)."""
    ts = np.ascontiguousarray(trace.ts_ns, dtype=np.int64)
    size = as_sizes(trace.size)
    n_inc, d_inc_us = opts.incumbent
    completion, _ = simulate(ts, size, n_inc, d_inc_us * 1000, opts.flush_cost_ns, opts.link_bps)
    rtt = getattr(trace, "rtt_samples", None)  # sparse: a Trace never builds the dense array
    return window_features(ts, size, trace.rtt_ns if rtt is None else rtt, completion, starts)
