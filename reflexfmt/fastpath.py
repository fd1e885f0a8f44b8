"""Fast framing for ``loads``: struct formats generated from the schema, no construct import.

``decode`` returns the decoded field values of a file that passes every framing (spec 9.1) and
integrity (9.2) check, and ``None`` for anything else; the caller then runs the validating
walker, which names the exact error. tests/test_fmt_fastpath.py proves on many valid and
corrupted files that this path accepts only what the validating path accepts, with equal
results.
"""

from __future__ import annotations

import struct
import zlib

from reflexfmt import _fastlayout as L
from reflexfmt.checks import Decoded
from reflexfmt.limits import (
    FEATURE_COUNT,
    MAGIC,
    MAX_FILE_SIZE,
    MAX_METADATA,
    MAX_NODES,
    MIN_NODES,
    OUTPUT_COUNT,
    VERSION_MAJOR,
)

# The code below relies on this section order; the generated layout must agree.
if L.SECTIONS != ("header", "scaling", "trees", "bounds", "metadata", "crc32"):
    raise ImportError("reflexfmt._fastlayout is stale: run python -m reflexfmt.layout")

_HEAD = struct.Struct(L.HEADER_FORMAT + L.SCALING_FORMAT[1:] * FEATURE_COUNT)
_HEADER_LEN = len(L.HEADER_FIELDS)
_COUNT = struct.Struct(L.NODE_COUNT_FORMAT)
_NODE = struct.Struct(L.NODE_FORMAT)
_BOUNDS = struct.Struct(L.BOUNDS_FORMAT + L.BOUNDS_FORMAT[1:] * (OUTPUT_COUNT - 1))
_LENGTH = struct.Struct(L.METADATA_LENGTH_FORMAT)
_CRC = struct.Struct(L.CRC32_FORMAT)


def decode(data: bytes) -> Decoded | None:
    """Framed and CRC-checked field values of ``data``, or None if any such check fails."""
    size = len(data)
    if size > MAX_FILE_SIZE or size < _HEAD.size:
        return None
    head = _HEAD.unpack_from(data, 0)
    header = dict(zip(L.HEADER_FIELDS, head[:_HEADER_LEN], strict=True))
    if (
        header["magic"] != MAGIC
        or header["version_major"] != VERSION_MAJOR
        or header["feature_count"] != FEATURE_COUNT
        or header["output_count"] != OUTPUT_COUNT
    ):
        return None
    values = head[_HEADER_LEN:]
    scaling = list(zip(values[0::2], values[1::2], strict=True))
    pos = _HEAD.size
    trees = []
    for _ in range(OUTPUT_COUNT):
        if pos + _COUNT.size > size:
            return None
        (count,) = _COUNT.unpack_from(data, pos)
        pos += _COUNT.size
        end = pos + count * _NODE.size
        if not MIN_NODES <= count <= MAX_NODES or end > size:
            return None
        trees.append(list(_NODE.iter_unpack(data[pos:end])))
        pos = end
    if pos + _BOUNDS.size + _LENGTH.size > size:
        return None
    b = _BOUNDS.unpack_from(data, pos)
    pos += _BOUNDS.size
    (length,) = _LENGTH.unpack_from(data, pos)
    pos += _LENGTH.size
    if length > MAX_METADATA or pos + length + _CRC.size != size:
        return None
    yaml = data[pos : pos + length]
    pos += length
    if _CRC.unpack_from(data, pos)[0] != zlib.crc32(memoryview(data)[:pos]):
        return None
    return Decoded(header, scaling, trees, list(zip(b[0::2], b[1::2], strict=True)), bytes(yaml))
