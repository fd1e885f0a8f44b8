"""A ``Trace`` -> Telemetry v1 CSV (plain or gzip) or Parquet, atomically and
deterministically: what ``reflex-forge convert`` writes (spec/telemetry.md 5.5)."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reflexfmt.atomic import atomic_open
from reflexforge.trace import BYTES, RTT, TS, Trace

CSV_OUT, CSV_GZ_OUT, PARQUET_OUT = "csv", "csv.gz", "parquet"
FORMATS = (CSV_OUT, CSV_GZ_OUT, PARQUET_OUT)
SLICE_ROWS = 1 << 20
"""Rows converted per slice: bounds the memory of the text or column buffers."""
PARQUET_ROW_GROUP = 1 << 20
SCHEMA = pa.schema([(TS, pa.int64()), (BYTES, pa.int64()), (RTT, pa.int64())])
PARQUET_SCHEMA = pa.schema([pa.field(TS, pa.int64(), nullable=False),
                            pa.field(BYTES, pa.uint16(), nullable=False),
                            pa.field(RTT, pa.int64(), nullable=True)])


def format_for(path: str | os.PathLike[str]) -> str:
    """The output format a file name asks for: .parquet/.pq, .csv.gz/.gz, else CSV."""
    name = os.fspath(path).lower()
    if name.endswith((".parquet", ".pq")):
        return PARQUET_OUT
    if name.endswith(".gz"):
        return CSV_GZ_OUT
    return CSV_OUT


def _slices(trace: Trace):
    at, values = trace.rtt_samples
    rtt = np.full(min(trace.rows, SLICE_ROWS), -1, dtype=np.int64)
    for start in range(0, trace.rows, SLICE_ROWS):
        stop = min(trace.rows, start + SLICE_ROWS)
        lo, hi = np.searchsorted(at, [start, stop])
        part = rtt[: stop - start]
        part.fill(-1)
        part[at[lo:hi] - start] = values[lo:hi]
        yield trace.ts_ns[start:stop], trace.size[start:stop], part


def write_trace(trace: Trace, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write ``trace`` to ``path`` (format from the name unless ``fmt``): nothing is left at
    ``path`` on failure. Same trace, same bytes (gzip without name or time)."""
    fmt = fmt or format_for(path)
    with atomic_open(path, "wb") as raw:
        if fmt == PARQUET_OUT:
            _write_parquet(trace, raw)
            return
        sink = (gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
                if fmt == CSV_GZ_OUT else raw)
        sink.write(f"{TS},{BYTES},{RTT}\n".encode())
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        writer = pacsv.CSVWriter(sink, SCHEMA, write_options=options)
        for ts, size, rtt in _slices(trace):
            writer.write_table(pa.table([pa.array(ts), pa.array(size.astype(np.int64)),
                                         pa.array(rtt, mask=rtt < 0)], schema=SCHEMA))
        writer.close()
        if sink is not raw:
            sink.close()


def _write_parquet(trace: Trace, raw) -> None:
    writer = pq.ParquetWriter(raw, PARQUET_SCHEMA, compression="snappy", write_statistics=True,
                              store_schema=False, use_dictionary=[BYTES, RTT],
                              column_encoding={TS: "DELTA_BINARY_PACKED"})
    for ts, size, rtt in _slices(trace):
        writer.write_table(pa.table([pa.array(ts), pa.array(size, type=pa.uint16()),
                                     pa.array(rtt, mask=rtt < 0)], schema=PARQUET_SCHEMA),
                           row_group_size=PARQUET_ROW_GROUP)
    writer.close()
