"""Per-packet selection for captures: the ``--filter`` BPF expression and ``--rtt tcp``."""

from __future__ import annotations

import numpy as np

from reflexforge.ingest.quirks import Adjustments, IngestOptions
from reflexforge.ingest.records import Chunk, Rows

_NO_SAMPLES = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


class PacketSelector:
    """Which records of a capture become rows, and the RTT samples they carry."""

    def __init__(self, name: str, options: IngestOptions) -> None:
        self.name = name
        self.options = options
        self._all = np.ones(Chunk().ts_ns.shape[0], dtype=np.bool_)

    def select(self, chunk: Chunk, n: int, buf: np.ndarray, links) -> np.ndarray:
        return self._all

    def placed(self, chunk: Chunk, n: int, keep: np.ndarray, start_row: int, rows: Rows) -> None:
        return None

    def finish(self, rows: Rows, adjust: Adjustments) -> tuple[np.ndarray, np.ndarray]:
        return _NO_SAMPLES
