"""A walker over the construct schema: reads a file field by field in file order (spec 9.1).

For every leaf field it records path, offset, size, value and the schema's doc string. It makes
the framing checks of ``schema.FRAMING`` as soon as a field is read and reports a field that
does not fit as ``E_TRUNCATED`` at that field's offset. The validator, hexdump and pretty-printer
use its output; offsets and paths are never written by hand.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from construct import Array, Bytes, Const, Container, FormatField, Rebuild, Renamed, Struct
from construct.core import evaluate

from reflexfmt import schema
from reflexfmt.errors import Finding
from reflexfmt.limits import MAX_FILE_SIZE


class Field(namedtuple("Field", "path offset size value doc")):
    """One leaf field of a file: where it is, what it holds, what the schema says about it."""

    __slots__ = ()
    path: str
    offset: int
    size: int
    value: Any
    doc: str


@dataclass
class Walk:
    """The result of walking a file: the fields read, the parsed values, the framing error."""

    fields: list[Field] = field(default_factory=list)
    value: Container = field(default_factory=Container)
    error: Finding | None = None
    end: int = 0

    def offset(self, path: str) -> int:
        """Offset of the leaf field at ``path``."""
        if self.fields and self.fields[-1].path == path:
            return self.fields[-1].offset  # the CRC of a complete walk, without the dict
        return self.offsets[path]

    @property
    def offsets(self) -> dict[str, int]:
        if not hasattr(self, "_offsets"):
            self._offsets = {f.path: f.offset for f in self.fields}
        return self._offsets


class _Stop(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def walk(data: bytes, construct: Any = None) -> Walk:
    """Walk ``data`` with ``construct`` (default: ``schema.NEM1``) and the framing rules."""
    result = Walk()
    if len(data) > MAX_FILE_SIZE:
        result.error = Finding(
            # A file is read up to MAX_FILE_SIZE + 1 bytes only: its true size is unknown here.
            "E_LIMIT", 0, "file", f"file has more than {MAX_FILE_SIZE} bytes, the limit"
        )
        return result
    top = schema.NEM1 if construct is None else construct
    walker = _Walker(bytes(data), result.fields)
    try:
        result.value = walker.struct(top, "", "", None)
    except _Stop as stop:
        result.error = stop.finding
        result.end = walker.pos
        return result
    result.end = walker.pos
    if walker.pos < len(data):
        result.error = Finding(
            "E_TRAILING",
            walker.pos,
            "trailing",
            f"{len(data) - walker.pos} byte(s) follow the checksum",
        )
    return result


class _Walker:
    def __init__(self, data: bytes, fields: list[Field]) -> None:
        self.data = data
        self.pos = 0
        self.fields = fields

    def struct(self, st: Struct, path: str, pattern: str, parent: Container | None) -> Container:
        ctx = Container()
        ctx._ = parent
        for name, doc, inner in _members(st):
            here = f"{path}.{name}" if path else name
            kind = f"{pattern}.{name}" if pattern else name
            ctx[name] = self.any(inner, here, kind, ctx, doc)
        del ctx["_"]
        return ctx

    def any(self, con: Any, path: str, pattern: str, ctx: Container, doc: str) -> Any:
        if isinstance(con, Struct):
            return self.struct(con, path, pattern, ctx)
        if isinstance(con, Array):
            count = evaluate(con.count, ctx)
            _, sub_doc, inner = _unwrap(con.subcon)
            return [
                self.any(inner, f"{path}[{i}]", pattern, ctx, sub_doc or doc) for i in range(count)
            ]
        if isinstance(con, Const):
            con = con.subcon
        if isinstance(con, FormatField):
            unpack, size = _format(con.fmtstr)
        elif isinstance(con, Bytes):
            unpack, size = None, evaluate(con.length, ctx)
        else:
            raise TypeError(f"schema walker does not handle {type(con).__name__} at {path}")
        offset = self.pos
        end = offset + size
        if end > len(self.data):
            raise _Stop(
                Finding(
                    "E_TRUNCATED",
                    offset,
                    path,
                    f"{size}-byte field needs bytes {offset}..{end - 1}, file has {len(self.data)}",
                )
            )
        value = unpack(self.data, offset)[0] if unpack else self.data[offset:end]
        self.pos = end
        self.fields.append(_new(Field, (path, offset, size, value, doc)))
        rule = schema.FRAMING.get(pattern)
        if rule is not None and not rule[1](value):
            raise _Stop(Finding(rule[0], offset, path, f"{rule[2]}, got {_show(value)}"))
        return value


_new = tuple.__new__


@cache
def _format(fmt: str) -> tuple[Any, int]:
    compiled = struct.Struct(fmt)
    return compiled.unpack_from, compiled.size


_MEMBERS: dict[int, list[tuple[str, str, Any]]] = {}


def _members(st: Struct) -> list[tuple[str, str, Any]]:
    """(name, doc, inner construct) of each member of ``st``, computed once per struct."""
    members = _MEMBERS.get(id(st))
    if members is None:
        members = _MEMBERS[id(st)] = [_unwrap(sub) for sub in st.subcons]
    return members


def _unwrap(con: Any) -> tuple[str, str, Any]:
    """Peel Renamed/Rebuild wrappers: (name, doc, inner construct)."""
    name, doc = "", ""
    while isinstance(con, Renamed | Rebuild):
        if isinstance(con, Renamed):
            name = name or (con.name or "")
            doc = doc or (con.docs or "")
        con = con.subcon
    return name, doc, con


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, bytes) else str(value)


def leaf_fields(st: Struct) -> list[tuple[str, str, str]]:
    """(name, struct format, doc) of each field of a fixed-size record, in order."""
    out = []
    for sub in st.subcons:
        name, doc, inner = _unwrap(sub)
        if isinstance(inner, Const):
            inner = inner.subcon
        if isinstance(inner, FormatField):
            out.append((name, inner.fmtstr[1:], doc))
        elif isinstance(inner, Bytes) and isinstance(inner.length, int):
            out.append((name, f"{inner.length}s", doc))
        else:
            raise TypeError(f"{name}: not a fixed-size leaf field")
    return out


def fast_layout_source() -> str:
    """Source of ``reflexfmt/_fastlayout.py``: struct formats derived from the schema."""

    def fmt(st: Struct) -> tuple[str, tuple[str, ...]]:
        fields = leaf_fields(st)
        return "<" + "".join(f for _, f, _ in fields), tuple(n for n, _, _ in fields)

    def one(st: Struct, name: str) -> str:
        (field,) = [f for f in leaf_fields_any(st) if f[0] == name]
        return "<" + field[1]

    header, header_names = fmt(schema.Header)
    scaling, scaling_names = fmt(schema.Scaling)
    node, node_names = fmt(schema.Node)
    bounds, bounds_names = fmt(schema.Bounds)
    sections = tuple(_unwrap(s)[0] for s in schema.NEM1.subcons)
    crc = "<" + schema.CRC32.fmtstr[1:]
    lines = [
        '"""Struct formats of the NEM1 layout for the fast path of ``loads``.',
        "",
        "Generated from reflexfmt.schema by ``python -m reflexfmt.layout``; do not edit.",
        "tests/fmt/test_fmt_fastpath.py checks that it equals a fresh generation.",
        '"""',
        "",
        f"SECTIONS = {_tuple(sections)}",
        f"HEADER_FORMAT = {_str(header)}",
        f"HEADER_FIELDS = {_tuple(header_names)}",
        f"SCALING_FORMAT = {_str(scaling)}",
        f"SCALING_FIELDS = {_tuple(scaling_names)}",
        f"NODE_COUNT_FORMAT = {_str(one(schema.Tree, 'node_count'))}",
        f"NODE_FORMAT = {_str(node)}",
        f"NODE_FIELDS = {_tuple(node_names)}",
        f"BOUNDS_FORMAT = {_str(bounds)}",
        f"BOUNDS_FIELDS = {_tuple(bounds_names)}",
        f"METADATA_LENGTH_FORMAT = {_str(one(schema.Metadata, 'length'))}",
        f"CRC32_FORMAT = {_str(crc)}",
        "",
    ]
    return "\n".join(lines)


def _tuple(names: tuple[str, ...]) -> str:
    return "(\n" + "".join(f'    "{n}",\n' for n in names) + ")"


def _str(text: str) -> str:
    return f'"{text}"'


def leaf_fields_any(st: Struct) -> list[tuple[str, str]]:
    """(name, struct format) of the fixed-size leaf fields of a record; others are skipped."""
    out = []
    for sub in st.subcons:
        name, _, inner = _unwrap(sub)
        if isinstance(inner, FormatField):
            out.append((name, inner.fmtstr[1:]))
    return out


if __name__ == "__main__":
    import pathlib

    target = pathlib.Path(__file__).with_name("_fastlayout.py")
    target.write_text(fast_layout_source(), encoding="utf-8")
    print(f"wrote {target}")
