"""Telemetry v1 reader (spec/telemetry.md): a UTF-8 CSV of packet arrivals -> ``Trace``.

The file is streamed once through pyarrow's CSV reader in blocks, with the three columns
typed int64, and is hashed (sha1 of the bytes as stored) as it is read. Memory stays bounded
by the block size plus the compact result arrays, which are filled in place (no per-block
copies to concatenate); pyarrow's pool is released after the read. Bad input raises
``ForgeError`` naming the file, the physical line (header = line 1) and the column: pyarrow
reports conversion errors without a row, so on that error path only the failing block is
re-scanned in Python. pyarrow's int64 conversion also takes hexadecimal (``0x10``), which
Telemetry v1 does not: ``reflexforge.ingest.hexguard`` finds such values.
"""

from __future__ import annotations

import csv
import ctypes
import gzip
import io
import os
import re
import zlib
from collections.abc import Iterator
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from reflexforge.errors import (
    E_CSV_COLUMN,
    E_CSV_EMPTY,
    E_CSV_ENCODING,
    E_CSV_ORDER,
    E_CSV_VALUE,
    E_IO,
    E_TRACE_SHORT,
    ForgeError,
)
from reflexforge.ingest.hashing import HashingFile
from reflexforge.ingest.hexguard import (
    LetterScan,
    column_options,
    first_hex_row,
    header_letters,
)
from reflexforge.ingest.sniff import compression_of, decompress_errors, open_file
from reflexforge.memory import EXPANDS, RowGuard, reserve_rows
from reflexforge.trace import (
    BYTES,
    BYTES_MAX,
    BYTES_MIN,
    INT64_MAX,
    INT64_MIN,
    OPTIONAL,
    REQUIRED,
    ROW_BYTES,
    RTT,
    SIZE_DTYPE,
    TS,
    TS_MAX,
    TS_MIN,
    Trace,
    value_rules,
)

_RULE = value_rules("empty")

BLOCK_SIZE = 4 << 20
"""Bytes per CSV block: small blocks keep the reader threads' buffers (and the glibc arenas
they fill) small; larger ones are no faster."""
MAX_LINE_CHARS = BLOCK_SIZE
"""Longest line, header or data: a file without newlines, such as /dev/zero, is an error, not
an unbounded read (pyarrow cannot parse a row longer than its block either)."""
_INTEGER = re.compile(r"[ \t]*(-?[0-9]+)[ \t]*")  # spec/telemetry.md section 1
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9.]+[eE][-+]?[0-9]+)")
_FLOAT_HINT = ("; a number with a fraction is usually seconds (as tshark's frame.time_epoch "
               "exports): ts_ns must be integer nanoseconds, so multiply by 1e9 and round "
               "(microseconds: by 1000)")


def read_telemetry(path: str | os.PathLike[str], min_span_ns: int | None = None,
                   also_hash=None, reorder_window_ns: int = 0) -> Trace:
    """Read and validate a Telemetry v1 CSV file (plain, gzip or zstd: found by content).

    ``min_span_ns`` is the shortest allowed time from the first to the last ts_ns; by default
    one feature window (``reflexforge.config.WINDOW_NS``), since a shorter trace has no window.
    ``also_hash`` (a hashlib object) is updated with the file's bytes as stored, as the
    trace's own sha1 is. ``reorder_window_ns`` > 0 lets ts_ns step back by up to that much
    (the rows are then left as read: ``reflexforge.ingest.quirks.reorder`` sorts them).
    Raises ``ForgeError`` (E_CSV_*, E_TRACE_SHORT, E_IO) on any problem.
    """
    name = os.fspath(path)
    if min_span_ns is None:
        from reflexforge.config import WINDOW_NS

        min_span_ns = WINDOW_NS
    header, header_line = _read_header(name)
    columns = _check_header(name, header, header_line)
    try:
        raw = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
    with raw:
        hashing = HashingFile(raw, also_hash, owns=False)
        trace_arrays = _stream(name, hashing, columns, header, header_line, reorder_window_ns)
        hashing.drain(BLOCK_SIZE)
    _check_quoted_newlines(name)
    ts, size, rtt_samples = trace_arrays
    trace = Trace(ts_ns=ts, size=size, rtt_samples=rtt_samples, sha1=hashing.hexdigest(),
                  path=name)
    if trace.rows == 0:
        raise ForgeError(E_CSV_EMPTY, "no data rows (header only)", path=name)
    if trace.duration_ns < min_span_ns:
        raise ForgeError(
            E_TRACE_SHORT,
            f"trace spans {trace.duration_ns} ns from the first to the last ts_ns, shorter "
            f"than one window ({min_span_ns} ns)",
            path=name,
        )
    return trace


