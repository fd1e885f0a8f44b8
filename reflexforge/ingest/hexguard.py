"""Keep hexadecimal integers out of the CSV reader's int64 columns (spec/telemetry.md §1).

pyarrow's int64 conversion accepts ``0x10`` (and ``0X1f``) besides decimal digits; Telemetry
v1 integers are decimal only. Every such value has an ``x`` or ``X``, so the reader passes
the decompressed text through ``LetterScan``, which notes whether either letter appears
beyond the header (a memchr search: a few tens of ms per GB). Only when it does (a hex
value, or a letter in some other column) does ``first_hex_row`` read the integer columns
again, as text, to find the first row with a letter in them.
"""

from __future__ import annotations

import io
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from reflexforge.ingest.sniff import decompress_errors, open_file

_LETTERS = (b"x", b"X")


def column_options(columns: list[str], kind: pa.DataType,
                   strings_can_be_null: bool = False) -> pacsv.ConvertOptions:
    """pyarrow's conversion of Telemetry v1's ``columns`` (no others) to ``kind``; an empty
    field is a null."""
    return pacsv.ConvertOptions(column_types={c: kind for c in columns}, include_columns=columns,
                                null_values=[""], strings_can_be_null=strings_can_be_null)


class LetterScan(io.RawIOBase):
    """A read-only stream over ``raw`` (whose ``read`` returns bytes) that sets ``seen`` once
    an ``x`` or ``X`` is read beyond the first ``skip`` of them (the header's)."""

    def __init__(self, raw: IO[bytes], skip: int) -> None:
        super().__init__()
        self._raw = raw
        self._skip = skip
        self.seen = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if not self.seen and data:
            self._scan(bytes(data))
        return data

    def _scan(self, data: bytes) -> None:
        start = 0
        while True:
            hits = [i for i in (data.find(letter, start) for letter in _LETTERS) if i >= 0]
            if not hits:
                return
            if self._skip == 0:
                self.seen = True
                return
            self._skip -= 1
            start = min(hits) + 1


def header_letters(header: list[str]) -> int:
    """How many ``x``/``X`` the header line holds (quotes add none)."""
    return sum(field.count("x") + field.count("X") for field in header)


def first_hex_row(
    name: str,
    columns: list[str],
    read_options: pacsv.ReadOptions,
    parse_options: pacsv.ParseOptions,
    stop_row: int | None = None,
) -> int | None:
    """The first data row (0-based) with an ``x``/``X`` in one of ``columns``, read as text;
    None if there is none (before ``stop_row``, when given)."""
    convert_options = column_options(columns, pa.string(), strings_can_be_null=True)
    rows = 0
    try:
        with open_file(name) as stream:
            source = pa.PythonFile(stream, mode="r")
            for batch in pacsv.open_csv(source, read_options, parse_options, convert_options):
                if (found := _first_letter(batch, columns)) is not None:
                    return rows + found
                rows += batch.num_rows
                if stop_row is not None and rows > stop_row:
                    return None
    except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, *decompress_errors()):
        pass  # a block pyarrow cannot parse: the caller reports that one
    return None


def _first_letter(batch: pa.RecordBatch, columns: list[str]) -> int | None:
    """The first row of ``batch`` with an ``x``/``X`` in one of ``columns`` (text), or None;
    a column's text is searched whole first (memchr), row by row only when it has one."""
    found: list[int] = []
    for column in columns:
        text = batch.column(column)
        data = text.buffers()[2]
        if data is None or not any(data.to_pybytes().find(b) >= 0 for b in _LETTERS):
            continue
        row = pc.index(pc.match_substring(text, "x", ignore_case=True), True).as_py()
        if row >= 0:  # -1: the letter lies in the buffer outside this array's slice
            found.append(row)
    return min(found) if found else None
