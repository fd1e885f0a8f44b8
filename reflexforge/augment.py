"""Rate augmentation (spec/training.md section 6.4): a training trace replayed faster.

A copy of a trace at F times its packet rate keeps every packet, its size and its RTT
sample, and divides the time since the first arrival by F (rounded down). Trained on beside
the trace itself, it shows the trees load levels F times those the trace reached, and bursts
F times as sharp, which held-out traffic of the same kind may bring.
"""

from __future__ import annotations

import numpy as np

from reflexforge.errors import E_USAGE, ForgeError
from reflexforge.trace import Trace

MAX_AUGMENT_FACTOR = 16
"""The largest rate factor ``--augment`` takes."""


def check_factors(factors: object) -> tuple[int, ...]:
    """``factors`` in increasing order if it is a tuple of distinct integers in
    2..MAX_AUGMENT_FACTOR (empty: no copy), else E_USAGE. Sorted, so that ``2,4`` and
    ``4,2`` give the same file."""
    if not isinstance(factors, tuple) or len(set(factors)) != len(factors) or not all(
            isinstance(f, int) and not isinstance(f, bool) and 2 <= f <= MAX_AUGMENT_FACTOR
            for f in factors):
        raise ForgeError(E_USAGE, f"rate factors must be distinct integers in "
                         f"2..{MAX_AUGMENT_FACTOR}, got {factors!r}")
    return tuple(sorted(factors))


def rate_copy(trace: Trace, factor: int) -> Trace | None:
    """``trace`` at ``factor`` times its packet rate: arrival ``t`` becomes
    ``t0 + (t - t0) // factor`` (``t0``: the first arrival); None when the copy holds no
    complete 200 ms window."""
    from reflexforge.features import window_starts  # here: `build --help` needs no numba

    ts = np.asarray(trace.ts_ns, dtype=np.int64)
    if ts.shape[0] == 0:
        return None
    t0 = int(ts[0])
    faster = t0 + (ts - t0) // factor
    if window_starts(faster).shape[0] == 0:
        return None
    return Trace(faster, trace.size, rtt_samples=trace.rtt_samples, sha1=trace.sha1,
                 path=f"{trace.path} (x{factor} rate)")
