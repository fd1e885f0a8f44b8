"""The batcher + FIFO transmitter simulator of spec/forge.md section 3, compiled with numba.

All times are int64 nanoseconds and all arithmetic on them is exact integer arithmetic.
Every function makes one pass over the packets.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexforge.config import MAX_DELAY_US, MAX_THRESHOLD
from reflexforge.errors import E_USAGE, ForgeError

_BITS_PER_BYTE_NS = 8 * 10**9  # 8 bits per byte x 10^9 ns per second
_INT64_MIN = np.iinfo(np.int64).min


@njit(cache=True, inline="always")
def service_ns(batch_bytes: int, flush_cost_ns: int, link_bps: int) -> int:
    """flush_cost_ns + ceil(8 * batch_bytes * 10^9 / link_bps), exactly (no overflow while
    8 * batch_bytes * 10^9 + link_bps < 2^63)."""
    return flush_cost_ns + (batch_bytes * _BITS_PER_BYTE_NS + link_bps - 1) // link_bps


@njit(cache=True, inline="always")
def close_batch(ts, size, i, m, n, deadline, free, flush_cost_ns, link_bps):
    """The batching rule of spec/forge.md section 3 for the batch opening at packet i.

    Packets i.. join while fewer than ``n`` have joined, ``ts <= deadline`` and the index is
    below ``m``; the batch flushes at its n-th arrival or at ``deadline`` and is sent by the
    FIFO transmitter free from ``free``. Returns (one past its last packet, its completion).
    """
    stop = min(m, i + n)
    j = i
    batch_bytes = 0
    while j < stop and ts[j] <= deadline:
        batch_bytes += np.int64(size[j])
        j += 1
    flush = ts[j - 1] if j - i == n else deadline
    start = flush if flush > free else free
    return j, start + service_ns(batch_bytes, flush_cost_ns, link_bps)


@njit(cache=True)
def replay_schedule(ts, size, t0, step_ns, n_steps, d_steps, flush_cost_ns, link_bps,
                    completion):
    """Replay all of ``ts`` from an empty, idle system; a batch uses the policy of the step in
    which it opens (clamped to the first and last entries). Fills ``completion``; returns the
    number of flushes. A one-entry schedule is a constant policy."""
    m = ts.shape[0]
    last = n_steps.shape[0] - 1
    free = _INT64_MIN  # the transmitter is idle until the first flush
    flushes = 0
    i = 0
    while i < m:
        t_open = ts[i]
        if last == 0 or t_open < t0:
            k = 0
        else:
            k = min((t_open - t0) // step_ns, last)
        n = n_steps[k]
        j, done = close_batch(ts, size, i, m, n, t_open + d_steps[k], free, flush_cost_ns,
                              link_bps)
        for x in range(i, j):
            completion[x] = done
        free = done
        flushes += 1
        i = j
    return flushes


def as_sizes(size: np.ndarray) -> np.ndarray:
    """Packet sizes for the compiled kernels, without a copy when they already fit: uint16
    (as ``read_telemetry`` stores them) stays uint16, anything else becomes int64. The kernels
    widen every size to int64 before any arithmetic, so both give the same results."""
    size = np.asarray(size)
    if size.dtype == np.uint16:
        return np.ascontiguousarray(size)
    return np.ascontiguousarray(size, dtype=np.int64)


def _as_packets(ts: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    size = as_sizes(size)
    if ts.ndim != 1 or ts.shape != size.shape:
        raise ValueError("ts and size must be 1-D arrays of the same length")
    return ts, size


def simulate(ts: np.ndarray, size: np.ndarray, n: int, d_ns: int, flush_cost_ns: int,
             link_bps: int, out: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Replay packets under policy (N = n packets, D = d_ns) from an empty, idle system.

    Returns (completion_ns int64[len(ts)], number of flushes); the completions go into
    ``out`` (int64, one per packet) when given. ``ts`` must be non-decreasing.
    """
    ts, size = _as_packets(ts, size)
    if not 1 <= n <= MAX_THRESHOLD or not 0 <= d_ns <= MAX_DELAY_US * 1000:
        raise ForgeError(E_USAGE, f"policy ({n}, {d_ns} ns) is outside the simulator's limits")
    completion = np.empty(ts.shape[0], dtype=np.int64) if out is None else out
    if completion.shape != ts.shape or completion.dtype != np.int64 \
            or not completion.flags.c_contiguous:
        raise ValueError("out must be a contiguous int64 array of one entry per packet")
    flushes = replay_schedule(ts, size, 0, 1, np.array([n], dtype=np.int64),
                              np.array([d_ns], dtype=np.int64), int(flush_cost_ns),
                              int(link_bps), completion)
    return completion, int(flushes)


