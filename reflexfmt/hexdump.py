"""A byte dump of a file with every byte annotated by its schema field path (spec 2 to 7)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reflexfmt.layout import walk
from reflexfmt.terminal import escape_control

_CHUNK = 16


@dataclass(frozen=True)
class Row:
    """One output line: ``data[offset : offset + len(raw)]`` belongs to ``path``."""

    offset: int
    raw: bytes
    path: str
    value: str


def rows(data: bytes) -> Iterator[Row]:
    """Rows covering every byte of ``data`` in order; bytes after a framing error are marked."""
    w = walk(data)
    for f in w.fields:
        if (isinstance(f.value, bytes) and f.size > 8) or f.size == 0:
            if f.size == 0:
                yield Row(f.offset, b"", f.path, "(empty)")
            for start in range(0, f.size, _CHUNK):
                chunk = f.value[start : start + _CHUNK]
                text = escape_control(repr(chunk.decode("utf-8", "backslashreplace")))
                yield Row(f.offset + start, chunk, f"{f.path}[+{start}]", text)
        else:
            yield Row(f.offset, data[f.offset : f.offset + f.size], f.path, _value(f.path, f.value))
    end = w.fields[-1].offset + w.fields[-1].size if w.fields else 0
    if w.error is not None and end < len(data):
        label = "trailing" if w.error.code == "E_TRAILING" else f"unparsed ({w.error.code})"
        for start in range(end, len(data), _CHUNK):
            yield Row(start, data[start : start + _CHUNK], label, "")


def _value(path: str, value: object) -> str:
    if path == "crc32":
        return f"0x{value:08x}"
    if isinstance(value, bytes):
        return escape_control(repr(value))
    if isinstance(value, float):
        return float.__repr__(value)
    return str(value)


def render(data: bytes) -> str:
    """The dump as text: offset, hex bytes, field path, value; one line per row."""
    lines = [f"{'offset':<8}  {'bytes':<47}  field = value"]
    for r in rows(data):
        hexed = " ".join(f"{b:02x}" for b in r.raw)
        value = f" = {r.value}" if r.value else ""
        lines.append(f"{r.offset:08x}  {hexed:<47}  {r.path}{value}")
    w = walk(data)
    if w.error is not None:
        lines.append(f"error: {escape_control(str(w.error))}")
    return "\n".join(lines) + "\n"
