"""Reading and validating NEM1 files in the order of spec 9: framing, integrity, semantics."""

from __future__ import annotations

import os
import zlib

from reflexfmt import fastpath
from reflexfmt.errors import Finding, ReflexFormatError
from reflexfmt.limits import MAX_FILE_SIZE
from reflexfmt.model import Reflex


def loads(data: bytes) -> Reflex:
    """Parse and fully validate ``data`` (bytes, a bytes subclass, bytearray or memoryview;
    anything else is TypeError); raise ReflexFormatError with the first error."""
    if type(data) is not bytes:
        data = _bytes(data, "loads")
    reflex = fastpath.load(data)
    if reflex is not None:
        return reflex
    return validating_loads(data)


def fast_loads(data: bytes) -> Reflex | None:
    """The fast path: a Reflex if ``data`` is valid, else None (never raises on bad data)."""
    return fastpath.load(data)


def validating_loads(data: bytes) -> Reflex:
    """The validating path: walk the schema, report the first error with offset and path."""
    from reflexfmt.checks import decoded_walk, semantic_findings, to_reflex
    from reflexfmt.layout import walk as walk_schema

    walk = walk_schema(data)
    if walk.error is not None:
        raise ReflexFormatError.from_finding(walk.error)
    crc = _crc_finding(walk, data)
    if crc is not None:
        raise ReflexFormatError.from_finding(crc)
    decoded = decoded_walk(walk)
    findings, metadata = semantic_findings(decoded, walk.offset, first_only=True)
    if findings:
        raise ReflexFormatError.from_finding(findings[0])
    return to_reflex(decoded, metadata)


def validate(data: bytes) -> list[Finding]:
    """Every finding of spec 9.4 (empty when the file is valid). ``data`` as for ``loads``
    (anything but a bytes-like object is TypeError)."""
    from reflexfmt.checks import decoded_walk, semantic_findings
    from reflexfmt.layout import walk as walk_schema

    data = _bytes(data, "validate")
    walk = walk_schema(data)
    if walk.error is not None:
        return [walk.error]
    decoded = decoded_walk(walk)
    found = []
    crc = _crc_finding(walk, data)
    if crc is not None:
        found.append(crc)
    found.extend(semantic_findings(decoded, walk.offset)[0])
    return found


def _bytes(data: object, caller: str) -> bytes:
    """``data`` as bytes if it is bytes-like (bytes and subclasses, bytearray, memoryview)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{caller}() needs bytes, not {type(data).__name__}")
    return bytes(data)


def load(path: str | os.PathLike[str]) -> Reflex:
    """Read and validate a file; OSError if it cannot be read."""
    return loads(read_file(path))


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``, reading at most one byte more than the file-size limit."""
    with open(path, "rb") as handle:
        return handle.read(MAX_FILE_SIZE + 1)


def _crc_finding(walk: object, data: bytes) -> Finding | None:
    offset = walk.offset("crc32")
    stored = walk.value.crc32
    actual = zlib.crc32(data[:offset])
    if stored == actual:
        return None
    return Finding(
        "E_CRC", offset, "crc32", f"stored CRC-32 0x{stored:08x}, computed 0x{actual:08x}"
    )
