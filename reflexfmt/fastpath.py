"""The fast path of ``loads``: every check of spec 9 in a few C-level calls, no construct.

``load`` returns the Reflex of a file that passes every framing (9.1), integrity (9.2) and
semantic (9.3, metadata included) check, and ``None`` for anything else; the caller then runs
the validating path (schema walker and ``checks.semantic_findings``), which names the exact
error. The checks here are a second implementation of the same rules, written for speed (struct
unpacks, one regular expression per node array, slices and sorts instead of Python loops);
tests/fmt/test_fmt_fastpath.py proves on many valid and corrupted files, and node by node on random
trees, that both implementations accept exactly the same files with equal results.
"""

from __future__ import annotations

import re
import struct
import zlib
from functools import cache
from itertools import compress, repeat
from math import isfinite
from operator import ge, itemgetter, le, sub

from reflexfmt import structs as L
from reflexfmt.limits import (
    CONFIRM_STEPS_RANGE,
    DWELL_STEPS_RANGE,
    FEATURE_COUNT,
    LEAF,
    MAGIC,
    MAX_FILE_SIZE,
    MAX_METADATA,
    MAX_NODES,
    MAX_TREE_DEPTH,
    MIN_NODES,
    OUTPUT_COUNT,
    OUTPUT_MIN_FLOOR,
    Q_SCALE_RANGE,
    VERSION_MAJOR,
)
from reflexfmt.metadata import MetadataError, parse
from reflexfmt.metadata_keys import required_keys_hold
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex

# Everything below is derived from the generated layout (reflexfmt.structs): the sections
# follow each other in this order, each record is one struct.
assert L.SECTIONS == ("header", "scaling", "trees", "bounds", "metadata", "crc32")
assert Node._fields == L.NODE_VALUE_FIELDS
_HEAD = struct.Struct(L.HEADER_FORMAT + L.SCALING_FORMAT[1:] * FEATURE_COUNT)
_HEADER_LEN = len(L.HEADER_FIELDS)
_header = itemgetter(*map(L.HEADER_FIELDS.index, (
    "magic", "version_major", "version_minor", "flags", "feature_count", "output_count",
    "q_scale", "confirm_steps", "reserved", "dwell_steps",
)))
_SCALING_LEN = len(L.SCALING_FIELDS)
_LO = _HEADER_LEN + L.SCALING_FIELDS.index("lo")
_HI = _HEADER_LEN + L.SCALING_FIELDS.index("hi")
_COUNT = struct.Struct(L.NODE_COUNT_FORMAT)
_NODE_SIZE = struct.calcsize(L.NODE_FORMAT)
# A node with every field but `left` and `right` skipped, for the child checks.
_CHILDREN_FORMAT = "".join(
    code if name in ("left", "right") else f"{struct.calcsize('<' + code)}x"
    for name, code in zip(L.NODE_FIELDS, L.NODE_CODES, strict=True)
)
_LEFTS = slice(int(L.NODE_FIELDS.index("left") > L.NODE_FIELDS.index("right")), None, 2)
_RIGHTS = slice(int(L.NODE_FIELDS.index("right") > L.NODE_FIELDS.index("left")), None, 2)
_BOUNDS_LEN = len(L.BOUNDS_FIELDS)
_TAIL = struct.Struct(L.BOUNDS_FORMAT + L.BOUNDS_FORMAT[1:] * (OUTPUT_COUNT - 1)
                      + L.METADATA_LENGTH_FORMAT[1:])
_MINS = slice(L.BOUNDS_FIELDS.index("min"), _BOUNDS_LEN * OUTPUT_COUNT, _BOUNDS_LEN)
_MAXS = slice(L.BOUNDS_FIELDS.index("max"), _BOUNDS_LEN * OUTPUT_COUNT, _BOUNDS_LEN)
_CRC = struct.Struct(L.CRC32_FORMAT)

# Spec 4.1 rules 1 and 2 for a whole node array in one call: a leaf (feature 0xFF) has zero
# reserved, threshold, left and right; an internal node has a feature below feature_count and
# zero reserved and value.
_NODES_OK = re.compile(
    b"(?:%s|%s)*+" % (L.NODE_LEAF_PATTERN, L.NODE_INTERNAL_PATTERN), re.DOTALL
).fullmatch
_LEAF_BYTE = LEAF & 0xFF  # the `feature` byte at NODE_FEATURE_OFFSET (little-endian)
_INTERNAL = bytes(int(b != _LEAF_BYTE) for b in range(256))  # table over that byte
_new = tuple.__new__


