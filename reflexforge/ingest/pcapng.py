"""pcapng blocks -> trace rows: spec/telemetry.md 5.3.

Sections (SHB: byte order, version), interfaces (IDB: link type, snaplen, ``if_tsresol``,
``if_tsoffset``), and packet blocks: enhanced (EPB), simple (SPB: no timestamp, it takes the
previous packet's) and the obsolete packet block (PB). Other blocks are checked for length
and skipped. A compiled loop walks runs of packet blocks; the rest is handled here.
``reflexforge.ingest.reference`` reads the same files with python-pcapng for the tests.
"""

from __future__ import annotations

import struct
from typing import IO

import numpy as np
from numba import njit

from reflexforge.errors import E_CSV_VALUE
from reflexforge.ingest.chunks import FULL, MAX_BLOCK, NEED_MORE, drive
from reflexforge.ingest.pcap import wire_too_long
from reflexforge.ingest.records import MAX_WIRE, Chunk
from reflexforge.trace import TS_MAX

SHB, IDB, PB, SPB, EPB = 0x0A0D0D0A, 1, 2, 3, 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_TSRESOL, OPT_TSOFFSET = 9, 14
MAX_INTERFACES = 1 << 16
(ZERO_LENGTH, OTHER, BAD_LENGTH, BAD_TRAILER, BAD_CAPLEN, BAD_IFACE, TS_RANGE, NO_TIME,
 BAD_WIRE) = (4, 5, 6, 7, 8, 9, 10, 11, 12)
"""Walk statuses besides NEED_MORE and FULL (OTHER: a block handled in Python)."""
_MESSAGES = {
    BAD_LENGTH: "block length is below 12 or not a multiple of 4: corrupt block header",
    BAD_TRAILER: "the block's trailing length differs from its leading one: corrupt block",
    BAD_CAPLEN: "captured length runs past the end of its block: corrupt packet block",
    BAD_IFACE: "packet of an interface that no interface description block declared",
    TS_RANGE: "timestamp outside 0..2^62 ns once converted with the interface's "
              "if_tsresol/if_tsoffset",
    NO_TIME: "a simple packet block before any timestamped packet: no time to give it",
    ZERO_LENGTH: "original (wire) length 0: bytes must be >= 1",
}


@njit(cache=True, nogil=True, inline="always")
def _u32(buf, at, big):
    if big:
        return (np.uint64(buf[at]) << np.uint64(24)) | (np.uint64(buf[at + 1]) << np.uint64(16)) \
            | (np.uint64(buf[at + 2]) << np.uint64(8)) | np.uint64(buf[at + 3])
    return (np.uint64(buf[at + 3]) << np.uint64(24)) | (np.uint64(buf[at + 2]) << np.uint64(16)) \
        | (np.uint64(buf[at + 1]) << np.uint64(8)) | np.uint64(buf[at])


@njit(cache=True, nogil=True)
def _to_ns(units, mul, div, shift, off_ns):
    """Interface time units -> ns (floor), or -1 when outside 0..TS_MAX."""
    limit = np.uint64(TS_MAX)
    if shift >= 0:  # 2^-shift s per unit
        sec = units >> np.uint64(shift)
        frac = units & ((np.uint64(1) << np.uint64(shift)) - np.uint64(1))
        if sec > limit // np.uint64(1_000_000_000):
            return -1
        if shift > 33:
            frac = frac >> np.uint64(shift - 33)
            sub = (frac * np.uint64(1_000_000_000)) >> np.uint64(33)
        else:
            sub = (frac * np.uint64(1_000_000_000)) >> np.uint64(shift)
        ns = sec * np.uint64(1_000_000_000) + sub
    elif div > 1:
        ns = units // np.uint64(div)
    else:
        if units > limit // np.uint64(mul):
            return -1
        ns = units * np.uint64(mul)
    if ns > limit:
        return -1
    t = np.int64(ns) + off_ns
    if t < 0 or t > TS_MAX:
        return -1
    return t


