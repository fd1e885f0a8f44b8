"""Captures made from captures, for the ingest tests: the records of a pcap, a pcapng block,
a pcap rewritten as a pcapng section or with big-endian headers, and a pcap of given record
times and wire lengths."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np


def pcap_fields(pcap: bytes) -> Iterator[tuple[int, int, int, int, bytes]]:
    """(seconds, fraction, captured length, original length, data) of each record of a
    little-endian pcap."""
    pos = 24
    while pos + 16 <= len(pcap):
        sec, frac, incl, orig = struct.unpack_from("<IIII", pcap, pos)
        yield sec, frac, incl, orig, pcap[pos + 16 : pos + 16 + incl]
        pos += 16 + incl


def pcapng_block(kind: int, body: bytes, order: str = "<") -> bytes:
    """One pcapng block: type, total length, the body padded to 4 bytes, total length."""
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", kind, length) + body + struct.pack(order + "I", length)


SECTION = (0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
"""A section header block's type and (little-endian) body."""


def pcap_to_pcapng(pcap: bytes, big: bool = False, tsresol: int = 9,
                   simple_every: int = 0, offset_s: int = 0) -> bytes:
    """The records of a little-endian microsecond/nanosecond pcap as a pcapng section of one
    interface (if_tsresol ``tsresol``: 10^-k, or 2^-(k & 0x7f) with the high bit), EPBs,
    every ``simple_every``-th packet an SPB, optional if_tsoffset ``offset_s``."""
    order = ">" if big else "<"
    magic = pcap[:4]
    unit_ns = 1 if magic == b"\x4d\x3c\xb2\xa1" else 1000
    snaplen, link = struct.unpack_from("<II", pcap, 16)
    options = struct.pack(order + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
    if offset_s:
        options += struct.pack(order + "HHq", 14, 8, offset_s)
    options += struct.pack(order + "HH", 0, 0)
    out = pcapng_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)
    out += pcapng_block(1, struct.pack(order + "HHI", link, 0, snaplen) + options, order)
    for k, (sec, frac, incl, orig, data) in enumerate(pcap_fields(pcap)):
        ns = sec * 10**9 + frac * unit_ns - offset_s * 10**9
        if tsresol & 0x80:
            units = (ns << (tsresol & 0x7F)) // 10**9
        else:
            units = ns * 10**tsresol // 10**9
        if simple_every and k % simple_every == simple_every - 1:
            out += pcapng_block(3, struct.pack(order + "I", orig) + data, order)
        else:
            out += pcapng_block(6, struct.pack(order + "IIIII", 0, units >> 32,
                                               units & 0xFFFFFFFF, incl, orig) + data, order)
    return out


def big_endian_pcap(pcap: bytes) -> bytes:
    """The same little-endian pcap with every header field big-endian."""
    magic, major, minor, zone, sigfigs, snap, link = struct.unpack_from("<IHHiIII", pcap)
    out = bytearray(struct.pack(">IHHiIII", magic, major, minor, zone, sigfigs, snap, link))
    for sec, frac, incl, orig, data in pcap_fields(pcap):
        out += struct.pack(">IIII", sec, frac, incl, orig) + data
    return bytes(out)


def pcap_from_sizes(ts_ns: np.ndarray, wire: np.ndarray) -> bytes:
    """A nanosecond Ethernet pcap with one record per (ts_ns, wire length), each captured
    to its 14-byte Ethernet header (IPv4 type): the shape of a TSO capture's records."""
    record = np.dtype([("sec", "<u4"), ("ns", "<u4"), ("incl", "<u4"), ("orig", "<u4"),
                       ("eth", "V12"), ("type", ">u2")])
    rows = np.zeros(ts_ns.shape[0], dtype=record)
    rows["sec"], rows["ns"] = ts_ns // 10**9, ts_ns % 10**9
    rows["incl"], rows["orig"], rows["type"] = 14, wire, 0x0800
    return struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1) + rows.tobytes()
