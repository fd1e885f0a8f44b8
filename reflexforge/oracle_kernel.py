"""The oracle's compiled kernel (spec/forge.md section 5): each window of a chunk replayed
alone under all 24 policy pairs, its p95 latency and flushes. ``reflexforge.oracle`` turns
them into costs; ``reflexforge.parallel`` spreads the chunks over processes or Dask.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexforge.config import PAIRS
from reflexforge.pairarrays import PAIR_D_NS, PAIR_N
from reflexforge.simulate import _BITS_PER_BYTE_NS, _INT64_MIN, kth_smallest

_SMALL = 4096  # windows with at most this many packets select over all latencies
_SAMPLE = 256  # about this many latencies are sampled to bracket the p95 of a larger window
_MARGIN = 12  # sample ranks kept on each side of the expected p95 rank


@njit(cache=True, inline="always")
def _batch_end(ts, i, limit, deadline):
    """One past the last index in [i, limit) whose ts is <= deadline (ts[i] <= deadline).

    Galloping search with branch-free steps: batches are often much shorter than N.
    """
    base = i
    step = 1
    while base + step < limit and ts[base + step] <= deadline:
        base += step
        step <<= 1
    length = min(step, limit - base)
    while length > 1:
        half = length >> 1
        base += half * (ts[base + half] <= deadline)
        length -= half
    return base + 1


@njit(cache=True)
def _bit_time_prefix(size, base, top, link_bps, quo, rem):
    """Running transmission time of packets base..x-1 as quotient and remainder.

    8 * 10^9 * (bytes of packets base..x-1) = quo[x - base] * link_bps + rem[x - base] with
    0 <= rem < link_bps, so ceil(8 * 10^9 * bytes(i..j-1) / link_bps) is
    quo[j] - quo[i] + (rem[j] > rem[i]): one division per packet instead of one per batch.
    """
    quo[0] = 0
    rem[0] = 0
    for x in range(base, top):
        r = rem[x - base] + np.int64(size[x]) * _BITS_PER_BYTE_NS
        quo[x - base + 1] = quo[x - base] + r // link_bps
        rem[x - base + 1] = r % link_bps


@njit(cache=True)
def _replay_batches(ts, quo, rem, base, lo, hi, n, d_ns, flush_cost_ns, bstart, bdone):
    """Replay packets [lo, hi) from an empty system, one step per batch.

    Batch b holds packets [bstart[b], bstart[b+1]) and completes at bdone[b]; quo and rem are
    the running transmission times of _bit_time_prefix from packet ``base``. Returns the
    number of batches (= flushes).
    """
    free = _INT64_MIN
    b = 0
    i = lo
    while i < hi:
        deadline = ts[i] + d_ns
        j = _batch_end(ts, i, min(hi, i + n), deadline)
        full = j - i == n
        flush = deadline - full * (deadline - ts[j - 1])  # ts[j - 1] if full else deadline
        done = max(flush, free) + flush_cost_ns + (quo[j - base] - quo[i - base]) \
            + (rem[j - base] > rem[i - base])
        bstart[b] = i
        bdone[b] = done
        free = done
        b += 1
        i = j
    bstart[b] = hi
    return b


@njit(cache=True)
def _all_latencies(ts, bstart, bdone, nb, lat):
    """Write every latency into lat; returns (smallest, largest)."""
    c = 0
    lat_min = np.iinfo(np.int64).max
    lat_max = _INT64_MIN
    for b in range(nb):
        i = bstart[b]
        j = bstart[b + 1]
        done = bdone[b]
        for x in range(i, j):
            lat[c] = done - ts[x]
            c += 1
        lat_max = max(lat_max, done - ts[i])
        lat_min = min(lat_min, done - ts[j - 1])
    return lat_min, lat_max


@njit(cache=True, inline="always")
def _first_at_least(ts, i, j, t):
    """The first index x in [i, j) with ts[x] >= t, or j."""
    while i < j:
        mid = (i + j) >> 1
        if ts[mid] < t:
            i = mid + 1
        else:
            j = mid
    return i


@njit(cache=True)
def _kth_latency(ts, bstart, bdone, nb, m, k, lat, counts, sample):
    """The k-th smallest latency of a replay given as batches (exact; the sample only guides).

    Within a batch the latency falls as the arrival index rises, so whole batches are counted
    at once and binary searches find the packets whose latency lies near the rank.
    """
    if m > _SMALL:
        stride = m // _SAMPLE
        s = 0
        nxt = bstart[0]
        for b in range(nb):
            end = bstart[b + 1]
            done = bdone[b]
            while nxt < end:
                sample[s] = done - ts[nxt]
                s += 1
                nxt += stride
        s_min = sample[0]
        s_max = sample[0]
        for t in range(s):
            s_min = min(s_min, sample[t])
            s_max = max(s_max, sample[t])
        expected = (k * s) // m
        scratch = sample[s:2 * s]
        scratch[:] = sample[:s]
        p_lo = kth_smallest(scratch, s, max(1, expected - _MARGIN), s_min, s_max, counts)
        scratch[:] = sample[:s]
        p_hi = kth_smallest(scratch, s, min(s, expected + _MARGIN + 1), s_min, s_max, counts)
        below = 0
        c = 0
        for b in range(nb):
            i = bstart[b]
            j = bstart[b + 1]
            done = bdone[b]
            if done - ts[i] < p_lo:
                below += j - i
            elif done - ts[j - 1] <= p_hi:
                x1 = _first_at_least(ts, i, j, done - p_hi)  # latency <= p_hi from x1 on
                x2 = _first_at_least(ts, x1, j, done - p_lo + 1)  # latency < p_lo from x2 on
                below += j - x2
                for x in range(x1, x2):
                    lat[c] = done - ts[x]
                    c += 1
        if below < k <= below + c:
            return kth_smallest(lat, c, k - below, p_lo, p_hi, counts)
    lat_min, lat_max = _all_latencies(ts, bstart, bdone, nb, lat)
    return kth_smallest(lat, m, k, lat_min, lat_max, counts)


@njit(cache=True, nogil=True)
def _label_windows(ts, size, first, last, pair_n, pair_d_ns, flush_cost_ns, link_bps,
                   p95_ns, flushes):
    """Fill p95_ns[w, p] and flushes[w, p] for the windows holding packets [first[w], last[w])."""
    n_pairs = pair_n.shape[0]
    base = first[0]
    top = base
    longest = 1
    for w in range(first.shape[0]):
        top = max(top, last[w])
        longest = max(longest, last[w] - first[w])
    quo = np.empty(top - base + 1, dtype=np.int64)
    rem = np.empty(top - base + 1, dtype=np.int64)
    _bit_time_prefix(size, base, top, link_bps, quo, rem)
    lat = np.empty(longest, dtype=np.int64)
    bstart = np.empty(longest + 1, dtype=np.int64)
    bdone = np.empty(longest, dtype=np.int64)
    sample = np.empty(4 * _SAMPLE, dtype=np.int64)
    counts = np.empty(2048, dtype=np.int64)
    for w in range(first.shape[0]):
        lo = first[w]
        hi = last[w]
        m = hi - lo
        rank = (95 * m + 99) // 100
        single = -1  # with N = 1 every batch is one packet flushed at once: D has no effect
        for p in range(n_pairs):
            if pair_n[p] == 1 and single >= 0:
                p95_ns[w, p] = p95_ns[w, single]
                flushes[w, p] = flushes[w, single]
                continue
            nb = _replay_batches(ts, quo, rem, base, lo, hi, pair_n[p], pair_d_ns[p],
                                 flush_cost_ns, bstart, bdone)
            p95_ns[w, p] = _kth_latency(ts, bstart, bdone, nb, m, rank, lat, counts, sample)
            flushes[w, p] = nb
            if pair_n[p] == 1:
                single = p


def label_chunk(ts: np.ndarray, size: np.ndarray, first: np.ndarray, last: np.ndarray,
                flush_cost_ns: int, link_bps: int) -> tuple[np.ndarray, np.ndarray]:
    """(p95_ns int64[w, 24], flushes int64[w, 24]) of the windows [first[w], last[w])."""
    p95_ns = np.empty((first.shape[0], len(PAIRS)), dtype=np.int64)
    flushes = np.empty((first.shape[0], len(PAIRS)), dtype=np.int64)
    if first.shape[0]:
        _label_windows(ts, size, first, last, PAIR_N, PAIR_D_NS, int(flush_cost_ns),
                       int(link_bps), p95_ns, flushes)
    return p95_ns, flushes
