"""pcap (libpcap savefile) records -> trace rows: spec/telemetry.md 5.2.

File header (24 bytes): magic (which gives the byte order and micro- or nanosecond
fractions), version, thiszone, sigfigs, snaplen, link type. Then records: 16-byte header
(seconds, fraction, captured length, original length) and the captured bytes. The record
headers are walked by one compiled loop per chunk; ``reflexforge.ingest.reference`` reads the
same files with dpkt and the tests prove both give the same records.
"""

from __future__ import annotations

import struct
from typing import IO

import numpy as np
from numba import njit

from reflexforge.errors import E_CAPTURE, E_CSV_VALUE, ForgeError
from reflexforge.ingest.chunks import FULL, NEED_MORE, drive, read_head  # noqa: F401 - used by walk
from reflexforge.ingest.records import MAX_WIRE, Chunk
from reflexforge.ingest.sniff import MODIFIED_PCAP_MAGICS, PCAP_MAGICS

HEADER_BYTES = 24
RECORD_HEADER_BYTES = 16
MAX_CAPLEN = 262144
"""Largest captured length accepted in a record (libpcap's MAXIMUM_SNAPLEN): a larger
length field is corruption, refused before anything is allocated."""

BAD_CAPLEN, BAD_FRACTION, ZERO_LENGTH, BAD_WIRE = 2, 3, 4, 5
"""Walk statuses besides NEED_MORE and FULL."""


def wire_too_long(orig: int) -> str:
    """The message for an original length above MAX_WIRE (pcap and pcapng)."""
    return (f"original (wire) length {orig} exceeds the largest allowed ({MAX_WIRE}, the "
            "largest GSO packet): corrupt record header")


def parse_header(name: str, head: bytes) -> tuple[bool, int, int, int]:
    """(big_endian, ns per fraction unit, snaplen, link type) of a pcap file header."""
    if len(head) < HEADER_BYTES:
        raise ForgeError(E_CAPTURE, f"pcap file header cut short: {len(head)} of "
                         f"{HEADER_BYTES} bytes (byte offset 0)", path=name)
    magic = head[:4]
    if magic in MODIFIED_PCAP_MAGICS:
        raise ForgeError(E_CAPTURE, "a 'modified' (Kuznetzov) pcap file is not supported; "
                         "rewrite it with editcap -F pcap (byte offset 0)", path=name)
    order, unit_ns = PCAP_MAGICS[magic]
    major, minor, _zone, _sigfigs, snaplen, link = struct.unpack(order + "HHiIII", head[4:24])
    if major != 2:
        raise ForgeError(E_CAPTURE, f"pcap version {major}.{minor} is not 2.x (byte offset 4)",
                         path=name)
    return order == ">", unit_ns, snaplen, link & 0x0FFFFFFF


@njit(cache=True, nogil=True, inline="always")
def _u32(buf, at, big):
    if big:
        return (np.int64(buf[at]) << 24) | (np.int64(buf[at + 1]) << 16) | \
            (np.int64(buf[at + 2]) << 8) | np.int64(buf[at + 3])
    return (np.int64(buf[at + 3]) << 24) | (np.int64(buf[at + 2]) << 16) | \
        (np.int64(buf[at + 1]) << 8) | np.int64(buf[at])


@njit(cache=True, nogil=True)
def walk(buf, end, big, unit_ns, ts, wire, start, offset, caplen):
    """Walk the records of buf[0:end]; fill the chunk arrays.

    Returns (records, bytes consumed, status): NEED_MORE when the rest of the buffer holds
    no complete record, FULL when the arrays are full, or an error status for the record
    that starts at the consumed position.
    """
    limit = 1_000_000 if unit_ns == 1000 else 1_000_000_000
    pos = 0
    n = 0
    cap = ts.shape[0]
    while True:
        if n >= cap:
            return n, pos, FULL
        if end - pos < 16:
            return n, pos, NEED_MORE
        sec = _u32(buf, pos, big)
        frac = _u32(buf, pos + 4, big)
        incl = _u32(buf, pos + 8, big)
        orig = _u32(buf, pos + 12, big)
        if incl > MAX_CAPLEN:
            return n, pos, BAD_CAPLEN
        if frac >= limit:
            return n, pos, BAD_FRACTION
        if orig == 0:
            return n, pos, ZERO_LENGTH
        if orig > MAX_WIRE:
            return n, pos, BAD_WIRE
        if end - pos - 16 < incl:
            return n, pos, NEED_MORE
        ts[n] = sec * 1_000_000_000 + frac * unit_ns
        wire[n] = orig
        start[n] = pos
        offset[n] = pos + 16
        caplen[n] = incl
        pos += 16 + incl
        n += 1


def read_records(name: str, stream: IO[bytes], on_chunk) -> tuple[int, dict]:
    """Walk a pcap stream, calling ``on_chunk(chunk, n, buf, first_record, offset of buf,
    link_types)`` for each chunk of records. Returns (records, facts: link types, snaplen)."""
    head = read_head(name, stream, HEADER_BYTES)
    big, unit_ns, snaplen, link = parse_header(name, head)
    order = ">" if big else "<"
    chunk = Chunk()

    def step(buf: np.ndarray, end: int) -> tuple[int, int, int]:
        return walk(buf, end, big, unit_ns, chunk.ts_ns, chunk.wire, chunk.start, chunk.offset,
                    chunk.caplen)

    def explain(status: int, data: bytes) -> str:
        _sec, frac, incl, orig = struct.unpack_from(order + "IIII", data)
        if status == BAD_CAPLEN:
            return (f"captured length {incl} exceeds the largest allowed ({MAX_CAPLEN}): "
                    "corrupt record header")
        if status == BAD_FRACTION:
            unit = "microseconds" if unit_ns == 1000 else "nanoseconds"
            return f"{unit} field {frac} is not below one second: corrupt record header"
        if status == BAD_WIRE:
            return wire_too_long(orig)
        return "original (wire) length 0: bytes must be >= 1"

    def need(data: bytes) -> int:
        if len(data) < RECORD_HEADER_BYTES:
            return RECORD_HEADER_BYTES
        return RECORD_HEADER_BYTES + struct.unpack_from(order + "I", data, 8)[0]

    def emit(n: int, buf: np.ndarray, first: int, base: int) -> None:
        on_chunk(chunk, n, buf, first, base, (link,))

    records = drive(name, stream, HEADER_BYTES, step, explain, emit, need,
                    codes={ZERO_LENGTH: E_CSV_VALUE})
    return records, {"link_types": (link,), "snaplen": snaplen, "unit_ns": unit_ns}
