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
            _, sub_doc, inner = unwrap(con.subcon)
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
        members = _MEMBERS[id(st)] = [unwrap(sub) for sub in st.subcons]
    return members


def unwrap(con: Any) -> tuple[str, str, Any]:
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
