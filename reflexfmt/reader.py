"""Reading and validating NEM1 files in the order of spec 9: framing, integrity, semantics."""

from __future__ import annotations

import os
import zlib

from reflexfmt import fastpath
from reflexfmt.checks import NODE_FIELDS, Decoded, semantic_findings
from reflexfmt.errors import Finding, ReflexFormatError
from reflexfmt.limits import MAX_FILE_SIZE
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex


def loads(data: bytes) -> Reflex:
    """Parse and fully validate ``data``; raise ReflexFormatError with the first error."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"loads() needs bytes, not {type(data).__name__}")
    data = bytes(data)
    reflex = fast_loads(data)
    if reflex is not None:
        return reflex
    return validating_loads(data)


def fast_loads(data: bytes) -> Reflex | None:
    """The fast path: a Reflex if ``data`` is valid, else None (never raises on bad data)."""
    decoded = fastpath.decode(data)
    if decoded is None:
        return None
    findings, metadata = semantic_findings(decoded, _no_offset, first_only=True)
    if findings or metadata is None:
        return None
    return _to_reflex(decoded, metadata)


def validating_loads(data: bytes) -> Reflex:
    """The validating path: walk the schema, report the first error with offset and path."""
    from reflexfmt.layout import walk as walk_schema

    walk = walk_schema(data)
    if walk.error is not None:
        raise ReflexFormatError.from_finding(walk.error)
    crc = _crc_finding(walk, data)
    if crc is not None:
        raise ReflexFormatError.from_finding(crc)
    decoded = _decoded(walk)
    findings, metadata = semantic_findings(decoded, walk.offset, first_only=True)
    if findings:
        raise ReflexFormatError.from_finding(findings[0])
    return _to_reflex(decoded, metadata)


def validate(data: bytes) -> list[Finding]:
    """Every finding of spec 9.4 (empty when the file is valid)."""
    data = bytes(data)
    walk, decoded = _frame(data)
    if walk.error is not None:
        return [walk.error]
    found = []
    crc = _crc_finding(walk, data)
    if crc is not None:
        found.append(crc)
    found.extend(semantic_findings(decoded, walk.offset)[0])
    return found


def load(path: str | os.PathLike[str]) -> Reflex:
    """Read and validate a file; OSError if it cannot be read."""
    return loads(read_file(path))


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``, reading at most one byte more than the file-size limit."""
    with open(path, "rb") as handle:
        return handle.read(MAX_FILE_SIZE + 1)


def _no_offset(path: str) -> int:
    return -1


def _frame(data: bytes) -> tuple[object, Decoded | None]:
    from reflexfmt.layout import walk

    w = walk(data)
    return w, None if w.error is not None else _decoded(w)


def _decoded(w: object) -> Decoded:
    v = w.value
    return Decoded(
        header=dict(v.header),
        scaling=[(s["lo"], s["hi"]) for s in v.scaling],
        trees=[[tuple(n[f] for f in NODE_FIELDS) for n in t.nodes] for t in v.trees],
        bounds=[(b["min"], b["max"]) for b in v.bounds],
        yaml=v.metadata.yaml,
    )


def _crc_finding(walk: object, data: bytes) -> Finding | None:
    offset = walk.offset("crc32")
    stored = walk.value.crc32
    actual = zlib.crc32(data[:offset])
    if stored == actual:
        return None
    return Finding(
        "E_CRC", offset, "crc32", f"stored CRC-32 0x{stored:08x}, computed 0x{actual:08x}"
    )


_new = tuple.__new__
if Node._fields != tuple(n for n in NODE_FIELDS if n != "reserved"):
    raise ImportError("Node fields do not match the decoded node layout")


def _tree(nodes: list[tuple[int, ...]]) -> tuple[Node, ...]:
    return tuple([_new(Node, (f, t, lt, rt, v)) for f, _, t, lt, rt, v in nodes])


def _to_reflex(d: Decoded, metadata: dict[str, object]) -> Reflex:
    h = d.header
    return Reflex(
        scaling=tuple([_new(FeatureScale, s) for s in d.scaling]),
        trees=tuple([_tree(tree) for tree in d.trees]),
        bounds=tuple([_new(OutputBounds, b) for b in d.bounds]),
        metadata=metadata,
        q_scale=h["q_scale"],
        confirm_steps=h["confirm_steps"],
        dwell_steps=h["dwell_steps"],
        version_minor=h["version_minor"],
    )
