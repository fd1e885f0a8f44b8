"""``--rtt tcp``: RTT samples from TCP data/ACK matching in a capture (spec/telemetry.md 6.4).

Each TCP segment that consumes sequence space (payload, SYN or FIN) is remembered per
direction with its capture time. An ACK in the other direction that acknowledges new data
gives one sample: its time minus the time of the latest segment it acknowledges whole, unless
that segment was sent more than once (Karn's rule: a retransmitted segment gives no sample).
The sample is placed on the ACK's row (or, if ``--filter`` leaves the ACK out, on the next
row kept). Headers are read, and segments matched, by compiled loops per chunk (the matching
state carries over from chunk to chunk); link types: Ethernet (with VLAN tags), Linux cooked
v1/v2, BSD loopback, raw IPv4/IPv6.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from reflexforge.ingest.records import MAX_RECORDS_PER_CHUNK, Chunk, split_rows

MAX_OUTSTANDING = 4096
"""Unacknowledged segments remembered per direction (the oldest are forgotten first)."""
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


_NONE = -1
"""No node / no segment sent yet / an empty entry of the direction hash table."""
_SLOTS0, _NODES0 = 1 << 10, 1 << 14
"""Starting sizes of the direction and segment tables (each doubles when full); the hash
table of directions has twice as many entries as the direction table (a power of 2)."""


@njit(cache=True, inline="always")
def _after(a, b):
    """a is after b in 32-bit sequence space."""
    d = (a - b) & 0xFFFFFFFF
    return 0 < d < 0x80000000


@njit(cache=True, inline="always")
def _probe(keys, key):
    """Where ``key`` (a direction's hash, >= 0) is in the open-addressing table ``keys``
    (linear probing, at most half full), or the empty entry where it would go."""
    mask = keys.shape[0] - 1
    j = key & mask
    while keys[j] != _NONE and keys[j] != key:
        j = (j + 1) & mask
    return j


@njit(cache=True)
def _rehash(keys, slot_of, slot_key, used):
    """Fill the emptied table ``keys`` -> ``slot_of`` with the ``used`` directions."""
    keys[:] = _NONE
    for k in range(used):
        j = _probe(keys, slot_key[k])
        keys[j] = slot_key[k]
        slot_of[j] = k


@njit(cache=True)
def _match(start, n, ts, fwd, rev, seq, ack, flags, plen, keys, slot_of, slot_key, highest,
           head, tail, count, seg_end, seg_t, seg_retx, seg_next, meta, sample_at, sample_ns):
    """Match records start..n-1 of a chunk (spec/telemetry.md 6.4).

    Per direction (found by its hash in ``keys``, its slot in ``slot_of``; ``slot_key`` the
    hash of each slot) the highest sequence end sent and a singly
    linked list of its unacknowledged segments, oldest first, at most MAX_OUTSTANDING (the
    oldest is forgotten first); segment nodes come from one pool with a free list.
    meta = [free list head, pool nodes used, slots used, samples found]. Returns the record
    at which a table is full (the caller grows it and calls again from there), or n.
    """
    for i in range(start, n):
        fl = flags[i]
        if fl < 0:
            continue
        if meta[2] >= highest.shape[0] or (meta[0] == _NONE and meta[1] >= seg_end.shape[0]):
            return i
        s, t = seq[i], ts[i]
        consumed = plen[i] + (1 if fl & SYN else 0) + (1 if fl & FIN else 0)
        if consumed:
            end = (s + consumed) & 0xFFFFFFFF
            f = fwd[i]
            j = _probe(keys, f)
            if keys[j] == f:
                k = slot_of[j]
            else:
                k = meta[2]
                meta[2] += 1
                keys[j], slot_of[j], slot_key[k] = f, k, f
                highest[k], head[k], tail[k], count[k] = _NONE, _NONE, _NONE, 0
            if highest[k] != _NONE and not _after(end, highest[k]):
                node = head[k]
                while node != _NONE:  # Karn: every segment this one resends
                    if _after(seg_end[node], s):
                        seg_retx[node] = 1
                    node = seg_next[node]
            else:
                highest[k] = end
                if count[k] == MAX_OUTSTANDING:  # forget the oldest
                    old = head[k]
                    head[k] = seg_next[old]
                    seg_next[old] = meta[0]
                    meta[0] = old
                    count[k] -= 1
                if meta[0] != _NONE:
                    node = meta[0]
                    meta[0] = seg_next[node]
                else:
                    node = meta[1]
                    meta[1] += 1
                seg_end[node], seg_t[node], seg_retx[node], seg_next[node] = end, t, 0, _NONE
                if tail[k] == _NONE:
                    head[k] = node
                else:
                    seg_next[tail[k]] = node
                tail[k] = node
                count[k] += 1
        if fl & ACK:
            r = rev[i]
            j = _probe(keys, r)
            if keys[j] != r:
                continue
            k = slot_of[j]
            a = ack[i]
            last = _NONE
            while head[k] != _NONE and not _after(seg_end[head[k]], a):
                if last != _NONE:
                    seg_next[last] = meta[0]
                    meta[0] = last
                last = head[k]
                head[k] = seg_next[last]
                count[k] -= 1
            if last == _NONE:
                continue
            if head[k] == _NONE:
                tail[k] = _NONE
            if seg_retx[last] == 0 and t >= seg_t[last]:
                sample_at[meta[3]] = i
                sample_ns[meta[3]] = t - seg_t[last]
                meta[3] += 1
            seg_next[last] = meta[0]
            meta[0] = last
    return n


def _grown(a: np.ndarray) -> np.ndarray:
    out = np.zeros(2 * a.shape[0], a.dtype)
    out[: a.shape[0]] = a
    return out


class TcpRtt:
    """The matching state across chunks, and the samples found (by record, then by row)."""

    def __init__(self) -> None:
        size = MAX_RECORDS_PER_CHUNK
        self._fields = [np.zeros(size, np.int64) for _ in range(6)]
        self._keys = np.full(2 * _SLOTS0, _NONE, np.int64)
        self._slot_of = np.zeros(2 * _SLOTS0, np.int64)
        # key highest head tail count
        self._slots = [np.zeros(_SLOTS0, np.int64) for _ in range(5)]
        self._pool = [np.zeros(_NODES0, np.int64), np.zeros(_NODES0, np.int64),
                      np.zeros(_NODES0, np.uint8), np.zeros(_NODES0, np.int64)]
        self._meta = np.array([_NONE, 0, 0, 0], np.int64)
        self._at = np.zeros(size, np.int64)
        self._ns = np.zeros(size, np.int64)
        self._rows: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def observe(self, chunk: Chunk, n: int, buf: np.ndarray, links) -> None:
        modes = np.array([LINK_OFFSETS.get(link, 99) for link in links], dtype=np.int64)
        fwd, rev, seq, ack, flags, plen = self._fields
        tcp_headers(buf, chunk.offset, chunk.caplen, chunk.iface, modes, n,
                    fwd, rev, seq, ack, flags, plen)
        self._meta[3] = 0
        at = 0
        while True:
            at = _match(at, n, chunk.ts_ns, fwd, rev, seq, ack, flags, plen, self._keys,
                        self._slot_of, *self._slots, *self._pool, self._meta, self._at,
                        self._ns)
            if at == n:
                break
            if self._meta[2] >= self._slots[0].shape[0]:
                self._slots = [_grown(a) for a in self._slots]
                self._keys = np.full(2 * self._slots[0].shape[0], _NONE, np.int64)
                self._slot_of = np.zeros(self._keys.shape[0], np.int64)
                _rehash(self._keys, self._slot_of, self._slots[0], int(self._meta[2]))
            else:
                self._pool = [_grown(a) for a in self._pool]

    def placed(self, chunk: Chunk, n: int, keep: np.ndarray, start_row: int,
               split_mtu: int) -> None:
        """Turn this chunk's samples (by record) into row indices: a kept record is one row,
        or with ``split_mtu`` > 0 (``--oversize split``) one per started ``split_mtu``
        bytes."""
        found = int(self._meta[3])
        if not found:
            return
        wire = chunk.wire[:n]
        if split_mtu > 0:
            pieces = np.where(keep[:n], split_rows(wire, split_mtu), 0)
        else:
            pieces = keep[:n].astype(np.int64)
        first_row = start_row + np.concatenate(([0], np.cumsum(pieces)[:-1]))
        self._rows.append(first_row[self._at[:found]])
        self._values.append(self._ns[:found].copy())

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
