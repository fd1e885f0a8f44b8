"""The verdict a parser generated from spec/nem1.ksy gives a file, derived from spec/NEM1.md alone.

A Kaitai Struct parser reads the fields in file order and checks each one as soon as it is
read, with the rules a declarative description can state: the file size (spec 9.1 step 1),
the header (spec 2), each tree's node count (spec 4), each node's fields by rules 1 to 4 of
spec 4.1, the bounds (spec 5), the metadata length (spec 6) and nothing after the checksum
(spec 9.1 step 7). It does not check the CRC-32 (spec 7), the scaling values (spec 3), orphan
nodes and the depth (spec 4.1 rules 5 and 6) or the metadata bytes (spec 6.1): those remain
for the reader's own checks. A field that does not fit is the runtime's end-of-stream error.

`tools/gen_vectors.py` writes this verdict into the manifest (`kaitai`); the tests check the
generated parsers against it. Like the generator, this module does not use `reflexfmt`.
"""

from __future__ import annotations

import struct

MAX_FILE_SIZE = 131072  # spec 8
MAGIC = b"NEM1"  # spec 2
LEAF = 0xFF  # spec 4.1
OUTPUT_MIN_FLOOR = (1, 0)  # spec 5: lowest legal `min` of output 0 (packets), 1 (µs)
# Kaitai's error class names (the same in every runtime that has the class).
EOF = "EOFError"
NOT_EQUAL = "ValidationNotEqualError"
LESS_THAN = "ValidationLessThanError"
GREATER_THAN = "ValidationGreaterThanError"
EXPR = "ValidationExprError"


class KaitaiReject(Exception):
    """A Kaitai parser stops with `error` at the field `path` (spec appendix B)."""

    def __init__(self, error: str, path: str) -> None:
        super().__init__(f"{error} at {path}")
        self.error, self.path = error, path


class _Fields:
    """Reads fields in file order and checks them as the .ksy's `valid` keys do."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, path: str, fmt: str) -> int | float | bytes:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise KaitaiReject(EOF, path)
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return value

    def equal(self, path: str, fmt: str, want: int | bytes) -> int | bytes:
        value = self.read(path, fmt)
        if value != want:
            raise KaitaiReject(NOT_EQUAL, path)
        return value

    def within(self, path: str, fmt: str, lo: int | None, hi: int | None) -> int:
        value = self.read(path, fmt)
        if lo is not None and value < lo:
            raise KaitaiReject(LESS_THAN, path)
        if hi is not None and value > hi:
            raise KaitaiReject(GREATER_THAN, path)
        return value

    def check(self, path: str, fmt: str, rule) -> int:
        value = self.read(path, fmt) if fmt else None
        if not rule(value):
            raise KaitaiReject(EXPR, path)
        return value


def _node(r: _Fields, path: str, i: int, count: int, features: int) -> None:
    """Spec 4.1 rules 1-4: reserved fields 0, feature index or leaf, children after i."""
    feature = r.check(f"{path}.feature", "B", lambda f: f < features or f == LEAF)
    leaf = feature == LEAF
    r.equal(f"{path}.reserved", "B", 0)
    r.check(f"{path}.threshold", "h", lambda t: not leaf or t == 0)
    for name in ("left", "right"):
        r.check(f"{path}.{name}", "H", lambda c: c == 0 if leaf else i < c < count)
    r.check(f"{path}.value", "h", lambda v: leaf or v == 0)


def _walk(data: bytes) -> None:
    r = _Fields(data)
    r.check("file", "", lambda _: len(data) <= MAX_FILE_SIZE)
    r.equal("header.magic", "4s", MAGIC)
    r.equal("header.version_major", "B", 1)
    r.read("header.version_minor", "B")
    r.equal("header.flags", "H", 0)
    features = r.equal("header.feature_count", "B", 10)
    outputs = r.equal("header.output_count", "B", 2)
    r.within("header.q_scale", "H", 1, 32767)
    r.within("header.confirm_steps", "B", 1, 100)
    r.equal("header.reserved", "B", 0)
    r.within("header.dwell_steps", "H", None, 6000)
    for i in range(features):
        r.read(f"scaling[{i}].lo", "d")
        r.read(f"scaling[{i}].hi", "d")
    for o in range(outputs):
        count = r.within(f"trees[{o}].node_count", "H", 1, 255)
        for i in range(count):
            _node(r, f"trees[{o}].nodes[{i}]", i, count, features)
    for o in range(outputs):
        low = r.within(f"bounds[{o}].min", "h", OUTPUT_MIN_FLOOR[o], None)
        r.within(f"bounds[{o}].max", "h", low, None)
    length = r.within("metadata.length", "I", None, 65536)
    r.read("metadata.yaml", f"{length}s")
    r.read("crc32", "I")
    r.check("trailing", "", lambda _: r.pos == len(data))


def verdict(data: bytes) -> dict[str, str] | None:
    """None if a parser generated from spec/nem1.ksy reads `data` without error; otherwise
    `{"error": Kaitai error class, "field": field path}` of the first check that fails."""
    try:
        _walk(data)
    except KaitaiReject as reject:
        return {"error": reject.error, "field": reject.path}
    return None
