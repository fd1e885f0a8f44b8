"""Any supported telemetry file -> ``Trace``: the format is chosen by content (spec 5).

``read_trace`` is what the commands call: Telemetry v1 CSV (``reflexforge.telemetry``),
Parquet, pcap or pcapng, each optionally gzip- or zstd-compressed, with the quirk options of
``IngestOptions``; what was adjusted is reported in one line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import numpy as np

from reflexforge.errors import (
    E_CAPTURE,
    E_CSV_EMPTY,
    E_CSV_VALUE,
    E_TRACE_SHORT,
    E_USAGE,
    ForgeError,
)
from reflexforge.ingest import sniff
from reflexforge.ingest.hashing import open_hashed
from reflexforge.ingest.options import ERROR, IngestOptions
from reflexforge.ingest.quirks import Adjustments, order_error, reorder, step_beyond
from reflexforge.ingest.records import Chunk, Rows, split_rows
from reflexforge.memory import EXPANDS, RowGuard
from reflexforge.trace import BYTES_MAX, Trace

Report = Callable[[str], None]


def stderr_report(line: str) -> None:
    """Print a note or warning line on stderr, as every message line is printed: the bytes of
    a file name that are not UTF-8 as ``\\xff``, terminal controls escaped."""
    from reflexfmt.terminal import escape_control, path_text

    sys.stderr.write(escape_control(path_text(line)) + "\n")
    sys.stderr.flush()


def read_trace(path: str | os.PathLike[str], options: IngestOptions | None = None,
               also_hash=None, min_span_ns: int | None = None,
               report: Report | None = stderr_report, link_bps: int | None = None) -> Trace:
    """Read any supported telemetry file (spec/telemetry.md 5) into a ``Trace``.

    Notes (a name that disagrees with the content, what was adjusted) and plausibility
    warnings go to ``report`` as single lines, prefixed with the file name.
    """
    trace, adjust = read_with_adjustments(path, options, also_hash, min_span_ns)
    if report is not None:
        from reflexforge.ingest.plausibility import caplen_warning, warnings_for

        name = os.fspath(path)
        for note in adjust.notes:
            report(f"{name}: note: {note}")
        if (line := adjust.summary()) is not None:
            report(f"{name}: adjusted: {line}")
        for warning in (warnings_for(trace, link_bps, options.mtu if options else None,
                                     own_rtt=adjust.rtt_samples is None)
                        + caplen_warning(adjust.caplen_records, adjust.caplen_offset)):
            report(f"{name}: {warning}")
    return trace


def read_with_adjustments(path: str | os.PathLike[str], options: IngestOptions | None = None,
                          also_hash=None, min_span_ns: int | None = None
                          ) -> tuple[Trace, Adjustments]:
    """``read_trace`` without reporting: the trace and what was adjusted."""
    from reflexforge.config import WINDOW_NS

    options = options or IngestOptions()
    name = os.fspath(path)
    if min_span_ns is None:
        min_span_ns = WINDOW_NS
    kind = sniff.sniff(name)
    adjust = Adjustments(mtu=options.mtu)
    if (note := sniff.name_mismatch(name, kind)) is not None:
        adjust.notes.append(note)
    capture = kind.container in sniff.CAPTURES
    refuse_capture_options(name, kind, options)
    if kind.container == sniff.CSV:
        trace = _read_csv(name, options, also_hash, adjust)
    elif kind.container == sniff.PARQUET:
        from reflexforge.ingest.parquet import read_parquet

        trace = read_parquet(name, kind, options, also_hash, adjust)
    else:
        trace = _read_capture(name, kind, options, also_hash, adjust)
    if not capture and options.oversize_for(False) != ERROR:
        trace = _oversize_rows(trace, options, adjust)
    if trace.rows == 0:
        raise ForgeError(E_CSV_EMPTY, "no packets" + (" (after --filter)" if options.bpf else ""),
                         path=name)
    if trace.duration_ns < min_span_ns:
        from reflexforge.ingest.plausibility import SPAN_ROWS

        hint = (f"; {trace.rows} packets in that span: is ts_ns in nanoseconds? (microseconds: "
                "multiply by 1000)" if trace.rows >= SPAN_ROWS else "")
        raise ForgeError(E_TRACE_SHORT, f"trace spans {trace.duration_ns} ns from the first to "
                         f"the last packet, shorter than one window ({min_span_ns} ns){hint}",
                         path=name)
    return trace, adjust


def refuse_capture_options(name: str, kind: sniff.Kind, options: IngestOptions) -> None:
    """E_USAGE when --filter or --rtt is given for a file that is not a capture."""
    if kind.container in sniff.CAPTURES or (options.bpf is None and options.rtt is None):
        return
    given = "--filter" if options.bpf is not None else "--rtt"
    raise ForgeError(E_USAGE, f"{given} applies to captures only, and this file is "
                     f"{kind.describe()}", path=name)


def _read_csv(name: str, options: IngestOptions, also_hash, adjust: Adjustments) -> Trace:
    from reflexforge.telemetry import read_telemetry

    window = options.window_for(False)
    trace = read_telemetry(name, min_span_ns=0, also_hash=also_hash, reorder_window_ns=window)
    adjust.oversize = options.oversize_for(False)
    if window:
        samples = reorder(name, trace.ts_ns, trace.size, trace.rtt_samples, window,
                          lambda i: f"row {i + 1}", adjust)
        trace = Trace(trace.ts_ns, trace.size, rtt_samples=samples, sha1=trace.sha1,
                      path=trace.path)
    return trace


def _oversize_rows(trace: Trace, options: IngestOptions, adjust: Adjustments) -> Trace:
    """--oversize split/clamp given for CSV or Parquet telemetry (rows of 1..65535 bytes)."""
    over = trace.size > options.mtu
    if not over.any():
        return trace
    chunk = Chunk()
    rows = Rows(trace.rows + 1024, options.oversize_for(False), options.mtu, trace.path)
    keep = np.ones(chunk.ts_ns.shape[0], dtype=np.bool_)
    first_row = np.empty(trace.rows, dtype=np.int64)
    for start in range(0, trace.rows, chunk.ts_ns.shape[0]):
        stop = min(trace.rows, start + chunk.ts_ns.shape[0])
        n = stop - start
        chunk.ts_ns[:n] = trace.ts_ns[start:stop]
        chunk.wire[:n] = trace.size[start:stop]
        first_row[start:stop] = rows.n + _first_rows(chunk.wire[:n], rows)
        rows.add(chunk, n, keep)
    ts, size = rows.finish()
    _record_oversize(rows, adjust, options)
    at, values = trace.rtt_samples
    return Trace(ts, size, rtt_samples=(first_row[at], values), sha1=trace.sha1, path=trace.path)


def _first_rows(wire: np.ndarray, rows: Rows) -> np.ndarray:
    """Offset of each record's first row within the rows a chunk adds."""
    if not rows.split_mtu:
        return np.arange(wire.shape[0], dtype=np.int64)
    pieces = split_rows(wire, rows.split_mtu)
    return np.concatenate(([0], np.cumsum(pieces)[:-1])).astype(np.int64)


