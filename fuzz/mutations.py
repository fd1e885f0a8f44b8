"""Structure-aware mutations of NEM1 files, shared by the hypothesis tests and the fuzz tools.

Seeds are the conformance vectors (spec/vectors/). A mutation is a byte flip, a splice of two
files, an insertion or deletion, a truncation, a size/count field set to a huge or boundary
value, or an edit of the metadata text; afterwards the CRC may be recomputed so that the
mutation reaches the semantic checks instead of stopping at E_CRC.
"""

from __future__ import annotations

import json
import struct
import zlib
from functools import cache
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "spec" / "vectors"
# Values a size, count or header field is set to: boundaries and huge values.
HUGE = (0, 1, 2, 9, 10, 11, 127, 128, 254, 255, 256, 32767, 32768, 65535, 65536, 65537)
HUGE += (131072, 2**31 - 1, 2**31, 2**32 - 1)
# Pieces of the canonical YAML profile and near misses, spliced into the metadata text.
YAML_TOKENS = tuple(
    bytes.fromhex(h)
    for h in "0a 20 3a 22 5c 5c78 5c75 30 2d 2e 652b 652d 5b 5d 2c20 7b7d 74727565 6e756c6c "
    "796573 c3 e280a8 00 09 312e30652b3136 39323233333732303336383534373735383038 2020613a0a "
    "7a3a20310a".split()
)


@cache
def seeds() -> tuple[bytes, ...]:
    """Every vector's bytes, accepted ones first (in manifest order)."""
    manifest = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
    ordered = sorted(manifest["vectors"], key=lambda v: v["result"] != "accept")
    return tuple((VECTORS / v["file"]).read_bytes() for v in ordered)


@cache
def accepted_seeds() -> tuple[bytes, ...]:
    manifest = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
    return tuple(
        (VECTORS / v["file"]).read_bytes() for v in manifest["vectors"] if v["result"] == "accept"
    )


def fields(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the count and length fields of a well-framed file, else []."""
    out = [(8, 1), (9, 1), (10, 2), (12, 1), (14, 2)]
    pos = 176
    try:
        for _ in range(2):
            (count,) = struct.unpack_from("<H", data, pos)
            out.append((pos, 2))
            out += [(pos + 2 + 10 * i + k, 2) for i in range(count) for k in (2, 4, 6, 8)]
            pos += 2 + 10 * count
        out += [(pos, 2), (pos + 2, 2), (pos + 4, 2), (pos + 6, 2), (pos + 8, 4)]
    except struct.error:
        return out
    return out


def metadata_span(data: bytes) -> tuple[int, int] | None:
    """(start, end) of the metadata bytes of a well-framed file."""
    pos = 176
    try:
        for _ in range(2):
            pos += 2 + 10 * struct.unpack_from("<H", data, pos)[0]
        (length,) = struct.unpack_from("<I", data, pos + 8)
    except struct.error:
        return None
    start = pos + 12
    return (start, start + length) if start + length <= len(data) else None


def fix_crc(data: bytes) -> bytes:
    """Recompute the trailing CRC-32 over everything before it."""
    if len(data) < 4:
        return data
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


@st.composite
def flips(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds())))
    if not data:
        return bytes(data)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] ^= draw(st.integers(1, 255))
    return bytes(data)


@st.composite
def splices(draw: st.DrawFn) -> bytes:
    a, b = draw(st.sampled_from(seeds())), draw(st.sampled_from(seeds()))
    i, j = draw(st.integers(0, len(a))), draw(st.integers(0, len(b)))
    return a[:i] + b[j:]


@st.composite
def inserts_and_deletes(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(seeds()))
    i = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        return data[:i] + draw(st.binary(min_size=1, max_size=12)) + data[i:]
    return data[:i] + data[i + draw(st.integers(1, 12)) :]


@st.composite
def huge_fields(draw: st.DrawFn) -> bytes:
    """A count, length or header field set to a boundary or huge value."""
    data = bytearray(draw(st.sampled_from(accepted_seeds())))
    at, size = draw(st.sampled_from(fields(bytes(data))))
    value = draw(st.sampled_from(HUGE)) % (1 << (8 * size))
    data[at : at + size] = value.to_bytes(size, "little")
    return bytes(data)


@st.composite
def metadata_edits(draw: st.DrawFn) -> bytes:
    """Replace a slice of the metadata text with YAML-ish tokens, keeping the length field true."""
    data = draw(st.sampled_from(accepted_seeds()))
    start, end = metadata_span(data)
    i = draw(st.integers(start, end))
    j = draw(st.integers(i, min(end, i + 8)))
    new = b"".join(draw(st.lists(st.sampled_from(YAML_TOKENS), min_size=0, max_size=3)))
    text = data[start:i] + new + data[j:end]
    length_at = start - 4
    return data[:length_at] + struct.pack("<I", len(text)) + text + data[end:]


def mutated() -> st.SearchStrategy[bytes]:
    """Any mutation, then (usually) a recomputed CRC so the semantic checks are reached."""
    base = st.one_of(flips(), splices(), inserts_and_deletes(), huge_fields(), metadata_edits())
    return st.tuples(base, st.booleans(), st.integers(0, 3)).map(
        lambda t: fix_crc(t[0]) if t[1] or t[2] else t[0]
    )
