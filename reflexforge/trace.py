"""A packet trace in memory (spec/telemetry.md): the columns, their ranges and ``Trace``.

Every reader (``reflexforge.telemetry`` for CSV, ``reflexforge.ingest`` for the others)
returns a ``Trace``.
"""

from __future__ import annotations

import hashlib

import numpy as np

TS = "ts_ns"
BYTES = "bytes"
RTT = "rtt_ns"
REQUIRED = (TS, BYTES)
OPTIONAL = (RTT,)
BYTES_MIN = 1
BYTES_MAX = 65535
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
TS_MIN = 0
TS_MAX = 2**62
"""ts_ns range: keeps every simulator intermediate inside int64 (spec/forge.md, "Limits")."""
NO_RTT = -1
SIZE_DTYPE = np.uint16
"""Packet sizes are 1..65535 bytes: stored as uint16 (a quarter of int64's memory)."""
ROW_BYTES = 8 + np.dtype(SIZE_DTYPE).itemsize
"""Bytes of one row of a trace as read: ts_ns (int64) and its size."""


def value_rules(no_rtt: str) -> dict[str, str]:
    """The rule each column's values must follow, in words, for error messages; ``no_rtt``
    names a missing rtt_ns in the input format ("empty" in CSV, "null" in Parquet)."""
    return {TS: f"ts_ns must be an integer in {TS_MIN}..2^62",
            BYTES: f"bytes must be an integer in {BYTES_MIN}..{BYTES_MAX}",
            RTT: f"rtt_ns must be an integer >= 0 or {no_rtt}"}


class Trace:
    """A packet trace: arrival times ``ts_ns`` (int64), sizes ``size`` (bytes; uint16 when
    read from a file) and RTT samples.

    The RTT samples are given either dense (``rtt_ns``: int64 per packet, -1 = no sample) or
    sparse (``rtt_samples=(indices, values)``, both int64, indices increasing), as
    ``read_telemetry`` keeps them: few packets carry one. Either form is available from
    either: ``rtt_ns`` is built on first use (and kept), ``rtt_samples`` is cheap.
    """

    def __init__(self, ts_ns: np.ndarray, size: np.ndarray, rtt_ns: np.ndarray | None = None,
                 sha1: str = "", path: str = "", *,
                 rtt_samples: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        if (rtt_ns is None) == (rtt_samples is None):
            raise ValueError("give the RTT samples either dense (rtt_ns) or sparse (rtt_samples)")
        self.ts_ns = ts_ns
        self.size = size
        self.sha1 = sha1
        self.path = path
        self.rows = int(ts_ns.shape[0])
        self._rtt_ns = rtt_ns
        self._rtt_samples = rtt_samples

    @property
    def rtt_ns(self) -> np.ndarray:
        """int64 per packet, -1 = no sample."""
        if self._rtt_ns is None:
            at, values = self._rtt_samples
            dense = np.full(self.rows, NO_RTT, dtype=np.int64)
            dense[at] = values
            self._rtt_ns = dense
        return self._rtt_ns

    @property
    def rtt_samples(self) -> tuple[np.ndarray, np.ndarray]:
        """(packet indices, RTT in ns) of the packets carrying a sample, int64, in order."""
        if self._rtt_samples is None:
            rtt = np.asarray(self._rtt_ns, dtype=np.int64)
            at = np.flatnonzero(rtt >= 0)
            return at, rtt[at]
        return self._rtt_samples

    def packets_sha1(self) -> str:
        """SHA-1 (hex) of the packets as read: every ts_ns as 8-byte little-endian signed
        integers, then every size as 2-byte little-endian unsigned integers (spec/training.md
        7, ``telemetry_packets``): the same for a capture and its converted copy."""
        digest = hashlib.sha1(np.ascontiguousarray(self.ts_ns, dtype="<i8").data)
        digest.update(np.ascontiguousarray(self.size, dtype="<u2").data)
        return digest.hexdigest()

    def __len__(self) -> int:
        return self.rows

    @property
    def duration_ns(self) -> int:
        """Time from the first to the last arrival."""
        return int(self.ts_ns[-1] - self.ts_ns[0]) if self.rows else 0
