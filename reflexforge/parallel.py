"""Oracle labelling spread over windows: in this process, local worker processes, or Dask.

Every window is labelled on its own by the same compiled kernel, so neither the chunking nor
the backend can change a result; chunks are put back in window order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import socket
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context

import numpy as np

import reflexforge.numbacache  # noqa: F401  (workers: a cache that cannot be saved is fine)
from reflexforge.errors import E_IO, E_USAGE, ForgeError
from reflexforge.oracle_kernel import label_chunk
from reflexforge.simulate import as_sizes

_INLINE_WORK = 40_000_000
"""Below this many packet-windows, automatic mode labels in this process. Worker processes
pay off only when half the labelling time exceeds their start-up: the oracle takes about
75 ns per packet-window (24 policies, benchmarks/bench_label.py) and spawning workers that
import numpy and numba and map the trace takes about 1.5 s (2.8 s on a busy machine), so
k >= 2 workers win from about 2 x 1.5 s / 75 ns = 40 M packet-windows (a trace of about
20 M packets); then all the cores are used. Measured: a 40 s trace of 2.9 M packets labels
in 3.3 s in-process and in 6.0 s with two workers (benchmarks/bench_label_reference.py)."""
_CHUNKS_PER_WORKER = 8  # chunks per worker: balances load and keeps progress moving
_MAX_CHUNK_PACKETS = 4_000_000  # bounds a chunk's scratch memory

STOP_POLL_S = 0.5  # how often a pool labelling looks at its ``stop`` event
DASK_CONNECT_TIMEOUT = 10.0  # seconds to wait for the scheduler at --dask

_shared: dict[str, np.ndarray] = {}


def default_workers() -> int:
    """All cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def pool_size(workers: int, chunks: int) -> int:
    """Processes to start: never more than the chunks (so the windows) or 4 x the cores."""
    return max(1, min(workers, chunks, 4 * default_workers()))


