"""Reference capture readers for the tests: well-kept libraries, record by record.

pcap: scapy's ``RawPcapReader`` (exact seconds, fraction and wire length per record).
pcapng: python-pcapng's ``FileScanner`` (exact 64-bit timestamps, per-interface
``if_tsresol``/``if_tsoffset``, simple packet blocks). Both give (ts_ns, wire length) per
packet record in file order, before any reordering or oversize rule; the compiled walkers
of ``reflexforge.ingest`` must give exactly the same.
"""

from __future__ import annotations

import gzip
from fractions import Fraction

import numpy as np


def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def pcap_records(path) -> tuple[np.ndarray, np.ndarray]:
    from scapy.utils import RawPcapReader

    ts, wire = [], []
    with _open(path) as f:
        reader = RawPcapReader(f)
        unit = 1 if getattr(reader, "nano", False) else 1000
        for _data, meta in reader:
            ts.append(meta.sec * 1_000_000_000 + meta.usec * unit)
            wire.append(meta.wirelen)
    return np.array(ts, dtype=np.int64), np.array(wire, dtype=np.int64)


def _resolution(interface) -> Fraction:
    """Seconds per timestamp unit of a pcapng interface (default 10^-6)."""
    options = interface.options
    raw = options.get_raw("if_tsresol") if "if_tsresol" in options else None
    if raw is None:
        return Fraction(1, 10**6)
    value = raw[0] if isinstance(raw, bytes | bytearray) else int(raw)
    return Fraction(1, 2 ** (value & 0x7F)) if value & 0x80 else Fraction(1, 10**value)


def pcapng_records(path) -> tuple[np.ndarray, np.ndarray]:
    from pcapng import FileScanner
    from pcapng.blocks import EnhancedPacket, ObsoletePacket, SimplePacket

    ts, wire = [], []
    last = None
    with _open(path) as f:
        for block in FileScanner(f):
            if isinstance(block, EnhancedPacket | ObsoletePacket):
                interface = block.interface
                units = (block.timestamp_high << 32) | block.timestamp_low
                offset = interface.options["if_tsoffset"] if "if_tsoffset" in interface.options \
                    else 0
                last = int(units * _resolution(interface) * 10**9) + offset * 10**9
                ts.append(last)
                wire.append(block.packet_len)
            elif isinstance(block, SimplePacket):
                ts.append(last)
                wire.append(block.packet_len)
    return np.array(ts, dtype=np.int64), np.array(wire, dtype=np.int64)
