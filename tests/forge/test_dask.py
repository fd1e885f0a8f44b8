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


def test_unreachable_scheduler_is_a_clean_error(inline):
    ts, size, starts, _ = inline
    with pytest.raises(ForgeError) as err:  # nothing listens on port 1: refused at once
        window_costs(ts, size, starts[:2], 0.1, 5000, 10**10, dask="tcp://127.0.0.1:1")
    assert err.value.code == "E_IO"
    assert "--dask" in str(err.value)


@pytest.mark.parametrize("address", ["garbage", "foo://x:1", "tcp://host", "tcp://:80",
                                     "tcp://h:99999", "tcp://h:x", ""])
def test_malformed_scheduler_address_is_usage(address):
    with pytest.raises(ForgeError) as err:
        parallel.check_dask_address(address)
    assert err.value.code == "E_USAGE"


def test_well_formed_scheduler_addresses():
    assert parallel.check_dask_address("tcp://127.0.0.1:8786") == ("tcp", "127.0.0.1:8786")
    assert parallel.check_dask_address("10.0.0.1:8786") == ("tcp", "10.0.0.1:8786")
    assert parallel.check_dask_address("inproc://x")[0] == "inproc"


def test_pool_never_exceeds_windows_or_four_per_core():
    cores = parallel.default_workers()
    assert parallel.pool_size(256, 3) == 3
    assert parallel.pool_size(256, 10**6) == min(256, 4 * cores)
    assert parallel.pool_size(1, 10**6) == 1


SILENT_SERVER_SCRIPT = """
import socket, sys, threading
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
held = []
threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
import reflexforge.parallel as parallel
parallel.DASK_CONNECT_TIMEOUT = 1.0
from reflexforge.cli import main
port = server.getsockname()[1]
sys.exit(main(["label", sys.argv[1], "-o", sys.argv[2], "-q", "--dask", f"tcp://127.0.0.1:{port}"]))
"""


def test_silent_scheduler_fails_in_one_line_without_traceback(tmp_path):
    import subprocess
    import sys

    from reflexforge.synth import synthesize

    trace = tmp_path / "t.csv"
    synthesize(trace, "poisson", duration_s=1.0, seed=3, rate=500.0)
    out = tmp_path / "ts.csv"
    done = subprocess.run([sys.executable, "-c", SILENT_SERVER_SCRIPT, str(trace), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "E_IO" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not out.exists()


def test_model_selection_scores_the_same_on_threads_and_on_dask(tmp_path):
    """The closed-loop replays of model selection (spec/training.md section 10) give the same
    scores in-process, on two threads and on a real Dask cluster."""
    from distributed import LocalCluster

    from reflexfmt import Node
    from reflexforge.candidates import FileWindows, candidate_grid, fit_candidate, runtime_reflex
    from reflexforge.config import ForgeOptions
    from reflexforge.labelling import make_training_set
    from reflexforge.selection import score_all, validation_span
    from reflexforge.synth import synthesize
    from reflexforge.telemetry import read_telemetry
    from reflexforge.train import TrainOptions, split_by_time

    path = tmp_path / "t.csv"
    synthesize(path, "mixed", duration_s=30.0, seed=4)
    trace = read_telemetry(path)
    one = ForgeOptions(workers=1)
    tset, costs = make_training_set(trace, one)
    n_train = split_by_time(len(tset))
    files = [FileWindows(tset.window_start_ns, tset.X, costs.J, n_train,
                         np.zeros(len(tset), dtype=np.int64), trace)]
    t = TrainOptions(min_leaf=5)
    fitted = [fit_candidate(c, files, one, t) for c in candidate_grid(t)]
    lo, hi = fitted[0].lo, fitted[0].hi
    reflexes = [runtime_reflex(f.lo, f.hi, f.trees, t, {}) for f in fitted] + [
        runtime_reflex(lo, hi, ((Node.leaf(n),), (Node.leaf(d),)), t, {})
        for n, d in ((1, 50), (64, 4000), (8, 200))]
    spans = [validation_span(trace, tset.window_start_ns, tset.X, n_train, costs.J, one)]
    inline = score_all(reflexes, spans, one)
    threads = score_all(reflexes, spans, ForgeOptions(workers=2))
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, processes=True) as cluster:
        on_dask = score_all(reflexes, spans, ForgeOptions(dask=cluster.scheduler_address))
    assert len(inline) == len(reflexes) > 1
    assert inline == threads == on_dask
    assert len({s.mean_j_us for s in inline}) > 1  # the candidates differ
    again = score_all([reflexes[-1], reflexes[1], reflexes[-1]], spans, one)
    assert again[0] is again[2]  # equal reflexes are scored once
    assert again == [inline[-1], inline[1], inline[-1]]


def test_build_on_dask_gives_the_bytes_of_one_process(tmp_path, monkeypatch):
    """``build --dask``: the trace and its rate copy (labelled on a thread beside it, so two
    clients label at once) on a real cluster give the same file as one process."""
    from distributed import LocalCluster

    from reflexforge.cli import main
    from reflexforge.synth import synthesize

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    trace = tmp_path / "t.csv"
    synthesize(trace, "mixed", duration_s=30.0, seed=2)
    one, many = tmp_path / "one.reflex", tmp_path / "dask.reflex"
    assert main(["build", str(trace), "-o", str(one), "--workers", "1", "--quiet"]) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, processes=True) as cluster:
        assert main(["build", str(trace), "-o", str(many), "--dask",
                     cluster.scheduler_address, "--quiet"]) == 0
    assert many.read_bytes() == one.read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_labelling_stops_when_its_caller_gives_up(inline, workers):
    """``stop`` set from another thread (build's copies thread when the main thread is
    interrupted: a SIGTERM left `build` waiting on it for good) ends a labelling on its own
    worker processes or in this process with ``Stopped``, promptly, and no worker is left."""
    import multiprocessing
    import threading
    import time

    ts, size, starts, _ = inline
    stop = threading.Event()
    stopped_at: list[float] = []

    class SetStopOnFirstChunk(Count):
        def advance(self, n: float = 1) -> None:
            super().advance(n)
            if not stop.is_set():
                stop.set()
                stopped_at.append(time.monotonic())

    progress = SetStopOnFirstChunk()
    with pytest.raises(parallel.Stopped):
        window_costs(ts, size, starts, 0.1, 5000, 10**10, workers=workers, progress=progress,
                     stop=stop)
    assert time.monotonic() - stopped_at[0] < 5 * parallel.STOP_POLL_S + 2
    assert 0 < progress.done < starts.shape[0]  # not every chunk was labelled
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]