@njit(cache=True, nogil=True)
def walk(buf, pos, end, n, big, mul, div, shift, off_ns, snaplen, state,
         ts, wire, start, offset, caplen, iface):
    """Walk packet blocks from buf[pos] while they are whole; returns (records, position,
    status). state: [last timestamp, has one, untimed packets]."""
    cap = ts.shape[0]
    count = mul.shape[0]
    while True:
        if n >= cap:
            return n, pos, FULL
        if end - pos < 12:
            return n, pos, NEED_MORE
        kind = _u32(buf, pos, big)
        length = _u32(buf, pos + 4, big)
        if kind != EPB and kind != SPB and kind != PB:
            return n, pos, OTHER
        if length < 12 or length % 4 != 0:
            return n, pos, BAD_LENGTH
        if length > MAX_BLOCK or np.int64(length) > end - pos:
            return n, pos, NEED_MORE
        blen = np.int64(length)
        if _u32(buf, pos + blen - 4, big) != length:
            return n, pos, BAD_TRAILER
        if kind == SPB:
            if blen < 16:
                return n, pos, BAD_LENGTH
            if count == 0:
                return n, pos, BAD_IFACE
            orig = np.int64(_u32(buf, pos + 8, big))
            incl = min(orig, blen - 16)
            if snaplen[0] > 0:
                incl = min(incl, snaplen[0])
            if state[1] == 0:
                return n, pos, NO_TIME
            t = state[0]
            state[2] += 1
            data = pos + 12
            ifc = 0
        else:
            if blen < 32:
                return n, pos, BAD_LENGTH
            if kind == EPB:
                ifc = np.int64(_u32(buf, pos + 8, big))
            else:
                ifc = np.int64(_u32(buf, pos + 8, big) >> np.uint64(16)) if big else \
                    np.int64(_u32(buf, pos + 8, big) & np.uint64(0xFFFF))
            if ifc >= count:
                return n, pos, BAD_IFACE
            units = (_u32(buf, pos + 12, big) << np.uint64(32)) | _u32(buf, pos + 16, big)
            t = _to_ns(units, mul[ifc], div[ifc], shift[ifc], off_ns[ifc])
            if t < 0:
                return n, pos, TS_RANGE
            incl = np.int64(_u32(buf, pos + 20, big))
            orig = np.int64(_u32(buf, pos + 24, big))
            if incl > blen - 32:
                return n, pos, BAD_CAPLEN
            state[0] = t
            state[1] = 1
            data = pos + 28
        if orig == 0:
            return n, pos, ZERO_LENGTH
        if orig > MAX_WIRE:
            return n, pos, BAD_WIRE
        ts[n] = t
        wire[n] = orig
        start[n] = pos
        offset[n] = data
        caplen[n] = incl
        iface[n] = ifc
        n += 1
        pos += blen


class _Sections:
    """The current section's byte order and its interfaces (as arrays for the walk)."""

    def __init__(self) -> None:
        self.big: bool | None = None
        self._reset()

    def _reset(self) -> None:
        self.links: list[int] = []
        self.mul = np.empty(0, np.int64)
        self.div = np.empty(0, np.int64)
        self.shift = np.empty(0, np.int64)
        self.off = np.empty(0, np.int64)
        self.snaplen = np.zeros(1, np.int64)

    def section(self, block: bytes) -> tuple[int, str | None]:
        """Start a section from an SHB: (its length, or 0 with an error message)."""
        magic = struct.unpack_from("<I", block, 8)[0] if len(block) >= 12 else 0
        if magic == BYTE_ORDER_MAGIC:
            self.big = False
        elif magic == struct.unpack("<I", struct.pack(">I", BYTE_ORDER_MAGIC))[0]:
            self.big = True
        else:
            return 0, "section header block without a valid byte-order magic"
        order = ">" if self.big else "<"
        length = struct.unpack_from(order + "I", block, 4)[0]
        if len(block) >= 14 and struct.unpack_from(order + "H", block, 12)[0] != 1:
            return 0, "section header block of a pcapng major version other than 1"
        self._reset()
        return length, None

    def interface(self, body: bytes, order: str) -> str | None:
        """Add the interface of an IDB body (after type and length, before the trailer)."""
        if len(body) < 8:
            return "interface description block too short"
        if len(self.links) >= MAX_INTERFACES:
            return f"more than {MAX_INTERFACES} interfaces"
        link, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
        mul, div, shift, off = 1000, 1, -1, 0  # default if_tsresol: microseconds
        at = 8
        while at + 4 <= len(body):
            code, size = struct.unpack_from(order + "HH", body, at)
            if code == 0:
                break
            value = body[at + 4 : at + 4 + size]
            if len(value) < size:
                return "an option runs past the end of the interface description block"
            if code == OPT_TSRESOL and size >= 1:
                raw = value[0]
                if raw & 0x80:
                    shift = raw & 0x7F
                    if shift > 63:
                        return f"if_tsresol 2^-{shift} is finer than 2^-63 s"
                else:
                    if raw > 18:
                        return f"if_tsresol 10^-{raw} is finer than 10^-18 s"
                    mul, div = (10 ** (9 - raw), 1) if raw <= 9 else (1, 10 ** (raw - 9))
            elif code == OPT_TSOFFSET and size >= 8:
                seconds = struct.unpack_from(order + "q", value, 0)[0]
                if abs(seconds) > TS_MAX // 1_000_000_000:
                    return f"if_tsoffset {seconds} s is outside the ts_ns range"
                off = seconds * 1_000_000_000
            at += 4 + ((size + 3) & ~3)
        self.links.append(link)
        self.mul = np.append(self.mul, mul)
        self.div = np.append(self.div, div)
        self.shift = np.append(self.shift, shift)
        self.off = np.append(self.off, off)
        if len(self.links) == 1:
            self.snaplen[0] = snaplen
        return None


