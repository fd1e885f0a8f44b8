"""``reflex-forge check``: every problem of a telemetry file in one pass (spec/telemetry.md 8).

Counts per code with the first few places, the adjustments the options would make, and the
plausibility warnings. A problem that stops reading (a corrupt capture, a missing column,
broken CSV) makes the file unreadable; value and order problems are counted and the scan
goes on. The other commands still stop at the first error.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numba import njit

from reflexforge.errors import (
    E_CSV_EMPTY,
    E_CSV_ENCODING,
    E_CSV_ORDER,
    E_CSV_VALUE,
    E_TRACE_SHORT,
    ForgeError,
)
from reflexforge.ingest import sniff
from reflexforge.ingest.options import CLAMP, ERROR, SPLIT, IngestOptions
from reflexforge.ingest.plausibility import (
    RTT_SAMPLE,
    caplen_warning,
    queue_of,
    shape_of,
    warnings_from,
)
from reflexforge.ingest.quirks import Adjustments
from reflexforge.ingest.read import refuse_capture_options
from reflexforge.ingest.scan import PLACES, Scanner, scan
from reflexforge.memory import EXPANDS, RowGuard
from reflexforge.trace import BYTES, BYTES_MAX, BYTES_MIN, RTT, TS, TS_MAX, TS_MIN

_INTEGER = r"^[ \t]*-?[0-9]{1,19}[ \t]*$"


@dataclass
class Findings:
    """What ``check`` found in one file."""

    path: str
    kind: str = ""
    rows: int = 0
    span_ns: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    places: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    adjust: Adjustments = field(default_factory=Adjustments)
    fatal: ForgeError | None = None
    rtt: list[np.ndarray] = field(default_factory=list)  # the first RTT_SAMPLE valid samples

    def add(self, code: str, count: int, places) -> None:
        """Count ``count`` problems of ``code``; ``places`` are (position, text) of some of
        them: the first PLACES positions are kept."""
        if count <= 0:
            return
        self.counts[code] = self.counts.get(code, 0) + count
        kept = self.places.setdefault(code, [])
        kept.extend(places)
        kept.sort(key=lambda place: place[0])
        del kept[PLACES:]

    def keep_rtt(self, values: np.ndarray) -> None:
        """Keep valid RTT samples (row order) until RTT_SAMPLE are kept, for W_RTT_UNIT."""
        if (have := sum(a.shape[0] for a in self.rtt)) < RTT_SAMPLE:
            self.rtt.append(np.asarray(values[: RTT_SAMPLE - have], dtype=np.int64))

    @property
    def problems(self) -> int:
        return sum(self.counts.values()) + len(self.warnings)

    def lines(self) -> list[str]:
        """The report: one summary line, then one line per code, warning and adjustment."""
        added = self.adjust.rows_added  # a capture's --oversize split adds rows
        rows = f"{self.rows} records -> {self.rows + added}" if added else f"{self.rows}"
        what = f"{self.kind}, {rows} rows, {self.span_ns / 1e9:.3f} s"
        if self.fatal is not None:
            out = [f"{self.fatal} (unreadable)"]
        elif self.problems:
            out = [f"{self.path}: {self.problems} problem{'s' * (self.problems != 1)} ({what})"]
        else:
            out = [f"{self.path}: OK ({what})"]
        for code in sorted(self.counts):
            places = "; ".join(text for _, text in self.places[code])
            out.append(f"  {code}: {self.counts[code]}; first at {places}")
        out.extend(f"  {w}" for w in self.warnings)
        if (summary := self.adjust.summary()) is not None:
            out.append(f"  adjustments: {summary}")
        out.extend(f"  note: {note}" for note in self.adjust.notes)
        return out


def check_file(path: str | os.PathLike[str], options: IngestOptions | None = None,
               link_bps: int | None = None) -> Findings:
    """Check one telemetry file; never raises ForgeError (it is kept as ``fatal``)."""
    from reflexforge.config import WINDOW_NS

    options = options or IngestOptions()
    name = os.fspath(path)
    found = Findings(name)
    try:
        kind = sniff.sniff(name)
        found.kind = kind.describe()
        if (note := sniff.name_mismatch(name, kind)) is not None:
            found.adjust.notes.append(note)
        capture = kind.container in sniff.CAPTURES
        refuse_capture_options(name, kind, options)
        mode = options.oversize_for(capture)
        window = options.window_for(capture)
        scanning = {"window": window, "mtu": options.mtu, "oversize": mode,
                    "zero_mtu": options.mtu, "link_bps": link_bps}
        found_scan = None
        if capture:
            ts, wire, place = _capture_columns(name, options, found.adjust)
        elif kind.container == sniff.PARQUET:
            ts, wire, place, found_scan = _parquet_columns(name, found, scanning)
        else:
            ts, wire, place = _csv_columns(name, found)
    except ForgeError as exc:
        found.fatal = exc
        return found
    found.rows = int(ts.shape[0])
    if found.rows == 0:
        found.fatal = ForgeError(E_CSV_EMPTY, "no data rows" + (
            " (after --filter)" if options.bpf is not None else ""), path=name)
        return found
    if found_scan is None:
        found_scan = scan(ts, wire, **scanning)
    found.add(E_CSV_ORDER, found_scan.beyond,
              [(int(i), f"{place(int(i))} ({int(d)} ns back)")
               for i, d in found_scan.first_beyond if i >= 0])
    if capture and mode == ERROR:
        found.add(E_CSV_VALUE, found_scan.over,
                  [(int(i), f"{place(int(i))} (bytes {int(wire[i])} > {BYTES_MAX})")
                   for i, _ in found_scan.first_over if i >= 0])
    adjust = found.adjust
    adjust.window_ns, adjust.reordered_rows, adjust.largest_step_back_ns = (
        window, found_scan.within, found_scan.largest_back_ns)
    adjust.oversize, adjust.mtu = mode, options.mtu
    if mode != ERROR:
        adjust.oversize_records, adjust.largest_packet = found_scan.big, found_scan.largest
        adjust.rows_added = found_scan.rows_added if mode == SPLIT else 0
        adjust.bytes_clamped = found_scan.clamped if mode == CLAMP else 0
    found.span_ns = max(0, found_scan.t_max - found_scan.t_min)
    if found.span_ns < WINDOW_NS:
        found.add(E_TRACE_SHORT, 1, [(0, f"the whole trace ({found.span_ns} ns, shorter than "
                                         f"one window of {WINDOW_NS} ns)")])
    # The warnings of the trace as the options would adjust it, as the other commands see it:
    # reordered (a stable sort, as the readers' insertion sort) when rows step back.
    seen = found_scan
    if found_scan.within:
        order = np.argsort(ts, kind="stable")
        seen = scan(ts[order], wire[order], mtu=options.mtu, oversize=mode,
                    zero_mtu=options.mtu, link_bps=link_bps)
    found.warnings = warnings_from(found.rows + adjust.rows_added, found.span_ns,
                                   seen.total_bytes - adjust.bytes_clamped, seen.zero_gaps,
                                   link_bps, queue_of(seen),
                                   shape_of(seen, np.concatenate(found.rtt) if found.rtt
                                            else None))
    found.warnings += caplen_warning(adjust.caplen_records, adjust.caplen_offset)
    return found



def _capture_columns(name: str, options: IngestOptions, adjust: Adjustments):
    """The records --filter keeps, each placed by its record number in the file."""
    from reflexforge.ingest.read import capture_records

    ts, wire, _iface, record = capture_records(name, options, adjust)
    return ts, wire, lambda i: f"record {(i if record is None else int(record[i])) + 1}"


def _parquet_columns(name: str, found: Findings, scanning: dict):
    """The columns, place and scan (``scan``'s keywords ``scanning``) of a Parquet file. gzip
    or zstd around it: read decompressed."""
    from reflexforge.ingest.parquet import plain_parquet

    with plain_parquet(name, sniff.compression_of(name)) as plain:
        return _parquet_file_columns(name, plain, found, scanning)


def _parquet_file_columns(name: str, plain: str, found: Findings, scanning: dict):
    """The reader's checks, its copy and the scan in one pass over each row group when every
    value is good (the usual case); else a pass that counts every bad value, not yet scanned
    (None)."""
    import pyarrow.parquet as pq

    from reflexforge.ingest.parquet import _check_schema, scan_parquet

    try:
        scanner = Scanner(**scanning)
        ts, size, rtt = scan_parquet(name, plain, scanner)
        found.keep_rtt(np.concatenate(rtt) if rtt else np.empty(0, np.int64))
        return ts, size, lambda i: f"row {i + 1}", scanner.result()
    except ForgeError as exc:
        if exc.code != E_CSV_VALUE:
            raise
    try:
        parquet = pq.ParquetFile(plain)
        columns = _check_schema(name, parquet.schema_arrow)
        batches = parquet.iter_batches(batch_size=1 << 20, columns=columns)
        return (*_columns(batches, found, lambda i: f"row {i + 1}"), None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ForgeError(E_CSV_ENCODING, f"not a readable Parquet file ({exc})",
                         path=name) from None


def _csv_columns(name: str, found: Findings):
    """The CSV's columns as int64, the bad values counted; rows with a wrong number of fields
    are counted (E_CSV_ENCODING) and skipped."""
    from reflexforge.ingest.hexguard import LetterScan, column_options, header_letters
    from reflexforge.telemetry import _check_header, _initial_capacity, _read_header

    header, header_line = _read_header(name)
    columns = _check_header(name, header, header_line)
    bad_rows: list[int] = []

    def invalid(row) -> str:
        bad_rows.append(row.number if row.number is not None else -1)
        return "skip"

    read = pacsv.ReadOptions(block_size=4 << 20, use_threads=True)
    lines = _line_numbers(name, header_line, len(header))
    compressed = sniff.compression_of(name) is not None
    arrays = None
    for kind in (pa.int64(), pa.string()):  # integers first: fast when every value is one
        handler = {} if kind == pa.int64() else {"invalid_row_handler": invalid}
        parse = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=True, **handler)
        convert = column_options(columns, kind)
        trial = Findings(name)
        bad_rows.clear()
        try:
            with sniff.open_file(name) as stream:
                scan = LetterScan(stream, header_letters(header))  # pyarrow takes 0x10 as 16
                source = pa.PythonFile(scan, mode="r")
                arrays = _columns(pacsv.open_csv(source, read, parse, convert), trial,
                                  lambda i: f"line {lines(i)}",
                                  _initial_capacity(name, compressed, 16), compressed)
            if not (kind == pa.int64() and scan.seen):
                break
        except pa.ArrowInvalid as exc:
            if kind == pa.string():
                raise ForgeError(E_CSV_ENCODING, f"malformed CSV ({exc})", path=name) from None
        except (pa.ArrowException, OSError, *sniff.decompress_errors()) as exc:
            raise ForgeError(E_CSV_ENCODING, f"malformed CSV ({exc})", path=name) from None
    for code, count in trial.counts.items():
        found.add(code, count, trial.places[code])
    found.rtt = trial.rtt
    places = sorted(bad_rows)[:PLACES]
    if any(r < 0 for r in places):  # pyarrow's threaded reader does not number rows
        places = _wrong_width_lines(name, header_line, len(header), PLACES)
    found.add(E_CSV_ENCODING, len(bad_rows),
              [(r, f"line {r}: wrong number of fields") for r in places])
    return arrays


def _data_lines(name: str, header_line: int, fields: int):
    """(physical line number, has the header's number of fields) of each non-empty data line
    (error path only: the file is read again, line by bounded line)."""
    import csv
    import io

    from reflexforge.telemetry import _lines

    with io.TextIOWrapper(sniff.open_file(name), encoding="utf-8", errors="replace",
                          newline=None) as text:
        for number, line in _lines(name, text, "data"):
            if number <= header_line or not line.strip("\n"):
                continue
            yield number, len(next(csv.reader([line.rstrip("\n")]), [])) == fields


def _wrong_width_lines(name: str, header_line: int, fields: int, limit: int) -> list[int]:
    """The first ``limit`` lines whose number of fields is not the header's."""
    return list(itertools.islice(
        (number for number, ok in _data_lines(name, header_line, fields) if not ok), limit))


def _line_numbers(name: str, header_line: int, fields: int):
    """row index -> physical line (empty lines and lines of the wrong width, which the scan
    skips too, left out); the file is scanned only when a place is reported."""

    def line_of(row: int) -> int:
        kept = (number for number, ok in _data_lines(name, header_line, fields) if ok)
        return next(itertools.islice(kept, row, None), header_line + row + 1)

    return line_of


def _values(data: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int64 values, is an integer, is empty/null) of a string or integer column."""
    if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
        empty = pc.equal(pc.utf8_length(data), 0).to_numpy(zero_copy_only=False)
        ok = pc.match_substring_regex(data, _INTEGER).to_numpy(zero_copy_only=False)
        text = pc.utf8_trim_whitespace(pc.if_else(pa.array(ok), data, "0"))
        try:
            values = pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # 19 digits beyond int64: per value
            values = np.array([_int_or_zero(v) for v in text.to_pylist()], dtype=np.int64)
            ok &= np.array([_int_or_zero(v) != 0 or v.strip() in ("0", "-0")
                            for v in text.to_pylist()])
        return values, ok, empty
    empty = ~data.is_valid().to_numpy(zero_copy_only=False)
    return data.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64), ~empty, empty


def _int_or_zero(text: str) -> int:
    value = int(text)
    return value if -(2**63) <= value < 2**63 else 0


@njit(cache=True, nogil=True)
def _out_of_range(values, lo, hi):
    """(count of values outside lo..hi, the first PLACES indices, -1 padded)."""
    first = np.full(PLACES, -1, np.int64)
    count = 0
    for i in range(values.shape[0]):
        v = np.int64(values[i])
        if v < lo or v > hi:
            if count < PLACES:
                first[count] = i
            count += 1
    return count, first


_LIMITS = {TS: (TS_MIN, TS_MAX), BYTES: (BYTES_MIN, BYTES_MAX), RTT: (0, 2**63 - 1)}


class _Growing:
    """An int64 array filled batch after batch (capacity doubling), so the batches can go."""

    def __init__(self, capacity: int = 1 << 20) -> None:
        self.data = np.empty(max(1, capacity), np.int64)
        self.n = 0

    def add(self, values: np.ndarray) -> None:
        end = self.n + values.shape[0]
        if end > self.data.shape[0]:
            self.data.resize(max(end, 2 * self.data.shape[0]), refcheck=False)
        self.data[self.n : end] = values
        self.n = end

    def done(self) -> np.ndarray:
        self.data.resize(self.n, refcheck=False)
        return self.data


def _columns(batches, found: Findings, place, capacity: int = 1 << 20, expands: bool = True):
    """Validate every batch (Telemetry v1 rules); count bad values per code; int64 arrays of
    ts_ns (a bad one takes the latest good one) and bytes (a bad one counts as 1).
    ``capacity``: rows to reserve up front (untouched pages cost address space only, but
    count under RLIMIT_AS: reserved at this width); ``expands``: a compressed file."""
    ts_all, size_all = _Growing(capacity), _Growing(capacity)
    guard = RowGuard(found.path, 2 * 8, EXPANDS if expands else "")  # ts_ns, bytes: int64
    bad_ts: list[np.ndarray] = []
    row = 0
    for batch in batches:
        guard.need(row + batch.num_rows, row)
        names = batch.schema.names
        for column in (TS, BYTES, RTT):
            if column not in names:
                continue
            data = batch.column(names.index(column))
            lo, hi = _LIMITS[column]
            if column == RTT and pa.types.is_integer(data.type):  # nulls allowed: only < 0
                negative = pc.less(data, 0)
                count = pc.sum(negative).as_py() or 0
                if count:
                    where = np.flatnonzero(negative.fill_null(False).to_numpy(
                        zero_copy_only=False))[:PLACES]
                    found.add(E_CSV_VALUE, count, [(row + int(i), f"{place(row + int(i))}:{RTT}")
                                                   for i in where])
                valid = data.drop_null().to_numpy(zero_copy_only=False)
                found.keep_rtt(valid[valid >= 0])
                continue
            if pa.types.is_integer(data.type) and data.null_count == 0 \
                    and not pa.types.is_uint64(data.type):  # the usual case: one pass
                values = data.to_numpy(zero_copy_only=False)
                count, first = _out_of_range(values, lo, hi)
                found.add(E_CSV_VALUE, count, [(row + int(i), f"{place(row + int(i))}:{column}")
                                               for i in first if i >= 0])
                bad = ((values < lo) | (values > hi)) if count else None
            else:
                values, ok, empty = _values(data)
                if column == RTT:
                    bad = (~ok & ~empty) | (ok & (values < 0))
                    found.keep_rtt(values[ok & ~bad])
                else:
                    bad = ~ok | (values < lo) | (values > hi)
                where = np.flatnonzero(bad)
                found.add(E_CSV_VALUE, int(where.shape[0]),
                          [(row + int(i), f"{place(row + int(i))}:{column}")
                           for i in where[:PLACES]])
                if not where.shape[0]:
                    bad = None
            if column == TS:
                ts_all.add(values)
                if bad is not None:
                    bad_ts.append(np.flatnonzero(bad) + row)
            elif column == BYTES:
                size_all.add(values if bad is None else np.where(bad, 1, values))
        row += batch.num_rows
        del batch
    ts = ts_all.done()
    if bad_ts:  # a bad ts_ns takes the latest good one, so it adds no order problem
        bad = np.zeros(ts.shape[0], np.bool_)
        bad[np.concatenate(bad_ts)] = True
        ts = np.where(bad, np.maximum.accumulate(np.where(bad, TS_MIN, ts)), ts)
    return ts, size_all.done(), place
