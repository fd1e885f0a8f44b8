"""Capture records -> trace rows: the output arrays and the oversize rule (spec/telemetry.md 6).

A capture reader walks its file in chunks; each chunk gives ``Chunk`` arrays (one entry per
packet record: timestamp in ns, original length, where the captured bytes are). ``Rows``
collects the trace rows from them, applying ``--oversize`` on the way, so the reader never
holds more than one chunk of records besides the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from reflexforge.ingest.options import MODE_CODE, SPLIT
from reflexforge.memory import EXPANDS, RowGuard, reserve_rows
from reflexforge.trace import ROW_BYTES, SIZE_DTYPE

CHUNK_BYTES = 8 << 20
"""Bytes read per chunk. A record may straddle chunks: the rest is carried over."""
MAX_RECORDS_PER_CHUNK = CHUNK_BYTES // 16 + 1
"""A pcap record takes at least 16 bytes (a pcapng packet block at least 16): the chunk
arrays never need more entries than this, whatever the file says."""
MAX_WIRE = 524288
"""Largest original (wire) length of a capture record (512 KiB: Linux's largest GSO / BIG TCP
packet, spec/telemetry.md 5.4). A larger length field is corruption, refused before rows are
allocated, so ``--oversize split`` makes at most MAX_WIRE / --mtu rows of a record."""


@dataclass
class Chunk:
    """Per-record arrays of one chunk, reused from chunk to chunk (entries 0..n-1 are valid):
    timestamp, original length, where the record starts and where its captured bytes are
    in the chunk buffer, captured length, interface (pcapng)."""

    ts_ns: np.ndarray = field(default_factory=lambda: np.empty(MAX_RECORDS_PER_CHUNK, np.int64))
    wire: np.ndarray = field(default_factory=lambda: np.empty(MAX_RECORDS_PER_CHUNK, np.int64))
    start: np.ndarray = field(default_factory=lambda: np.empty(MAX_RECORDS_PER_CHUNK, np.int64))
    offset: np.ndarray = field(default_factory=lambda: np.empty(MAX_RECORDS_PER_CHUNK, np.int64))
    caplen: np.ndarray = field(default_factory=lambda: np.empty(MAX_RECORDS_PER_CHUNK, np.int64))
    iface: np.ndarray = field(default_factory=lambda: np.zeros(MAX_RECORDS_PER_CHUNK, np.int64))


@njit(cache=True, nogil=True)
def as_read(size, mode, mtu):
    """(rows, bytes, bytes of the last row) that ``--oversize`` (``mode``, MODE_CODE) makes
    of a record of ``size`` bytes: clamp cuts it to one row of mtu bytes; split makes
    ceil(size / mtu) rows of mtu bytes except the last (the rest); error, or a record of at
    most mtu bytes, is one row as it is."""
    if mode == 0 or size <= mtu:
        return 1, size, size
    if mode == 1:
        return 1, mtu, mtu
    pieces = (size + mtu - 1) // mtu
    return pieces, size, size - (pieces - 1) * mtu


@njit(cache=True, nogil=True)
def _emit(ts, wire, keep, n, mode, mtu, out_ts, out_size, at, stats):
    """Append records 0..n-1 (those with keep[i]) to out_* from row ``at`` (room is made
    by the caller).

    mode 0 (error): stop at the first record with wire > 65535 and return -(i + 1).
    mode 1 (clamp): sizes above mtu become mtu. mode 2 (split): a record of L > mtu bytes
    becomes ceil(L / mtu) rows at its timestamp, mtu bytes each except the last (the rest).
    Returns the new row count. stats: [records changed, rows added, bytes cut by clamp,
    largest original length].
    """
    for i in range(n):
        if not keep[i]:
            continue
        size = wire[i]
        if size > stats[3]:
            stats[3] = size
        if mode == 0 or size <= mtu:
            if size > 65535:
                return -(i + 1)
            out_ts[at] = ts[i]
            out_size[at] = size
            at += 1
        elif mode == 1:
            out_ts[at] = ts[i]
            out_size[at] = mtu
            stats[0] += 1
            stats[2] += size - mtu
            at += 1
        else:
            pieces, _, last = as_read(size, mode, mtu)
            for _ in range(pieces - 1):
                out_ts[at] = ts[i]
                out_size[at] = mtu
                at += 1
            out_ts[at] = ts[i]
            out_size[at] = last
            at += 1
            stats[0] += 1
            stats[1] += pieces - 1
    return at


def split_rows(wire: np.ndarray, mtu: int) -> np.ndarray:
    """The rows ``--oversize split`` makes of records of ``wire`` bytes: one per started
    ``mtu`` bytes, at least one."""
    return np.maximum(1, (wire + mtu - 1) // mtu)


class Rows:
    """The growing trace arrays (ts_ns int64, size uint16) and the oversize statistics."""

    def __init__(self, capacity: int, oversize: str, mtu: int, name: str | None = None,
                 compressed: bool = False) -> None:
        self.guard = RowGuard(name, ROW_BYTES)
        self.compressed = compressed
        capacity = reserve_rows(capacity, ROW_BYTES)
        self.ts = np.empty(capacity, dtype=np.int64)
        self.size = np.empty(capacity, dtype=SIZE_DTYPE)
        self.n = 0
        self.mode = MODE_CODE[oversize]
        self.mtu = int(mtu)
        self.stats = np.zeros(4, dtype=np.int64)

    @property
    def split_mtu(self) -> int:
        """The MTU a record is split at (``--oversize split``), else 0: one row a record."""
        return self.mtu if self.mode == MODE_CODE[SPLIT] else 0

    def add(self, chunk: Chunk, n: int, keep: np.ndarray) -> int:
        """Append n records of ``chunk``; returns -1, or (mode error) the index of the first
        record longer than 65535 bytes."""
        wire = chunk.wire[:n]
        if self.split_mtu:
            kept = wire[keep[:n]]
            need = int(split_rows(kept, self.mtu).sum())
            added = need - kept.shape[0]
        else:
            need, added = n, 0
        self.guard.cure = self._cure(added)  # the advice that applies, should the guard stop
        self.guard.need(self.n + need, self.n)
        if self.n + need > self.ts.shape[0]:
            capacity = max(self.n + need, self.ts.shape[0] + self.ts.shape[0] // 2)
            self.ts.resize(capacity, refcheck=False)
            self.size.resize(capacity, refcheck=False)
        got = _emit(chunk.ts_ns, wire, keep, n, self.mode, self.mtu, self.ts, self.size,
                    self.n, self.stats)
        if got < 0:
            return -got - 1
        self.n = got
        return -1

    def _cure(self, added: int) -> str:
        """What to try: --oversize clamp when split has added rows (``added`` by this
        chunk), else a compressed capture's own hint."""
        if self.split_mtu and self.stats[1] + added > 0:
            return (f": --oversize split at --mtu {self.mtu} makes a row of every {self.mtu} "
                    "bytes of a record; try --oversize clamp, or a larger --mtu")
        return EXPANDS if self.compressed else ""

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """The trace arrays, trimmed to the rows written."""
        self.ts.resize(self.n, refcheck=False)
        self.size.resize(self.n, refcheck=False)
        return self.ts, self.size