def _record_oversize(rows: Rows, adjust: Adjustments, options: IngestOptions) -> None:
    adjust.oversize = {0: ERROR, 1: "clamp", 2: "split"}[rows.mode]
    adjust.mtu = options.mtu
    adjust.oversize_records = int(rows.stats[0])
    adjust.rows_added = int(rows.stats[1])
    adjust.bytes_clamped = int(rows.stats[2])
    adjust.largest_packet = int(rows.stats[3])


def _initial_rows(name: str, kind: sniff.Kind) -> int:
    """Rows reserved up front (address space only until written): one per 64 stored bytes,
    4x that when compressed; the arrays grow if needed."""
    try:
        stored = os.path.getsize(name)
    except OSError:
        stored = 0
    return max(1 << 16, stored // (16 if kind.compression else 64))


def _read_capture(name: str, kind: sniff.Kind, options: IngestOptions, also_hash,
                  adjust: Adjustments) -> Trace:
    from reflexforge.ingest import pcap, pcapng
    from reflexforge.ingest.packets import PacketSelector

    mode = options.oversize_for(True)
    rows = Rows(_initial_rows(name, kind), mode, options.mtu, name, kind.compression is not None)
    selector = PacketSelector(name, options)
    window = options.window_for(True)
    top: list[int | None] = [None]  # latest timestamp so far, carried across chunks

    def on_chunk(chunk: Chunk, n: int, buf: np.ndarray, first: int, base: int, links) -> None:
        beyond, top[0] = step_beyond(chunk.ts_ns[:n], top[0], window)
        if beyond is not None:
            i, t, before = beyond
            raise order_error(name, f"record {first + i + 1} at byte offset "
                              f"{base + int(chunk.start[i])}", t, before, window)
        count_caplen(adjust, chunk, n, base)
        keep = selector.select(chunk, n, buf, links)
        start_row = rows.n
        bad = rows.add(chunk, n, keep)
        if bad >= 0:
            raise ForgeError(E_CSV_VALUE, f"record {first + bad + 1} at byte offset "
                             f"{base + int(chunk.start[bad])}: original length "
                             f"{int(chunk.wire[bad])} is above {BYTES_MAX} bytes (use "
                             "--oversize split or clamp)", path=name)
        selector.placed(chunk, n, keep, start_row, rows.split_mtu)

    hashed = open_hashed(name, also_hash)
    with hashed:
        stream = sniff.open_decompressed(hashed, kind.compression, name)
        try:
            reader = pcap.read_records if kind.container == sniff.PCAP else pcapng.read_records
            _records, facts = reader(name, stream, on_chunk)
        except sniff.decompress_errors() as exc:
            raise ForgeError(E_CAPTURE, f"corrupt {kind.compression} data ({exc})",
                             path=name) from None
        hashed.drain()
    ts, size = rows.finish()
    _record_oversize(rows, adjust, options)
    adjust.untimed_packets = facts.get("untimed", 0)
    samples = selector.finish(rows.n, adjust)
    samples = reorder(name, ts, size, samples, window, lambda i: f"row {i + 1}", adjust)
    return Trace(ts, size, rtt_samples=samples, sha1=hashed.hexdigest(), path=name)


def count_caplen(adjust: Adjustments, chunk: Chunk, n: int, base: int) -> None:
    """Count the records captured longer than their original length (W_CAPLEN)."""
    longer = np.flatnonzero(chunk.caplen[:n] > chunk.wire[:n])
    if longer.shape[0]:
        if not adjust.caplen_records:
            adjust.caplen_offset = base + int(chunk.start[longer[0]])
        adjust.caplen_records += int(longer.shape[0])


def capture_records(path: str | os.PathLike[str], options: IngestOptions | None = None,
                    adjust: Adjustments | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Every packet record of a capture as stored, in file order, before any option but
    ``--filter`` applies: (ts_ns, original length, interface) int64 arrays of the records
    ``options.bpf`` keeps, and the record index (from 0) of each, or None without a filter
    (row i is record i). ``adjust`` gets how many the filter left out and, with ``--rtt tcp``,
    how many RTT samples the kept records carry. For tests and ``check``."""
    from reflexforge.ingest import pcap, pcapng
    from reflexforge.ingest.packets import PacketSelector

    name = os.fspath(path)
    kind = sniff.sniff(name)
    if kind.container not in sniff.CAPTURES:
        raise ForgeError(E_CAPTURE, f"not a capture but {kind.describe()}", path=name)
    bpf = options.bpf if options else None
    rtt = options.rtt if options else None
    selector = PacketSelector(name, IngestOptions(bpf=bpf, rtt=rtt))
    # grown in place under a guard: a compressed capture of repeated records is as much a
    # bomb here as for the readers (and pieces then one concatenation held each twice)
    columns = [np.empty(1 << 16, np.int64) for _ in range(3 if bpf is None else 4)]
    guard = RowGuard(name, 8 * len(columns), EXPANDS if kind.compression else "")
    kept_rows = 0

    counted = adjust if adjust is not None else Adjustments()

    def on_chunk(chunk: Chunk, n: int, buf, first: int, base: int, links) -> None:
        nonlocal kept_rows
        count_caplen(counted, chunk, n, base)
        keep = selector.select(chunk, n, buf, links)
        selector.placed(chunk, n, keep, kept_rows)
        kept = slice(0, n) if bpf is None else np.flatnonzero(keep[:n])
        end = kept_rows + (n if bpf is None else kept.shape[0])
        guard.need(end, kept_rows)
        if end > columns[0].shape[0]:
            for column in columns:
                column.resize(max(end, column.shape[0] + column.shape[0] // 2), refcheck=False)
        for column, values in zip(columns, (chunk.ts_ns, chunk.wire, chunk.iface), strict=False):
            column[kept_rows:end] = values[kept]
        if bpf is not None:
            columns[3][kept_rows:end] = first + kept
        kept_rows = end

    with sniff.open_file(name) as stream:
        reader = pcap.read_records if kind.container == sniff.PCAP else pcapng.read_records
        reader(name, stream, on_chunk)
    selector.finish(kept_rows, counted)
    for column in columns:
        column.resize(kept_rows, refcheck=False)
    return columns[0], columns[1], columns[2], (None if bpf is None else columns[3])