def _open_text(name: str) -> IO[str]:
    """The file as text with universal newlines (so line numbers match pyarrow's rows)."""
    raw = open_file(name)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline=None)


def _lines(name: str, text: IO[str], what: str = "header") -> Iterator[tuple[int, str]]:
    """(line number, line) of ``text``; E_CSV_ENCODING for a line over MAX_LINE_CHARS
    (``what`` names it: header or data)."""
    number = 0
    while line := text.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            raise ForgeError(E_CSV_ENCODING, f"{what} line longer than {MAX_LINE_CHARS} "
                             "characters", path=name, line=number)
        yield number, line


def _read_header(name: str) -> tuple[list[str], int]:
    """The header fields (first non-empty line) and its line number."""
    try:
        with _open_text(name) as text:
            for number, line in _lines(name, text):
                if line.strip("\n") == "":
                    continue
                if any("\udc80" <= ch <= "\udcff" for ch in line):
                    raise ForgeError(E_CSV_ENCODING, "not valid UTF-8, so not Telemetry v1 CSV; "
                                     "nor a pcap, pcapng or Parquet file (their magic bytes are "
                                     f"recognised first; this one starts {_first_bytes(name)})",
                                     path=name, line=number)
                fields = next(csv.reader([line.rstrip("\n")]))
                if fields and fields[0].startswith("\ufeff"):
                    fields[0] = fields[0][1:]
                return fields, number
    except OSError as exc:
        if isinstance(exc, gzip.BadGzipFile) or exc.errno is None:
            raise ForgeError(E_CSV_ENCODING, f"not a valid gzip file ({exc})", path=name) from None
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
    except (EOFError, zlib.error) as exc:
        raise ForgeError(E_CSV_ENCODING, f"not a valid gzip file ({exc})", path=name) from None
    except csv.Error as exc:
        raise ForgeError(E_CSV_ENCODING, f"malformed CSV header ({exc})", path=name) from None
    raise ForgeError(E_CSV_EMPTY, "empty file (no header row)", path=name)


def _first_bytes(name: str) -> str:
    with open(name, "rb") as raw:
        return raw.read(8).hex(" ")


def _check_quoted_newlines(name: str) -> None:
    """E_CSV_ENCODING if a quoted field spans lines (an odd number of ``"`` on a line).

    pyarrow would accept such a field, which breaks the line numbers of every later error,
    so it is rejected. Files without any ``"`` (the usual case) are only scanned for one.
    """
    try:
        with open_file(name) as raw:
            while block := raw.read(BLOCK_SIZE):
                if b'"' in block:
                    break
            else:
                return
        with _open_text(name) as text:
            for number, line in enumerate(text, 1):
                if line.count('"') % 2:
                    raise ForgeError(E_CSV_ENCODING, "a quoted field runs past the end of the "
                                     "line (newlines inside quoted fields are not allowed)",
                                     path=name, line=number)
    except (OSError, *decompress_errors()) as exc:
        raise ForgeError(E_CSV_ENCODING, f"unreadable data ({exc})", path=name) from None


def _check_utf8(name: str, line: str, number: int, column: str | None) -> None:
    if any("\udc80" <= ch <= "\udcff" for ch in line):
        raise ForgeError(E_CSV_ENCODING, "not valid UTF-8", path=name, line=number, column=column)


def _check_header(name: str, header: list[str], header_line: int) -> list[str]:
    """The Telemetry v1 columns present, in reading order; checks required and duplicate names."""
    seen: set[str] = set()
    for column in header:
        if column in (*REQUIRED, *OPTIONAL) and column in seen:
            raise ForgeError(
                E_CSV_COLUMN,
                f"column {column!r} appears twice in the header",
                path=name,
                line=header_line,
                column=column,
            )
        seen.add(column)
    for column in REQUIRED:
        if column not in seen:
            raise ForgeError(
                E_CSV_COLUMN,
                f"missing required column {column!r} (header has: {', '.join(header)})",
                path=name,
                line=header_line,
                column=column,
            )
    return [c for c in (*REQUIRED, *OPTIONAL) if c in seen]