def read_records(name: str, stream: IO[bytes], on_chunk) -> tuple[int, dict]:
    """Walk a pcapng stream, calling ``on_chunk(chunk, n, buf, first_record, offset of buf,
    link_types)`` for each chunk of packet records. Returns (records, facts): the link
    types and the count of simple packet blocks given the previous time (``untimed``)."""
    chunk = Chunk()
    sections = _Sections()
    state = np.zeros(3, np.int64)
    problem: list[str] = []
    links_seen: list[int] = []

    def step(buf: np.ndarray, end: int) -> tuple[int, int, int]:
        n, pos = 0, 0
        while True:
            if sections.big is not None:
                n, pos, status = walk(buf, pos, end, n, sections.big, sections.mul,
                                      sections.div, sections.shift, sections.off,
                                      sections.snaplen, state, chunk.ts_ns, chunk.wire,
                                      chunk.start, chunk.offset, chunk.caplen, chunk.iface)
                if status != OTHER:
                    return n, pos, status
            if end - pos < 12:
                return n, pos, NEED_MORE
            block = bytes(buf[pos : pos + 16])
            kind = struct.unpack_from("<I", block)[0]
            if kind == SHB:
                length, error = sections.section(bytes(buf[pos : pos + 16]))
            elif sections.big is None:
                length, error = 0, "the file does not start with a section header block"
            else:
                order = ">" if sections.big else "<"
                length, error = struct.unpack_from(order + "I", block, 4)[0], None
            if error is None and (length < 12 or length % 4):
                error = _MESSAGES[BAD_LENGTH]
            if error is not None:
                problem.append(error)
                return n, pos, OTHER
            if length > end - pos:
                return n, pos, NEED_MORE
            order = ">" if sections.big else "<"
            body = bytes(buf[pos + 8 : pos + length - 4])
            if struct.unpack_from(order + "I", buf[pos + length - 4 : pos + length])[0] != length:
                problem.append(_MESSAGES[BAD_TRAILER])
                return n, pos, OTHER
            if struct.unpack_from(order + "I", block)[0] == IDB:
                if (error := sections.interface(body, order)) is not None:
                    problem.append(error)
                    return n, pos, OTHER
                links_seen.append(sections.links[-1])
            pos += length

    def explain(status: int, data: bytes) -> str:
        if status == BAD_WIRE:
            order = ">" if sections.big else "<"
            kind = struct.unpack_from(order + "I", data)[0]
            return wire_too_long(struct.unpack_from(order + "I", data, 8 if kind == SPB else 24)[0])
        return problem[-1] if status == OTHER else _MESSAGES[status]

    def need(data: bytes) -> int:
        if len(data) < 12:
            return 12
        if struct.unpack_from("<I", data)[0] == SHB:
            big = data[8:12] == struct.pack(">I", BYTE_ORDER_MAGIC)
        else:
            big = bool(sections.big)
        return struct.unpack_from(">I" if big else "<I", data, 4)[0]

    def emit(n: int, buf: np.ndarray, first: int, base: int) -> None:
        on_chunk(chunk, n, buf, first, base, tuple(sections.links))

    def where(done: int, offset: int) -> str:
        return f"block at byte offset {offset} (after {done} packets)"

    records = drive(name, stream, 0, step, explain, emit, need, codes={ZERO_LENGTH: E_CSV_VALUE},
                    where=where)
    return records, {"link_types": tuple(sorted(set(links_seen))), "untimed": int(state[2])}