def plan_chunks(first: np.ndarray, last: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Split windows into about ``parts`` contiguous [w0, w1) ranges of similar packet counts."""
    n = first.shape[0]
    if n == 0:
        return []
    work = np.cumsum(last - first)
    total = int(work[-1])
    target = max(1, min(-(-total // max(1, parts)), _MAX_CHUNK_PACKETS))
    chunks = []
    w0 = 0
    while w0 < n:
        done = int(work[w0 - 1]) if w0 else 0
        w1 = int(np.searchsorted(work, done + target, side="left")) + 1
        w1 = min(max(w1, w0 + 1), n)
        chunks.append((w0, w1))
        w0 = w1
    return chunks


def _run_chunk(ts, size, first, last, flush_cost_ns, link_bps):
    return label_chunk(ts, size, first, last, flush_cost_ns, link_bps)


def _attach(ts_path: str, size_path: str) -> None:
    """Map the packet files; copy-on-write views keep the compiled kernel's (writable) types."""
    _shared["ts"] = np.load(ts_path, mmap_mode="c")
    _shared["size"] = np.load(size_path, mmap_mode="c")


def _pool_task(first, last, flush_cost_ns, link_bps):
    return _run_chunk(_shared["ts"], _shared["size"], first, last, flush_cost_ns, link_bps)


def _dask_task(bounds, ts, size, flush_cost_ns, link_bps):
    first, last = bounds
    return _run_chunk(ts, size, first, last, flush_cost_ns, link_bps)


class Stopped(Exception):
    """The caller gave up on a labelling (``stop`` was set: the thread that waits for it was
    interrupted or failed); what had not started is cancelled."""


def label_windows(ts: np.ndarray, size: np.ndarray, first: np.ndarray, last: np.ndarray,
                  flush_cost_ns: int, link_bps: int, workers: int | None = None,
                  dask: str | None = None, progress=None,
                  stop: threading.Event | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(p95_ns int64[n, 24], flushes int64[n, 24]) of the windows [first[w], last[w]).
    ``stop``, once set (from another thread), ends the labelling with ``Stopped`` within
    about STOP_POLL_S (in this process: after the chunk in progress)."""
    n = first.shape[0]
    p95_ns = np.empty((n, 24), dtype=np.int64)
    flushes = np.empty((n, 24), dtype=np.int64)
    if n == 0:
        return p95_ns, flushes
    size = as_sizes(size)  # uint16 from read_telemetry: shared with the workers as is
    work = int((last - first).sum())
    auto = workers is None
    workers = default_workers() if auto else workers
    inline = dask is None and (workers == 1 or (auto and work < _INLINE_WORK))
    chunks = plan_chunks(first, last, _CHUNKS_PER_WORKER * (1 if inline else workers))

    def store(index: int, result: tuple[np.ndarray, np.ndarray]) -> None:
        w0, w1 = chunks[index]
        p95_ns[w0:w1], flushes[w0:w1] = result
        if progress is not None:
            progress.advance(w1 - w0)

    def check() -> None:
        if stop is not None and stop.is_set():
            raise Stopped

    args = (ts, size, first, last, chunks, int(flush_cost_ns), int(link_bps), store, check)
    if dask is not None:
        _label_dask(*args, address=dask)
    elif inline:
        _label_inline(*args)
    else:
        _label_pool(*args, workers=workers)
    return p95_ns, flushes


def _label_inline(ts, size, first, last, chunks, flush_cost_ns, link_bps, store,
                  check) -> None:
    for index, (w0, w1) in enumerate(chunks):
        check()
        store(index, _run_chunk(ts, size, first[w0:w1], last[w0:w1], flush_cost_ns, link_bps))


def _label_pool(ts, size, first, last, chunks, flush_cost_ns, link_bps, store, check, *,
                workers: int) -> None:
    """Worker processes (spawned, so safe beside threads) share the packets via mapped files."""
    with _shared_packets(ts, size) as (ts_path, size_path):
        context = get_context("spawn")
        with ProcessPoolExecutor(max_workers=pool_size(workers, len(chunks)), mp_context=context,
                                 initializer=_attach, initargs=(ts_path, size_path)) as pool:
            pending = {}
            try:
                with _children_without_stop_signals():  # the workers start in the submits
                    for index, (w0, w1) in enumerate(chunks):
                        future = pool.submit(_pool_task, first[w0:w1], last[w0:w1],
                                             flush_cost_ns, link_bps)
                        pending[future] = index
                while pending:
                    check()
                    finished, _ = wait(pending, timeout=STOP_POLL_S,
                                       return_when=FIRST_COMPLETED)
                    for future in finished:
                        store(pending.pop(future), future.result())
            except BaseException:
                # Ctrl-C, SIGTERM, stop set (or a failed chunk): cancel what has not started
                # and let the chunks in progress end (under a second each). The workers never
                # see the signal (blocked in them), so none prints a traceback, and none is
                # killed while it writes its result, which would leave the pool's reader
                # waiting for the rest of the message for good.
                pool.shutdown(wait=True, cancel_futures=True)
                raise


@contextlib.contextmanager
def _shared_packets(ts, size):
    """The paths of the packet files the workers map: in /dev/shm, or in the temporary
    directory when /dev/shm is missing or cannot hold them (a container's is 64 MB); E_IO,
    with what to do, when neither can (a full disk, ``ulimit -f``)."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    reasons = []
    for place in dict.fromkeys(p for p in (shm, tempfile.gettempdir()) if p is not None):
        try:
            tmp = tempfile.mkdtemp(prefix="reflexforge-", dir=place)
        except OSError as exc:
            reasons.append(f"{place}: {exc.strerror or exc}")
            continue
        try:
            paths = os.path.join(tmp, "ts.npy"), os.path.join(tmp, "size.npy")
            try:
                np.save(paths[0], np.ascontiguousarray(ts, dtype=np.int64))
                np.save(paths[1], size)
            except OSError as exc:  # numpy's short write has no errno: the disk or ulimit -f
                reasons.append(f"{place}: {exc.strerror or 'short write'}")
                continue
            yield paths
            return
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    raise ForgeError(E_IO, f"cannot write the packets the worker processes share "
                     f"({'; '.join(reasons)}): free space there or raise the file-size limit "
                     f"(ulimit -f), or use --workers 1")


@contextlib.contextmanager
def _children_without_stop_signals():
    """Processes started inside begin with SIGINT and SIGTERM blocked (a signal mask survives
    fork and exec), so a terminal's Ctrl-C or a service manager's SIGTERM, sent to the whole
    process group, reaches only this process, which stops them (a worker whose parent is
    gone reads the end of its call queue and exits); unblocked here on the way out (a signal
    meanwhile is then delivered, not lost)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _label_dask(ts, size, first, last, chunks, flush_cost_ns, link_bps, store, check, *,
                address: str) -> None:
    """Scatter the packets to every worker of the cluster, map over chunks, gather in order."""
    from distributed import as_completed

    client = connect_dask(address, DASK_CONNECT_TIMEOUT)
    with client:
        ts_future, size_future = client.scatter(
            [np.ascontiguousarray(ts, dtype=np.int64), size], broadcast=True)
        bounds = [(first[w0:w1], last[w0:w1]) for w0, w1 in chunks]
        futures = client.map(_dask_task, bounds, ts=ts_future, size=size_future,
                             flush_cost_ns=flush_cost_ns, link_bps=link_bps, pure=False)
        index_of = {future.key: index for index, future in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=client.loop):
                check()
                store(index_of[future.key], future.result())
        finally:
            client.cancel(futures)


def check_dask_address(address: str) -> tuple[str, str]:
    """(scheme, location) of a scheduler address; E_USAGE unless it is well formed.

    A bare ``host:port`` means ``tcp://host:port``; tcp and tls need a host and a port.
    """
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import backends

    def bad(reason: str) -> ForgeError:
        return ForgeError(E_USAGE, f"bad Dask scheduler address {address!r}: {reason}",
                          column="--dask")

    try:
        scheme, location = parse_address(address.strip())
    except (ValueError, TypeError) as exc:
        raise bad(str(exc)) from None
    if scheme not in backends:
        raise bad(f"unknown scheme {scheme!r} (expected one of {', '.join(sorted(backends))})")
    if scheme in ("tcp", "tls"):
        try:
            host, port = parse_host_port(location)
        except (ValueError, TypeError) as exc:
            raise bad(f"{exc} (expected tcp://HOST:PORT)") from None
        if not host or not 0 < int(port) < 65536:
            raise bad("expected tcp://HOST:PORT with a port in 1..65535")
    return scheme, location


def connect_dask(address: str, timeout: float):
    """A ``distributed.Client`` on ``address``, or one E_USAGE / E_IO error within ``timeout``.

    tcp and tls addresses are first probed with a plain socket, so a refused address fails
    at once; then the scheduler must answer an ``identity`` request within ``timeout`` (a
    silent or foreign server fails); a client that fails half-way is closed without waiting.
    """
    scheme, location = check_dask_address(address)
    if scheme in ("tcp", "tls"):
        from distributed.comm.addressing import parse_host_port

        host, port = parse_host_port(location)
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ForgeError(E_IO, f"cannot reach the Dask scheduler at {address!r}: {reason}",
                             column="--dask") from None
    try:
        identity = asyncio.run(asyncio.wait_for(_identity(address.strip(), timeout), timeout))
    except Exception as exc:  # noqa: BLE001 - whatever answers there is not a Dask scheduler
        reason = "no answer" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        raise ForgeError(E_IO, f"cannot connect to the Dask scheduler at {address!r}: "
                         f"{reason} within {timeout:g} s", column="--dask") from None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise ForgeError(E_IO, f"{address!r} is not a Dask scheduler", column="--dask")
    try:
        return _closing_client_class()(address.strip(), set_as_default=False, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - whatever answers there is not a Dask scheduler
        raise ForgeError(E_IO, f"cannot connect to the Dask scheduler at {address!r}: "
                         f"{type(exc).__name__}: {exc}", column="--dask") from None


async def _identity(address: str, timeout: float) -> object:
    """The scheduler's answer to an ``identity`` request (its type is ``"Scheduler"``)."""
    from distributed.comm import connect

    comm = await connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


@functools.cache
def _closing_client_class() -> type:
    from distributed import Client

    class ClosingClient(Client):
        """A Client that, when its constructor fails, stops its loop thread at once (instead
        of a 2 x timeout wait and a traceback from ``__del__`` at exit)."""

        def __init__(self, *args, **kwargs) -> None:
            try:
                super().__init__(*args, **kwargs)
            except BaseException:
                self.status = "closed"
                runner = getattr(self, "_loop_runner", None)
                if runner is not None:
                    try:
                        runner.stop()
                    except Exception:  # noqa: BLE001 - best effort on an already failed client
                        pass
                raise

    return ClosingClient