def _stream(
    name: str, hashing: HashingFile, columns: list[str], header: list[str], header_line: int,
    window: int = 0,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Stream the CSV through pyarrow, validating each block: ts, size, (rtt indices, values).
    ``window``: the largest step back of ts_ns allowed (0: non-decreasing)."""
    text: IO[bytes] | pa.NativeFile = hashing
    if (codec := compression_of(name)) is not None:
        text = pa.CompressedInputStream(pa.PythonFile(hashing, mode="r"), codec)
    scan = LetterScan(text, header_letters(header))
    source = pa.PythonFile(scan, mode="r")
    read_options = pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=True)
    parse_options = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=True)
    convert_options = column_options(columns, pa.int64())
    capacity = _initial_capacity(name, codec is not None)
    guard = RowGuard(name, ROW_BYTES, EXPANDS if codec is not None else "")
    ts_all = np.empty(capacity, dtype=np.int64)
    size_all = np.empty(capacity, dtype=SIZE_DTYPE)
    rtt_at: list[np.ndarray] = []
    rtt_val: list[np.ndarray] = []
    rows = 0
    prev_ts: int | None = None
    batches: Iterator[pa.RecordBatch] | None = None

    def fail(message: str) -> ForgeError:
        """The first bad row from the failing block on (from a hex value before it, if any)."""
        start, last_ts = rows, prev_ts
        if scan.seen:
            row = first_hex_row(name, columns, read_options, parse_options, stop_row=rows)
            if row is not None and row < rows:
                start, last_ts = row, None
        return _diagnose(name, header, header_line, start, last_ts, message, window)

    try:
        while True:
            try:
                if batches is None:
                    batches = iter(
                        pacsv.open_csv(source, read_options, parse_options, convert_options)
                    )
                batch = next(batches)
            except StopIteration:
                break
            except (pa.ArrowInvalid, pa.ArrowKeyError, OSError) as exc:
                raise fail(str(exc)) from None
            n = batch.num_rows
            if n == 0:
                continue
            ts_col = batch.column(TS)
            size_col = batch.column(BYTES)
            rtt_col = batch.column(RTT) if RTT in columns else None
            if ts_col.null_count or size_col.null_count:
                raise fail("empty value")
            ts = ts_col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            size = size_col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            top = ts
            if window:
                top = np.maximum.accumulate(ts)
                if prev_ts is not None:
                    np.maximum(top, prev_ts, out=top)
            bad = (
                (ts < TS_MIN).any()
                or (ts > TS_MAX).any()
                or (size < BYTES_MIN).any()
                or (size > BYTES_MAX).any()
                or (prev_ts is not None and ts[0] < prev_ts - window)
                or (n > 1 and bool((ts[1:] < top[:-1] - window).any()))
            )
            if rtt_col is not None:
                valid = rtt_col.is_valid().to_numpy(zero_copy_only=False)
                rtt = rtt_col.fill_null(0).to_numpy(zero_copy_only=False)
                bad = bad or bool((rtt < 0).any())
                if valid.any():
                    where = np.flatnonzero(valid)
                    rtt_at.append(where + rows)
                    rtt_val.append(rtt[where])
            if bad:
                raise fail("value out of range")
            guard.need(rows + n, rows)
            if rows + n > capacity:
                capacity = max(rows + n, capacity + capacity // 2)
                ts_all.resize(capacity, refcheck=False)
                size_all.resize(capacity, refcheck=False)
            ts_all[rows : rows + n] = ts
            size_all[rows : rows + n] = size
            prev_ts = int(top[-1])
            rows += n
            del batch, ts_col, size_col, rtt_col, ts, size, top
    except OSError as exc:
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
    del batches
    if scan.seen and (row := first_hex_row(name, columns, read_options, parse_options)) is not None:
        raise _diagnose(name, header, header_line, row, None, "hexadecimal integer", window)
    ts_all.resize(rows, refcheck=False)
    size_all.resize(rows, refcheck=False)
    _release_free_memory()
    if not rtt_at:
        return ts_all, size_all, (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    at = np.concatenate(rtt_at).astype(np.int64, copy=False)
    return ts_all, size_all, (at, np.concatenate(rtt_val).astype(np.int64, copy=False))


def _release_free_memory() -> None:
    """Hand the memory freed after reading back to the system: pyarrow's pool, and glibc's
    per-thread arenas, which keep the blocks pyarrow's reader threads read the file into."""
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to trim
        pass


def _initial_capacity(name: str, compressed: bool, row_bytes: int = ROW_BYTES) -> int:
    """Rows of ``row_bytes`` to reserve up front (``reserve_rows``): the file size over 8
    bytes (typical rows are longer), 4x that compressed; untouched pages cost address space."""
    try:
        stored = os.path.getsize(name)
    except OSError:
        stored = 0
    return reserve_rows(stored // 2 if compressed else stored // 8 + 1024, row_bytes)


def _diagnose(
    name: str,
    header: list[str],
    header_line: int,
    start_row: int,
    prev_ts: int | None,
    arrow_message: str,
    window: int = 0,
) -> ForgeError:
    """Find the first bad data row at or after ``start_row`` and describe it (error path only)."""
    try:
        return _scan_for_error(name, header, header_line, start_row, prev_ts, window) or ForgeError(
            E_CSV_ENCODING, f"malformed CSV ({arrow_message})", path=name
        )
    except ForgeError as exc:
        return exc
    except (OSError, *decompress_errors()) as exc:
        return ForgeError(E_CSV_ENCODING, f"unreadable data ({exc})", path=name)


def _scan_for_error(
    name: str, header: list[str], header_line: int, start_row: int, prev_ts: int | None,
    window: int = 0,
) -> ForgeError | None:
    index = {c: header.index(c) for c in (*REQUIRED, *OPTIONAL) if c in header}
    row = -1
    with _open_text(name) as text:
        for number, line in _lines(name, text, "data"):
            if number <= header_line or line.strip("\n") == "":
                continue
            row += 1
            if row < start_row:
                continue
            error, prev_ts = _check_row(name, line, number, header, index, prev_ts, window)
            if error is not None:
                return error
    return None


def _check_row(
    name: str,
    line: str,
    number: int,
    header: list[str],
    index: dict[str, int],
    prev_ts: int | None,
    window: int = 0,
) -> tuple[ForgeError | None, int | None]:
    """Validate one data line the way the fast path does; return (error or None, its ts)."""
    try:
        fields = next(csv.reader([line.rstrip("\n")]))
    except csv.Error as exc:
        return ForgeError(E_CSV_ENCODING, f"malformed CSV ({exc})", name, number), prev_ts
    if len(fields) != len(header):
        return ForgeError(
            E_CSV_ENCODING,
            f"expected {len(header)} fields like the header, got {len(fields)}",
            name,
            number,
        ), prev_ts
    values: dict[str, int | None] = {}
    for column, position in index.items():
        text = fields[position]
        _check_utf8(name, text, number, column)
        if text == "":
            if column in REQUIRED:
                return ForgeError(
                    E_CSV_VALUE,
                    f"{column} is empty; an integer is required",
                    name,
                    number,
                    column,
                ), prev_ts
            values[column] = None
            continue
        match = _INTEGER.fullmatch(text)
        value = int(match.group(1)) if match else None
        if value is None or not INT64_MIN <= value <= INT64_MAX:
            hint = _FLOAT_HINT if column == TS and _FLOAT.fullmatch(text.strip()) else ""
            return ForgeError(
                E_CSV_VALUE, f"{_RULE[column]}, got {text!r}{hint}", name, number, column
            ), (prev_ts)
        values[column] = value
    ts, size, rtt = values[TS], values[BYTES], values.get(RTT)
    if not TS_MIN <= ts <= TS_MAX:
        return ForgeError(E_CSV_VALUE, f"{_RULE[TS]}, got {ts}", name, number, TS), prev_ts
    if not BYTES_MIN <= size <= BYTES_MAX:
        return ForgeError(E_CSV_VALUE, f"{_RULE[BYTES]}, got {size}", name, number, BYTES), prev_ts
    if rtt is not None and rtt < 0:
        return ForgeError(E_CSV_VALUE, f"{_RULE[RTT]}, got {rtt}", name, number, RTT), prev_ts
    if prev_ts is not None and ts < prev_ts - window:
        step = prev_ts - ts
        return ForgeError(
            E_CSV_ORDER,
            f"ts_ns decreases: {ts} after {prev_ts} (by {step} ns; --reorder-window "
            f"{window} ns allowed; pass --reorder-window {-(-step // 1_000_000)}ms or more "
            "to put such rows back in order)",
            name,
            number,
            TS,
        ), prev_ts
    return None, ts if prev_ts is None else max(ts, prev_ts)
