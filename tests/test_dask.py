"""Labelling gives the same numbers in-process, on local workers and on a Dask cluster."""

from __future__ import annotations

import numpy as np
import pytest

from reflexforge import parallel
from reflexforge.errors import ForgeError
from reflexforge.features import window_starts
from reflexforge.oracle import window_costs
from reflexforge.parallel import plan_chunks


def packets():
    rng = np.random.default_rng(21)
    n = 120_000
    gaps = np.where((np.arange(n) // 20_000) % 2 == 0, 4_000, 40_000)
    ts = np.cumsum(rng.exponential(gaps).astype(np.int64))
    return ts, rng.integers(40, 9000, n)


class Count:
    def __init__(self) -> None:
        self.done = 0

    def advance(self, n: float = 1) -> None:
        self.done += n


def same(a, b) -> bool:
    return a.J.tobytes() == b.J.tobytes() and np.array_equal(a.flushes, b.flushes) \
        and a.p95_us.tobytes() == b.p95_us.tobytes()


@pytest.fixture(scope="module")
def inline():
    ts, size = packets()
    starts = window_starts(ts)
    return ts, size, starts, window_costs(ts, size, starts, 0.1, 5000, 10**10, workers=1)


def test_chunks_cover_windows_in_order():
    first = np.arange(0, 1000, 10)
    last = first + np.arange(100) % 7 + 1
    for parts in (1, 3, 16, 500):
        chunks = plan_chunks(first, last, parts)
        assert chunks[0][0] == 0 and chunks[-1][1] == 100
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(chunks, chunks[1:], strict=False))


def test_two_local_workers_match_one(inline):
    ts, size, starts, one = inline
    progress = Count()
    two = window_costs(ts, size, starts, 0.1, 5000, 10**10, workers=2, progress=progress)
    assert same(one, two)
    assert progress.done == starts.shape[0]


def test_dask_local_cluster_matches_one(inline):
    from distributed import LocalCluster

    ts, size, starts, one = inline
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, processes=True) as cluster:
        on_dask = window_costs(ts, size, starts, 0.1, 5000, 10**10, dask=cluster.scheduler_address)
    assert same(one, on_dask)


def test_unreachable_scheduler_is_a_clean_error(inline, monkeypatch):
    monkeypatch.setattr(parallel, "DASK_CONNECT_TIMEOUT", "2s")
    ts, size, starts, _ = inline
    with pytest.raises(ForgeError) as err:
        window_costs(ts, size, starts[:2], 0.1, 5000, 10**10, dask="tcp://127.0.0.1:9")
    assert err.value.code == "E_USAGE"