def simulate_schedule(ts: np.ndarray, size: np.ndarray, t0: int, step_ns: int,
                      n_per_step: np.ndarray, d_ns_per_step: np.ndarray, flush_cost_ns: int,
                      link_bps: int) -> tuple[np.ndarray, int]:
    """Replay packets under a policy that changes every ``step_ns`` from ``t0``.

    A batch uses the policy of the step in which it opens: step k is
    [t0 + k*step_ns, t0 + (k+1)*step_ns); a batch opening before t0 uses entry 0 and one opening
    after the last step uses the last entry. Returns (completion_ns, flushes).
    """
    ts, size = _as_packets(ts, size)
    n_steps = np.ascontiguousarray(n_per_step, dtype=np.int64)
    d_steps = np.ascontiguousarray(d_ns_per_step, dtype=np.int64)
    if n_steps.ndim != 1 or n_steps.shape != d_steps.shape or n_steps.shape[0] == 0:
        raise ValueError("the per-step policies must be non-empty 1-D arrays of equal length")
    if step_ns < 1:
        raise ValueError("step_ns must be >= 1")
    if n_steps.min() < 1 or n_steps.max() > MAX_THRESHOLD or d_steps.min() < 0 \
            or d_steps.max() > MAX_DELAY_US * 1000:
        raise ForgeError(E_USAGE, "a scheduled policy is outside the simulator's limits")
    completion = np.empty(ts.shape[0], dtype=np.int64)
    flushes = replay_schedule(ts, size, int(t0), int(step_ns), n_steps, d_steps,
                              int(flush_cost_ns), int(link_bps), completion)
    return completion, int(flushes)


def nearest_rank(n: int, percent: int) -> int:
    """The 1-based nearest rank ceil(percent * n / 100) of spec/forge.md, in integers."""
    return (percent * n + 99) // 100


_SELECT_BUCKETS = 2048


@njit(cache=True)
def kth_smallest(buf, m, k, lo, hi, counts):
    """The k-th smallest (1-based) of buf[:m], whose values lie in [lo, hi]; reorders buf.

    A radix selection: histogram the values on their top bits, keep the bucket holding rank k
    and repeat, so it costs about two passes over the data and never sorts it. ``counts`` is
    scratch space of at least 2048 int64.
    """
    while True:
        if lo == hi:
            return lo
        if m <= 16:
            for i in range(1, m):
                v = buf[i]
                j = i - 1
                while j >= 0 and buf[j] > v:
                    buf[j + 1] = buf[j]
                    j -= 1
                buf[j + 1] = v
            return buf[k - 1]
        buckets = 16  # about one bucket per value, at most _SELECT_BUCKETS
        while buckets < m and buckets < _SELECT_BUCKETS:
            buckets <<= 1
        span = hi - lo
        shift = 0
        while (span >> shift) >= buckets:
            shift += 1
        nb = (span >> shift) + 1
        for b in range(nb):
            counts[b] = 0
        for i in range(m):
            counts[(buf[i] - lo) >> shift] += 1
        below = 0
        b = 0
        while below + counts[b] < k:
            below += counts[b]
            b += 1
        k -= below
        if shift == 0:
            return lo + b
        new_lo = hi
        new_hi = lo
        j = 0
        for i in range(m):
            v = buf[i]
            if ((v - lo) >> shift) == b:
                buf[j] = v
                j += 1
                if v < new_lo:
                    new_lo = v
                if v > new_hi:
                    new_hi = v
        m = j
        lo = new_lo
        hi = new_hi
