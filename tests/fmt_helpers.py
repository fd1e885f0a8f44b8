"""Helpers for the format tests: patch a field of a valid file by its schema path."""

from __future__ import annotations

import struct
import zlib

from reflexfmt.layout import walk


def field_at(data: bytes, path: str):
    """The walker's Field for ``path`` (offsets come from the schema, never by hand)."""
    for f in walk(data).fields:
        if f.path == path:
            return f
    raise KeyError(path)


def with_crc(body: bytes) -> bytes:
    """``body`` (everything but the checksum) followed by its CRC-32."""
    return body + struct.pack("<I", zlib.crc32(body))


def patch(data: bytes, path: str, fmt: str, value: object, fix_crc: bool = True) -> bytes:
    """``data`` with the field at ``path`` overwritten by ``struct.pack(fmt, value)``."""
    f = field_at(data, path)
    raw = struct.pack(fmt, value)
    if len(raw) != f.size:
        raise ValueError(f"{path} is {f.size} bytes, {fmt} packs {len(raw)}")
    out = data[: f.offset] + raw + data[f.offset + f.size :]
    return with_crc(out[:-4]) if fix_crc else out
