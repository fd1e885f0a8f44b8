"""``--rtt tcp``: RTT samples from TCP data/ACK matching in a capture (spec/telemetry.md 6.4).

Each TCP segment that consumes sequence space (payload, SYN or FIN) is remembered per
direction with its capture time. An ACK in the other direction that acknowledges new data
gives one sample: its time minus the time of the latest segment it acknowledges whole, unless
that segment was sent more than once (Karn's rule: a retransmitted segment gives no sample).
The sample is placed on the ACK's row (or, if ``--filter`` leaves the ACK out, on the next
row kept). Headers are read by a compiled loop per chunk; link types: Ethernet (with VLAN
tags), Linux cooked v1/v2, BSD loopback, raw IPv4/IPv6.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numba import njit

from reflexforge.ingest.records import MAX_RECORDS_PER_CHUNK, Chunk, Rows

MAX_OUTSTANDING = 4096
"""Unacknowledged segments remembered per direction (the oldest are forgotten first)."""
_MOD = 1 << 32
_HALF = 1 << 31
LINK_OFFSETS = {1: -1, 113: -2, 276: -3, 0: -4, 101: 0, 12: 0, 14: 0, 228: 0, 229: 0}
"""Link type -> how to find the IP header (-1 Ethernet, -2 SLL, -3 SLL2, -4 BSD loopback,
0: IP at the start)."""
FIN, SYN, ACK = 0x01, 0x02, 0x10


@njit(cache=True, inline="always")
def _u16(buf, at):
    return (np.int64(buf[at]) << 8) | np.int64(buf[at + 1])


@njit(cache=True, inline="always")
def _u32(buf, at):
    return (np.int64(buf[at]) << 24) | (np.int64(buf[at + 1]) << 16) | \
        (np.int64(buf[at + 2]) << 8) | np.int64(buf[at + 3])


@njit(cache=True)
def _hash(buf, a, alen, b, blen, pa, pb):
    """FNV-1a over (address a, address b, port a, port b): one direction of a flow."""
    h = np.uint64(0xCBF29CE484222325)
    prime = np.uint64(0x100000001B3)
    for k in range(alen):
        h = (h ^ np.uint64(buf[a + k])) * prime
    for k in range(blen):
        h = (h ^ np.uint64(buf[b + k])) * prime
    h = (h ^ np.uint64(pa)) * prime
    h = (h ^ np.uint64(pb)) * prime
    return np.int64(h & np.uint64(0x7FFFFFFFFFFFFFFF))


@njit(cache=True)
def tcp_headers(buf, offset, caplen, iface, link_mode, n, fwd, rev, seq, ack, flags, plen):
    """Fill the TCP fields of records 0..n-1; flags = -1 for a record that is not TCP (or is
    cut short before the TCP header's first 16 bytes)."""
    for i in range(n):
        flags[i] = -1
        at = offset[i]
        end = at + caplen[i]
        mode = link_mode[iface[i]]
        proto = -1
        if mode == -1:
            if end - at < 14:
                continue
            proto = _u16(buf, at + 12)
            at += 14
            while proto == 0x8100 or proto == 0x88A8:
                if end - at < 4:
                    break
                proto = _u16(buf, at + 2)
                at += 4
        elif mode == -2:
            if end - at < 16:
                continue
            proto = _u16(buf, at + 14)
            at += 16
        elif mode == -3:
            if end - at < 20:
                continue
            proto = _u16(buf, at)
            at += 20
        elif mode == -4:
            if end - at < 4:
                continue
            family = np.int64(buf[at]) | np.int64(buf[at + 3])  # either byte order
            proto = 0x0800 if family == 2 else 0x86DD
            at += 4
        elif mode == 0:
            if end - at < 1:
                continue
            proto = 0x0800 if (buf[at] >> 4) == 4 else 0x86DD
        else:
            continue
        if proto == 0x0800:
            if end - at < 20 or (buf[at] >> 4) != 4 or buf[at + 9] != 6:
                continue
            ihl = np.int64(buf[at] & 0x0F) * 4
            total = _u16(buf, at + 2)
            src, dst, alen = at + 12, at + 16, 4
            tcp = at + ihl
            payload = total - ihl
        elif proto == 0x86DD:
            if end - at < 40 or buf[at + 6] != 6:
                continue
            src, dst, alen = at + 8, at + 24, 16
            tcp = at + 40
            payload = _u16(buf, at + 4)
        else:
            continue
        if end - tcp < 16:
            continue
        sport = _u16(buf, tcp)
        dport = _u16(buf, tcp + 2)
        hlen = np.int64(buf[tcp + 12] >> 4) * 4
        fwd[i] = _hash(buf, src, alen, dst, alen, sport, dport)
        rev[i] = _hash(buf, dst, alen, src, alen, dport, sport)
        seq[i] = _u32(buf, tcp + 4)
        ack[i] = _u32(buf, tcp + 8)
        flags[i] = np.int64(buf[tcp + 13])
        plen[i] = max(0, payload - hlen)


def _after(a: int, b: int) -> bool:
    """a is after b in 32-bit sequence space."""
    return 0 < (a - b) % _MOD < _HALF


class TcpRtt:
    """The matching state across chunks, and the samples found (by record, then by row)."""

    def __init__(self) -> None:
        size = MAX_RECORDS_PER_CHUNK
        self._fields = [np.zeros(size, np.int64) for _ in range(6)]
        self._flows: dict[int, list] = {}  # direction -> [highest end sent, deque of segments]
        self._chunk_samples: list[tuple[int, int]] = []  # (record in chunk, ns)
        self._rows: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def observe(self, chunk: Chunk, n: int, buf: np.ndarray, links) -> None:
        modes = np.array([LINK_OFFSETS.get(link, 99) for link in links], dtype=np.int64)
        fwd, rev, seq, ack, flags, plen = self._fields
        tcp_headers(buf, chunk.offset, chunk.caplen, chunk.iface, modes, n,
                    fwd, rev, seq, ack, flags, plen)
        found = []
        ts = chunk.ts_ns
        for i in np.flatnonzero(flags[:n] >= 0).tolist():
            f, s, fl, t = int(fwd[i]), int(seq[i]), int(flags[i]), int(ts[i])
            consumed = int(plen[i]) + (1 if fl & SYN else 0) + (1 if fl & FIN else 0)
            if consumed:
                end = (s + consumed) % _MOD
                state = self._flows.get(f)
                if state is None:
                    state = self._flows[f] = [None, deque(maxlen=MAX_OUTSTANDING)]
                if state[0] is not None and not _after(end, state[0]):
                    for segment in state[1]:  # Karn: every segment this one resends
                        if _after(segment[0], s):
                            segment[2] = True
                else:
                    state[0] = end
                    state[1].append([end, t, False])
            if fl & ACK:
                other = self._flows.get(int(rev[i]))
                if other is None or not other[1]:
                    continue
                a = int(ack[i])
                pending = other[1]
                last = None
                while pending and not _after(pending[0][0], a):
                    last = pending.popleft()
                if last is not None and not last[2] and t >= last[1]:
                    found.append((i, t - last[1]))
        self._chunk_samples = found

    def placed(self, chunk: Chunk, n: int, keep: np.ndarray, start_row: int, rows: Rows) -> None:
        """Turn this chunk's samples (by record) into row indices."""
        if not self._chunk_samples:
            return
        wire = chunk.wire[:n]
        if rows.mode == 2:
            pieces = np.where(keep[:n], np.maximum(1, (wire + rows.mtu - 1) // rows.mtu), 0)
        else:
            pieces = keep[:n].astype(np.int64)
        first_row = start_row + np.concatenate(([0], np.cumsum(pieces)[:-1]))
        at = np.array([i for i, _ in self._chunk_samples], dtype=np.int64)
        self._rows.append(first_row[at])
        self._values.append(np.array([v for _, v in self._chunk_samples], dtype=np.int64))

    def samples(self, total_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(row indices, RTT ns): one sample per row at most (the first), rows that exist."""
        if not self._rows:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        rows = np.concatenate(self._rows)
        values = np.concatenate(self._values)
        inside = rows < total_rows
        rows, values = rows[inside], values[inside]
        first = np.ones(rows.shape[0], dtype=np.bool_)
        first[1:] = rows[1:] != rows[:-1]
        return rows[first], values[first]
