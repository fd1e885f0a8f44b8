"""The NEM1 byte layout as one declarative construct schema: the single source of truth.

Every record cites the spec/NEM1.md section it implements. The reader's validating walker
(``reflexfmt.layout``), the hexdump and the pretty-printer walk these definitions; the fast
path, the checks, the model, the JSON shape and the writer read the struct formats and field
names generated from them (``reflexfmt.structs``, ``python -m reflexfmt.structgen``); no other
module hand-writes an offset, a width or the order of a record's fields. Framing checks
(spec 9.1) are attached to fields in ``FRAMING``.

Top-level construct: ``NEM1`` (flat: header, scaling, trees, bounds, metadata, crc32).
``NEM1_CHECKED`` wraps the same fields with construct's ``RawCopy`` + ``Checksum`` idiom so that
``build`` computes the CRC-32 of spec 7 over every preceding byte; the writer uses it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from construct import (
    Array,
    Bytes,
    Checksum,
    Const,
    Float64l,
    Int8ul,
    Int16sl,
    Int16ul,
    Int32ul,
    RawCopy,
    Rebuild,
    Struct,
    len_,
    this,
)

from reflexfmt.limits import (
    FEATURE_COUNT,
    MAGIC,
    MAX_METADATA,
    MAX_NODES,
    MIN_NODES,
    OUTPUT_COUNT,
    VERSION_MAJOR,
)

# Spec 2: header, 16 bytes.
Header = Struct(
    "magic" / Const(MAGIC) * "File signature NEM1 (spec 2)",
    "version_major" / Int8ul * "Major version, must be 1 (spec 2.1)",
    "version_minor" / Int8ul * "Minor version, any value, kept on rewrite (spec 2.1)",
    "flags" / Int16ul * "Reserved, 0 (spec 2)",
    "feature_count" / Int8ul * "Number of input features, 10 (spec 2)",
    "output_count" / Int8ul * "Number of outputs = trees, 2 (spec 2)",
    "q_scale" / Int16ul * "Top of the int16 feature grid Q, 1..32767 (spec 2, 10)",
    "confirm_steps" / Int8ul * "Steps a new decision must persist, 1..100 (spec 2, 11)",
    "reserved" / Int8ul * "Reserved, 0 (spec 2)",
    "dwell_steps" / Int16ul * "Minimum steps a policy stays active, 0..6000 (spec 2, 11)",
)

# Spec 3: one feature-scaling record, 16 bytes.
Scaling = Struct(
    "lo" / Float64l * "Raw value mapped to grid value 0 (spec 3)",
    "hi" / Float64l * "Raw value mapped to grid value Q (spec 3)",
)

# Spec 4.1: one tree node, 10 bytes.
Node = Struct(
    "feature" / Int8ul * "Feature index of an internal node, or 0xFF for a leaf (spec 4.1)",
    "reserved" / Int8ul * "Reserved, 0 (spec 4.1)",
    "threshold" / Int16sl * "q <= threshold goes left; 0 in a leaf (spec 4.1)",
    "left" / Int16ul * "Left child index; 0 in a leaf (spec 4.1)",
    "right" / Int16ul * "Right child index; 0 in a leaf (spec 4.1)",
    "value" / Int16sl * "Leaf output value; 0 in an internal node (spec 4.1)",
)

# Spec 4: one tree.
Tree = Struct(
    "node_count" / Rebuild(Int16ul, len_(this.nodes)) * "Number of nodes, 1..255 (spec 4)",
    "nodes" / Array(this.node_count, Node) * "Nodes, node 0 is the root (spec 4.1)",
)

# Spec 5: one output's bounds, 4 bytes.
Bounds = Struct(
    "min" / Int16sl * "Lowest output value (spec 5)",
    "max" / Int16sl * "Highest output value (spec 5)",
)

# Spec 6: metadata, length-prefixed canonical YAML.
Metadata = Struct(
    "length" / Rebuild(Int32ul, len_(this.yaml)) * "Metadata byte count, 0..65536 (spec 6)",
    "yaml" / Bytes(this.length) * "Canonical NEM1 YAML, UTF-8 (spec 6.1)",
)

_BODY = (
    "header" / Header * "Header (spec 2)",
    "scaling" / Array(this.header.feature_count, Scaling) * "Feature scaling (spec 3)",
    "trees" / Array(this.header.output_count, Tree) * "One tree per output (spec 4)",
    "bounds" / Array(this.header.output_count, Bounds) * "Bounds per output (spec 5)",
    "metadata" / Metadata * "Metadata (spec 6)",
)
Body = Struct(*_BODY)

# Spec 7: CRC-32 (zlib polynomial) of every byte before it, little-endian.
CRC32 = Int32ul

NEM1 = Struct(*_BODY, "crc32" / CRC32 * "CRC-32 of every preceding byte (spec 7)")

NEM1_CHECKED = Struct(
    "body" / RawCopy(Body),
    "crc32" / Checksum(CRC32, lambda data: zlib.crc32(data), this.body.data),
)

# Spec 9.1: framing checks, made as soon as the field is read, keyed by index-free field path.
FramingRule = tuple[str, Callable[[Any], bool], str]
FRAMING: dict[str, FramingRule] = {
    "header.magic": ("E_MAGIC", lambda v: v == MAGIC, "the file does not start with NEM1"),
    "header.version_major": (
        "E_VERSION",
        lambda v: v == VERSION_MAJOR,
        f"unsupported major version (this reader implements {VERSION_MAJOR})",
    ),
    "header.feature_count": (
        "E_COUNT",
        lambda v: v == FEATURE_COUNT,
        f"feature_count must be {FEATURE_COUNT}",
    ),
    "header.output_count": (
        "E_COUNT",
        lambda v: v == OUTPUT_COUNT,
        f"output_count must be {OUTPUT_COUNT}",
    ),
    "trees.node_count": (
        "E_LIMIT",
        lambda v: MIN_NODES <= v <= MAX_NODES,
        f"node_count must be {MIN_NODES}..{MAX_NODES}",
    ),
    "metadata.length": (
        "E_LIMIT",
        lambda v: v <= MAX_METADATA,
        f"metadata length must be at most {MAX_METADATA}",
    ),
}
