"""Per-packet selection for captures: ``--filter`` (a BPF expression compiled by libpcap,
through pcapy-ng, run by ``reflexforge.ingest.bpf``) and ``--rtt tcp`` (spec/telemetry.md
6.3, 6.4)."""

from __future__ import annotations

import numpy as np

from reflexforge.errors import E_USAGE, ForgeError
from reflexforge.ingest.bpf import filter_records, load_program
from reflexforge.ingest.options import IngestOptions
from reflexforge.ingest.quirks import Adjustments
from reflexforge.ingest.records import MAX_RECORDS_PER_CHUNK, Chunk

_NO_SAMPLES = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
BPF_SNAPLEN = 262144


DLT_OF_LINKTYPE = {100: 11, 101: 12}
"""The capture file's link types whose libpcap DLT number differs (LINKTYPE_ATM_RFC1483,
LINKTYPE_RAW); libpcap compiles for the DLT."""


def compile_filter(expression: str, link_type: int):
    """A libpcap BPF program for ``expression`` on the capture file's ``link_type``; E_USAGE
    if libpcap refuses it (its own message) or pcapy-ng is missing."""
    try:
        import pcapy
    except ImportError:
        raise ForgeError(E_USAGE, "--filter needs the 'pcapy-ng' package (pip install "
                         "'reflex-nem1[forge]')") from None
    try:
        return pcapy.compile(DLT_OF_LINKTYPE.get(link_type, link_type), BPF_SNAPLEN,
                             expression, 1, 0xFFFFFFFF)
    except Exception as exc:  # pcapy raises its own BPFError / PcapError
        raise ForgeError(E_USAGE, f"--filter {expression!r} on link type {link_type}: "
                         f"{exc}") from None


class PacketSelector:
    """Which records of a capture become rows, and the RTT samples they carry."""

    def __init__(self, name: str, options: IngestOptions) -> None:
        self.name = name
        self.options = options
        self._all = np.ones(MAX_RECORDS_PER_CHUNK, dtype=np.bool_)
        self._keep = np.ones(MAX_RECORDS_PER_CHUNK, dtype=np.bool_)
        self._programs: dict[int, object] = {}
        self._tables: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.left_out = 0
        self._rtt = None
        if options.rtt == "tcp":
            from reflexforge.ingest.rtt import TcpRtt

            self._rtt = TcpRtt()

    def _program(self, link_type: int):
        if link_type not in self._programs:
            self._programs[link_type] = compile_filter(self.options.bpf, link_type)
        return self._programs[link_type]

    def _table(self, links) -> tuple[np.ndarray, np.ndarray]:
        """The programs of the interfaces stacked for ``filter_records``: the instructions,
        and the row where each interface's program starts."""
        key = tuple(links)
        if key not in self._tables:
            what = f"--filter {self.options.bpf!r} on link type"
            try:
                programs = [load_program(self._program(link).get_bpf(), f"{what} {link}")
                            for link in key]
            except ForgeError as exc:  # the file whose link type the filter was compiled for
                raise ForgeError(exc.code, exc.message, path=self.name) from None
            starts = np.cumsum([0] + [p.shape[0] for p in programs[:-1]], dtype=np.int64)
            self._tables[key] = (np.concatenate(programs), starts)
        return self._tables[key]

    def select(self, chunk: Chunk, n: int, buf: np.ndarray, links) -> np.ndarray:
        """The keep mask of the chunk's n records (all True without --filter)."""
        if self._rtt is not None:
            self._rtt.observe(chunk, n, buf, links)
        if self.options.bpf is None:
            return self._all
        keep = self._keep
        if n == 0:
            return keep
        table = self._table(links)
        # ld #len (len, greater, less) is the packet's length on the wire, as in tcpdump
        kept = filter_records(table[0], table[1], buf, chunk.offset, chunk.caplen, chunk.wire,
                              chunk.iface, n, keep)
        self.left_out += n - kept
        return keep

    def placed(self, chunk: Chunk, n: int, keep: np.ndarray, start_row: int,
               split_mtu: int = 0) -> None:
        """Note where the chunk's records went (the row of each, for the RTT samples); a
        kept record is one row, or with ``split_mtu`` > 0 one per started ``split_mtu``
        bytes."""
        if self._rtt is not None:
            self._rtt.placed(chunk, n, keep, start_row, split_mtu)

    def finish(self, total_rows: int, adjust: Adjustments) -> tuple[np.ndarray, np.ndarray]:
        """The RTT samples as (row indices below ``total_rows``, values); records the
        filter's count."""
        if self.options.bpf is not None:
            adjust.filter_expr = self.options.bpf
            adjust.filtered_out = self.left_out
        if self._rtt is None:
            return _NO_SAMPLES
        samples = self._rtt.samples(total_rows)
        adjust.rtt_samples = int(samples[0].shape[0])
        return samples