def load(data: bytes) -> Reflex | None:
    """The Reflex of ``data`` if it passes every check of spec 9, else None."""
    size = len(data)
    if size > MAX_FILE_SIZE or size < _HEAD.size:
        return None
    head = _HEAD.unpack_from(data, 0)
    magic, major, minor, flags, features, outputs, q_scale, confirm, reserved, dwell = _header(
        head
    )
    if magic != MAGIC or major != VERSION_MAJOR or features != FEATURE_COUNT:
        return None
    if outputs != OUTPUT_COUNT:
        return None
    pos = _HEAD.size
    trees = []
    for _ in range(OUTPUT_COUNT):
        if pos + _COUNT.size > size:
            return None
        (n,) = _COUNT.unpack_from(data, pos)
        pos += _COUNT.size
        end = pos + n * _NODE_SIZE
        if not MIN_NODES <= n <= MAX_NODES or end > size:
            return None
        trees.append((pos, end, n))
        pos = end
    if pos + _TAIL.size > size:
        return None
    tail = _TAIL.unpack_from(data, pos)
    length = tail[-1]
    pos += _TAIL.size
    if length > MAX_METADATA or pos + length + _CRC.size != size:
        return None
    view = memoryview(data)
    if _CRC.unpack_from(data, pos + length)[0] != zlib.crc32(view[: pos + length]):
        return None
    # Phase 3, in the spec's order (the order only matters for which error is named, and the
    # validating path names it).
    if (
        flags
        or reserved
        or not Q_SCALE_RANGE[0] <= q_scale <= Q_SCALE_RANGE[1]
        or not CONFIRM_STEPS_RANGE[0] <= confirm <= CONFIRM_STEPS_RANGE[1]
        or not DWELL_STEPS_RANGE[0] <= dwell <= DWELL_STEPS_RANGE[1]
    ):
        return None
    los, his = head[_LO::_SCALING_LEN], head[_HI::_SCALING_LEN]
    if not (all(map(le, los, his)) and all(map(isfinite, map(sub, his, los)))):
        return None
    nodes = []
    for start, end, n in trees:
        tree = tree_nodes(data, start, end, n)
        if tree is None:
            return None
        nodes.append(tree)
    mins, maxs = tail[_MINS], tail[_MAXS]
    if not (all(map(le, mins, maxs)) and all(map(ge, mins, OUTPUT_MIN_FLOOR))):
        return None
    try:
        metadata = parse(data[pos : pos + length])
    except MetadataError:
        return None
    if not required_keys_hold(metadata):
        return None
    return Reflex.from_node_arrays(
        tuple(map(_new, repeat(FeatureScale, FEATURE_COUNT), zip(los, his, strict=True))),
        tuple(nodes),
        tuple(map(_new, repeat(OutputBounds, OUTPUT_COUNT), zip(mins, maxs, strict=True))),
        metadata,
        q_scale,
        confirm,
        dwell,
        minor,
    )


def tree_nodes(data: bytes, start: int, end: int, n: int) -> bytes | None:
    """The node array ``data[start:end]`` of ``n`` nodes if it passes spec 4.1 rules 1-6,
    else None.

    Rules 1-2 are one regular expression over the node array. With ``(n + 1) / 2`` leaves
    there are ``n - 1`` child slots, so rule 5 holds iff every node but the root is claimed.
    One loop over the internal nodes in index order checks that both children come after
    their parent (rules 3-4; an index >= n fails the list lookup) and sets their depths from
    the parent's; a node never claimed keeps depth -1 (its parent would have come before it).
    The deepest depth is checked last (rule 6).
    """
    features = data[start + L.NODE_FEATURE_OFFSET : end : _NODE_SIZE]
    if not _NODES_OK(data, start, end) or 2 * features.count(_LEAF_BYTE) != n + 1:
        return None
    children = _children_struct(n).unpack_from(data, start)
    internal = features.translate(_INTERNAL)
    depth = [-1] * n
    depth[0] = 0
    try:
        for i, left, right in zip(
            compress(range(n), internal),
            compress(children[_LEFTS], internal),
            compress(children[_RIGHTS], internal),
            strict=True,
        ):
            if left <= i or right <= i:
                return None
            depth[left] = depth[right] = depth[i] + 1
    except IndexError:
        return None
    if -1 in depth or max(depth) > MAX_TREE_DEPTH:
        return None
    return data[start:end]


@cache
def _children_struct(n: int) -> struct.Struct:
    """Unpacks the (left, right) of each of ``n`` nodes, node after node (n <= MAX_NODES)."""
    return struct.Struct("<" + _CHILDREN_FORMAT * n)
