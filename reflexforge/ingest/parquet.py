"""Parquet telemetry (spec/telemetry.md 5.1): the Telemetry v1 columns as Parquet columns.

``ts_ns`` and ``bytes`` integer columns without nulls, ``rtt_ns`` an optional nullable
integer column; the Telemetry v1 value rules, error codes and order rule apply, with the
row number (first data row = row 1) in place of the line. Read one row group at a time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numba import njit

from reflexforge.errors import (
    E_CSV_COLUMN,
    E_CSV_EMPTY,
    E_CSV_ENCODING,
    E_CSV_VALUE,
    E_IO,
    ForgeError,
)
from reflexforge.ingest import sniff
from reflexforge.ingest.hashing import open_hashed
from reflexforge.ingest.options import IngestOptions
from reflexforge.ingest.quirks import Adjustments, order_error
from reflexforge.ingest.scan import Scanner
from reflexforge.memory import EXPANDS, FIRST_CHECK_ROWS, RowGuard, reserve_rows
from reflexforge.trace import (
    BYTES,
    BYTES_MAX,
    BYTES_MIN,
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

_RULE = value_rules("null")
HASH_BLOCK = 8 << 20


def _sha1(name: str, also_hash) -> str:
    with open_hashed(name, also_hash) as hashed:
        hashed.drain()
        return hashed.hexdigest()


def _check_schema(name: str, schema: pa.Schema) -> list[str]:
    names = schema.names
    for column in (*REQUIRED, *OPTIONAL):
        if names.count(column) > 1:
            raise ForgeError(E_CSV_COLUMN, f"column {column!r} appears twice", path=name,
                             column=column)
    for column in REQUIRED:
        if column not in names:
            raise ForgeError(E_CSV_COLUMN, f"missing required column {column!r} (the file "
                             f"has: {', '.join(names)})", path=name, column=column)
    present = [c for c in (*REQUIRED, *OPTIONAL) if c in names]
    for column in present:
        kind = schema.field(column).type
        if pa.types.is_integer(kind):
            continue
        hint = ""
        if column == TS and (pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
            hint = (": a fractional column usually holds seconds; multiply by 1e9 and store "
                    "int64 nanoseconds")
        elif column == TS and pa.types.is_timestamp(kind):
            hint = ": store the timestamps as int64 nanoseconds (cast to 'timestamp[ns]' "
            hint += "then to int64)"
        raise ForgeError(E_CSV_COLUMN, f"column {column!r} has type {kind}; an integer type "
                         f"is required{hint}", path=name, column=column)
    return present


def read_parquet(name: str, kind: sniff.Kind, options: IngestOptions, also_hash,
                 adjust: Adjustments) -> Trace:
    """Read and validate a Parquet telemetry file (optionally gzip/zstd around it)."""
    sha1 = _sha1(name, also_hash)
    with plain_parquet(name, kind.compression) as plain:
        return _read(name, plain, sha1, options, adjust)


@contextlib.contextmanager
def plain_parquet(name: str, compression: str | None):
    """The path of the Parquet file itself: ``name``, or a temporary file of it
    decompressed when gzip or zstd is around it (removed on exit)."""
    if compression is None:
        yield name
        return
    with tempfile.TemporaryDirectory(prefix="reflex-parquet-") as scratch:
        plain = os.path.join(scratch, "telemetry.parquet")
        try:
            with sniff.open_file(name) as stream, open(plain, "wb") as out:
                written = 0
                while block := stream.read(HASH_BLOCK):
                    out.write(block)
                    written += len(block)
                    if written % DISK_CHECK_BYTES < len(block):
                        _check_disk(name, scratch, written)
        except sniff.decompress_errors() as exc:
            raise ForgeError(E_CSV_ENCODING, f"corrupt {compression} data ({exc})",
                             path=name) from None
        except OSError as exc:  # the scratch directory's disk
            raise ForgeError(E_IO, f"cannot decompress it into {os.path.dirname(scratch)} "
                             f"({exc.strerror or exc}): decompress it where there is room, "
                             "or set TMPDIR", path=name) from None
        yield plain


DISK_CHECK_BYTES = 16 << 20
"""``plain_parquet`` checks the free disk space each time this many bytes are written."""


def _check_disk(name: str, scratch: str, written: int) -> None:
    """E_IO when the decompressed copy takes more than half of the disk space it can have
    (what it holds plus what is free): a small gzip file can expand a thousandfold."""
    room = written + shutil.disk_usage(scratch).free
    if written > room // 2:
        raise ForgeError(E_IO, f"decompressing it has written {written / 1e6:.4g} MB to "
                         f"{os.path.dirname(scratch)}, more than half of the disk space there "
                         f"({room / 1e6:.4g} MB): is it a compressed run of repeated data? "
                         "Decompress it where there is room, or set TMPDIR", path=name)


def _open(name: str, source: str) -> tuple[pq.ParquetFile, list[str]]:
    """The file and the Telemetry v1 columns it has (E_CSV_ENCODING, E_CSV_COLUMN)."""
    try:
        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ForgeError(E_CSV_ENCODING, f"not a readable Parquet file ({exc})",
                         path=name) from None
    return parquet, _check_schema(name, schema)


def _reserve(parquet: pq.ParquetFile) -> tuple[np.ndarray, np.ndarray]:
    """The ts_ns and bytes arrays to read into, at first room for the footer's row count up
    to FIRST_CAPACITY (the footer is not trusted for an allocation)."""
    capacity = reserve_rows(min(parquet.metadata.num_rows, FIRST_CAPACITY), ROW_BYTES)
    return np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=SIZE_DTYPE)


def _groups(name: str, parquet: pq.ParquetFile, columns: list[str],
            out: tuple[np.ndarray, np.ndarray]):
    """(table, ts_ns, bytes) of each row group in turn, nulls and uint64 beyond int64 refused
    (``_integers``); the memory guard asked before a group is decoded and after; the arrays
    ``out`` (``_reserve``) grown in place to hold the group's rows too. The caller turns
    Arrow errors into E_CSV_ENCODING."""
    guard = RowGuard(name, ROW_BYTES, EXPANDS)
    rows = 0
    for group in range(parquet.num_row_groups):
        # the footer's row count, never trusted for an allocation, may refuse one: a
        # group is decoded whole (8 bytes a value) before its rows are checked
        claimed = parquet.metadata.row_group(group).num_rows
        guard.need(rows + claimed, rows)
        if claimed >= FIRST_CHECK_ROWS:
            guard.fits(claimed, rows, 8 * len(columns))
        table = parquet.read_row_group(group, columns=columns)
        n = table.num_rows
        guard.need(rows + n, rows)
        if rows + n > out[0].shape[0]:
            capacity = max(rows + n, out[0].shape[0] * 2)
            for array in out:
                array.resize(capacity, refcheck=False)
        yield table, _integers(name, table, TS, rows), _integers(name, table, BYTES, rows)
        rows += n


@njit(cache=True, nogil=True)
def _valid(bits, values, out_at, out):
    """i and values[i] for each i with bit i of ``bits`` set (bit i % 8 of byte i // 8), in
    order, into out_at and out; how many."""
    k = 0
    for j in range(min(bits.shape[0], (values.shape[0] + 7) // 8)):
        if bits[j]:
            for i in range(j * 8, min(j * 8 + 8, values.shape[0])):
                if bits[j] >> (i - j * 8) & 1:
                    out_at[k] = i
                    out[k] = values[i]
                    k += 1
    return k


def _rtt(name: str, table: pa.Table, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, values) of the group's RTT samples (the group from row ``rows``);
    E_CSV_VALUE at the first negative one. The validity bitmap is read byte by byte (few
    samples: most bytes are 0), without a copy of the column."""
    data = _array(table, RTT)
    valid, buffer = data.buffers()[:2]
    if valid is None or data.offset % 8:
        where = np.flatnonzero(data.is_valid().to_numpy(zero_copy_only=False))
        values = data.drop_null().to_numpy(zero_copy_only=False)
    else:
        start, end = data.offset, data.offset + len(data)
        raw = np.frombuffer(buffer, np.dtype(data.type.to_pandas_dtype()))[start:end]
        where = np.empty(len(data) - data.null_count, np.int64)
        values = np.empty(where.shape[0], raw.dtype)
        k = _valid(np.frombuffer(valid, np.uint8)[start // 8:], raw, where, values)
        where, values = where[:k], values[:k]
    values = values.astype(np.int64)
    if values.shape[0] and int(values.min()) < 0:
        i = int(where[np.flatnonzero(values < 0)[0]])
        raise ForgeError(E_CSV_VALUE, f"row {rows + i + 1}: {_RULE[RTT]}, got "
                         f"{int(values[values < 0][0])}", path=name, column=RTT)
    return where + rows, values


def _read(name: str, source: str, sha1: str, options: IngestOptions,
          adjust: Adjustments) -> Trace:
    """The trace of a plain Parquet file."""
    parquet, columns = _open(name, source)
    ts_all, size_all = out = _reserve(parquet)
    rtt_at: list[np.ndarray] = []
    rtt_val: list[np.ndarray] = []
    window = adjust.window_ns = options.window_for(False)
    rows = 0
    state = np.array([0, 0], dtype=np.int64)  # [latest ts_ns so far, any row yet]
    try:
        for table, ts, size in _groups(name, parquet, columns, out):
            n = table.num_rows
            before = int(state[0])
            bad, kind = _take(ts, size, ts_all, size_all, rows, window, state)
            if bad >= 0:
                _raise_bad(name, rows + bad, kind, ts, size, bad, before, window)
            if RTT in columns:
                at, values = _rtt(name, table, rows)
                rtt_at.append(at)
                rtt_val.append(values)
            rows += n
    except (pa.ArrowException, OSError) as exc:
        raise ForgeError(E_CSV_ENCODING, f"unreadable Parquet data after row {rows} ({exc})",
                         path=name) from None
    _trim(name, rows, ts_all, size_all)
    if rtt_at:
        samples = (np.concatenate(rtt_at), np.concatenate(rtt_val))
    else:
        samples = (np.empty(0, np.int64), np.empty(0, np.int64))
    if window:
        from reflexforge.ingest.quirks import reorder

        samples = reorder(name, ts_all, size_all, samples, window, lambda i: f"row {i + 1}",
                          adjust)
    return Trace(ts_all, size_all, rtt_samples=samples, sha1=sha1, path=name)


def _trim(name: str, rows: int, ts_all: np.ndarray, size_all: np.ndarray) -> None:
    """The reserved arrays cut to the ``rows`` read; E_CSV_EMPTY if there are none."""
    if rows == 0:
        raise ForgeError(E_CSV_EMPTY, "no rows", path=name)
    ts_all.resize(rows, refcheck=False)
    size_all.resize(rows, refcheck=False)


_VALID = (TS_MIN, TS_MAX, BYTES_MIN, BYTES_MAX)


def scan_parquet(name: str, source: str, scanner: Scanner
                 ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``check``'s read of a plain Parquet file, in file order (no order rule, no reordering):
    each row group's values checked as the reader does (E_CSV_VALUE at the first bad one),
    copied and fed to ``scanner`` in one pass. Returns (ts_ns, bytes, the RTT sample values
    of each group)."""
    parquet, columns = _open(name, source)
    ts_all, size_all = out = _reserve(parquet)
    rtt: list[np.ndarray] = []
    rows = 0
    try:
        for table, ts, size in _groups(name, parquet, columns, out):
            bad = scanner.feed(ts, size, _VALID, out)
            if bad >= 0:
                kind = 0 if not TS_MIN <= int(ts[bad]) <= TS_MAX else 1
                _raise_bad(name, rows + bad, kind, ts, size, bad, 0, TS_MAX)
            if RTT in columns:
                rtt.append(_rtt(name, table, rows)[1])
            rows += table.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise ForgeError(E_CSV_ENCODING, f"unreadable Parquet data after row {rows} ({exc})",
                         path=name) from None
    _trim(name, rows, ts_all, size_all)
    return ts_all, size_all, rtt


FIRST_CAPACITY = 1 << 24
"""Rows reserved before reading (more as row groups arrive): a footer's row count is not
trusted for an allocation."""


@njit(cache=True, nogil=True)
def _take(ts, size, out_ts, out_size, at, window, state):
    """Copy one row group into the trace arrays, checking ranges and order in one pass:
    (-1, 0) or (index, kind) of the first bad row: kind 0 ts_ns range, 1 bytes range,
    2 a step back beyond ``window``."""
    top = state[0]
    started = state[1] != 0
    for i in range(ts.shape[0]):
        t = np.int64(ts[i])
        b = np.int64(size[i])
        if t < 0 or t > TS_MAX:
            return i, 0
        if b < 1 or b > 65535:
            return i, 1
        if started and t < top - window:
            return i, 2
        if not started or t > top:
            top = t
            started = True
        out_ts[at + i] = t
        out_size[at + i] = b
    state[0] = top
    state[1] = 1 if started else 0
    return -1, 0


def _raise_bad(name: str, row: int, kind: int, ts, size, i: int, before: int, window: int):
    if kind == 0:
        raise ForgeError(E_CSV_VALUE, f"row {row + 1}: {_RULE[TS]}, got {int(ts[i])}",
                         path=name, column=TS)
    if kind == 1:
        raise ForgeError(E_CSV_VALUE, f"row {row + 1}: {_RULE[BYTES]}, got {int(size[i])}",
                         path=name, column=BYTES)
    top = int(np.max(ts[:i])) if i else before
    raise order_error(name, f"row {row + 1}", int(ts[i]), max(top, before), window)


def _array(table: pa.Table, column: str) -> pa.Array:
    """The column as one array: a row group's one chunk as it is (combine_chunks copies)."""
    chunks = table.column(column)
    return chunks.chunk(0) if chunks.num_chunks == 1 else chunks.combine_chunks()


def _integers(name: str, table: pa.Table, column: str, rows: int) -> np.ndarray:
    """The column's values (no nulls; uint64 within int64), ranges checked by the caller."""
    data = _array(table, column)
    if data.null_count:
        i = int(np.flatnonzero(~data.is_valid().to_numpy(zero_copy_only=False))[0])
        raise ForgeError(E_CSV_VALUE, f"row {rows + i + 1}: {column} is null; an integer is "
                         "required", path=name, column=column)
    if pa.types.is_uint64(data.type):
        raw = data.to_numpy(zero_copy_only=False)
        if (raw > np.uint64(2**63 - 1)).any():
            i = int(np.flatnonzero(raw > np.uint64(2**63 - 1))[0])
            raise ForgeError(E_CSV_VALUE, f"row {rows + i + 1}: {_RULE[column]}, got "
                             f"{int(raw[i])}", path=name, column=column)
    return data.to_numpy(zero_copy_only=False)
