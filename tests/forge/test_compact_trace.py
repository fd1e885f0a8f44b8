"""The compact trace of read_telemetry (uint16 sizes, sparse RTT samples, arrays grown in place)
gives exactly what the int64 arrays give, in every kernel that reads packets."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from reflexforge.closedloop import MODE_CLOSED, MODE_OPEN, run_loop
from reflexforge.config import ForgeOptions
from reflexforge.features import window_features, window_starts
from reflexforge.labelling import make_training_set
from reflexforge.oracle import window_costs
from reflexforge.runtime import constant_flat
from reflexforge.simulate import simulate
from reflexforge.telemetry import read_telemetry
from reflexforge.trace import Trace


def _packets(n: int = 30_000, seed: int = 7):
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.exponential(25_000.0, n).astype(np.int64))
    size = rng.integers(1, 65536, n).astype(np.uint16)  # the whole range, 65535 included
    size[:50] = 65535
    rtt = np.where(rng.random(n) < 0.02, rng.integers(10_000, 2**40, n), -1).astype(np.int64)
    return ts, size, rtt


def test_uint16_sizes_match_int64_in_every_kernel():
    ts, size16, rtt = _packets()
    size64 = size16.astype(np.int64)
    starts = window_starts(ts)
    c16, f16 = simulate(ts, size16, 16, 1_000_000, 5000, 10**9)
    c64, f64 = simulate(ts, size64, 16, 1_000_000, 5000, 10**9)
    assert f16 == f64 and np.array_equal(c16, c64)
    x16 = window_features(ts, size16, rtt, c16, starts)
    x64 = window_features(ts, size64, rtt, c64, starts)
    assert np.array_equal(x16.view(np.uint64), x64.view(np.uint64))
    j16 = window_costs(ts, size16, starts, 0.1, 5000, 10**9, workers=1)
    j64 = window_costs(ts, size64, starts, 0.1, 5000, 10**9, workers=1)
    assert np.array_equal(j16.J, j64.J) and np.array_equal(j16.flushes, j64.flushes)
    flat = constant_flat(16, 1000)
    for mode in (MODE_OPEN, MODE_CLOSED):
        a = run_loop(ts, size16, rtt, (16, 1000), 5000, 10**9, mode, flat)
        b = run_loop(ts, size64, rtt, (16, 1000), 5000, 10**9, mode, flat)
        assert a.flushes == b.flushes and np.array_equal(a.completion, b.completion)
        assert np.array_equal(a.features.view(np.uint64), b.features.view(np.uint64))


def test_sparse_rtt_matches_dense():
    ts, size, rtt = _packets(seed=8)
    at = np.flatnonzero(rtt >= 0)
    sparse = Trace(ts_ns=ts, size=size, rtt_samples=(at, rtt[at]), sha1="", path="mem")
    dense = Trace(ts_ns=ts, size=size.astype(np.int64), rtt_ns=rtt, sha1="", path="mem")
    assert np.array_equal(sparse.rtt_ns, rtt)
    assert all(np.array_equal(a, b) for a, b in zip(dense.rtt_samples, (at, rtt[at]),
                                                     strict=True))
    opts = ForgeOptions(workers=1)
    got, _ = make_training_set(sparse, opts)
    want, _ = make_training_set(dense, opts)
    assert np.array_equal(got.X.view(np.uint64), want.X.view(np.uint64))
    with pytest.raises(ValueError):
        Trace(ts_ns=ts, size=size, sha1="", path="mem")


@pytest.mark.parametrize("gz", [False, True])
def test_arrays_grow_past_the_first_estimate(tmp_path, gz):
    """Rows shorter than the estimate assumes (and gzip's high ratio) make the reader grow."""
    n = 200_000  # 5-byte rows: more than the file size over 8
    ts = np.arange(n, dtype=np.int64) // 100_000
    data = b"ts_ns,bytes,rtt_ns\n" + b"".join(
        b"%d,%d,%s\n" % (t, 1 + i % 9, b"7" if i % 97 == 0 else b"")
        for i, t in enumerate(ts.tolist()))
    path = tmp_path / ("t.csv.gz" if gz else "t.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    trace = read_telemetry(path, min_span_ns=0)
    assert trace.rows == n and np.array_equal(trace.ts_ns, ts)
    assert trace.size.dtype == np.uint16
    assert np.array_equal(trace.size, 1 + np.arange(n) % 9)
    want = np.where(np.arange(n) % 97 == 0, 7, -1)
    assert np.array_equal(trace.rtt_ns, want)
    assert np.array_equal(trace.rtt_samples[0], np.flatnonzero(want >= 0))


def test_features_done_is_called_once_between_the_features_and_the_labels():
    """``build`` starts the rate copy's work from this hook, so that the two whole-trace
    replays' completion arrays are never held at once: it must come after the features and
    before any window is labelled, and leave the result unchanged."""
    ts, size, rtt = _packets(seed=9)
    trace = Trace(ts_ns=ts, size=size, rtt_ns=rtt, sha1="", path="mem")
    opts = ForgeOptions(workers=1)

    class Counter:
        labelled = 0

        def advance(self, n: int = 1) -> None:
            self.labelled += n

    progress = Counter()
    calls: list[int] = []
    got, costs = make_training_set(trace, opts, progress,
                                   features_done=lambda: calls.append(progress.labelled))
    assert calls == [0] and progress.labelled == got.X.shape[0] > 0
    want, want_costs = make_training_set(trace, opts)
    assert np.array_equal(got.X.view(np.uint64), want.X.view(np.uint64))
    assert np.array_equal(costs.J, want_costs.J)
