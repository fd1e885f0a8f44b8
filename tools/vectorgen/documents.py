"""Documents of the conformance vectors: header defaults, tree builders expanded into node
lists, the byte layout of every field (spec 2, 4, appendix B), the encoding, and the
description's "set" overrides and byte patches. Spec-only: no reflexfmt import."""

from __future__ import annotations

import copy
import re
import struct
import zlib
from typing import Any

from .canonical import emit_yaml, metadata_bytes, to_float

LEAF = 0xFF
REQUIRED_KEYS = ("created_at", "telemetry_hash", "trainer_commit", "lambda", "feature_schema")
HEADER_FIELDS = (  # spec 2: name, offset, struct format
    ("magic", 0, "4s"),
    ("version_major", 4, "B"),
    ("version_minor", 5, "B"),
    ("flags", 6, "H"),
    ("feature_count", 8, "B"),
    ("output_count", 9, "B"),
    ("q_scale", 10, "H"),
    ("confirm_steps", 12, "B"),
    ("reserved", 13, "B"),
    ("dwell_steps", 14, "H"),
)
NODE_FIELDS = (  # spec 4.1
    ("feature", 0, "B"),
    ("reserved", 1, "B"),
    ("threshold", 2, "h"),
    ("left", 4, "H"),
    ("right", 6, "H"),
    ("value", 8, "h"),
)
HEADER_DEFAULTS = {
    "magic": "NEM1",
    "version_major": 1,
    "version_minor": 0,
    "flags": 0,
    "feature_count": 10,
    "output_count": 2,
    "q_scale": 32767,
    "confirm_steps": 1,
    "reserved": 0,
    "dwell_steps": 0,
}


# ---- Documents: expansion, layout and encoding ----------------------------------------------


def _shape_balanced(depth: int) -> Any:
    return 0 if depth == 0 else [_shape_balanced(depth - 1), _shape_balanced(depth - 1)]


def _deepen(shape: Any) -> Any:
    """Complete depth-7 shape -> 255 nodes of depth 8: fold the last depth-6 split, grow one."""
    shape = copy.deepcopy(shape)
    node = shape
    for _ in range(5):
        node = node[1]
    node[1] = 0  # rightmost depth-6 split becomes a leaf: -2 nodes
    node = shape
    for _ in range(6):
        node = node[0]
    node[0] = [0, 0]  # leftmost depth-7 leaf becomes a split: +2 nodes, depth 8
    return shape


def _number(shape: Any, seed: int, q_scale: int) -> list[list[int]]:
    """Breadth-first numbering of a shape (children follow parents) with varied splits."""
    order: list[Any] = [shape]
    children: dict[int, tuple[int, int]] = {}
    i = 0
    while i < len(order):
        s = order[i]
        if isinstance(s, list):
            children[i] = (len(order), len(order) + 1)
            order.extend(s)
        i += 1
    nodes = []
    for i, s in enumerate(order):
        k = i * 7919 + seed * 104729
        if isinstance(s, list):
            threshold = (k % 1009) * (q_scale + 1) // 1009 - (1 if k % 13 == 0 else 0)
            nodes.append([k % 10, threshold, *children[i], 0])
        else:
            nodes.append([LEAF, 0, 0, 0, k % 140 - 5])
    return nodes


def expand(doc: dict[str, Any]) -> dict[str, Any]:
    """Fill header defaults and expand tree builders into node lists."""
    doc = copy.deepcopy(doc)
    doc["header"] = {**HEADER_DEFAULTS, **doc.get("header", {})}
    q_scale = doc["header"]["q_scale"]
    trees = []
    for o, tree in enumerate(doc["trees"]):
        if isinstance(tree, dict):
            shape = _shape_balanced(tree["balanced"])
            if tree.get("deepen"):
                shape = _deepen(shape)
            tree = _number(shape, tree.get("seed", o), q_scale)
        trees.append(tree)
    doc["trees"] = trees
    if "metadata" in doc and "pad_to" in doc:
        doc["metadata"] = _padded(doc["metadata"], doc.pop("pad_to"))
    return doc


def _padded(metadata: dict[str, Any], size: int) -> dict[str, Any]:
    """Add a `zz_padding` string that makes the canonical YAML exactly `size` bytes."""
    base = len(emit_yaml({**metadata, "zz_padding": ""}).encode())
    return {**metadata, "zz_padding": "x" * (size - base)}


def _key_line(meta: bytes, key: str) -> int:
    """Spec appendix B: offset of a top-level key's line, or 0 (the metadata's first byte)."""
    head = key.encode() + b":"
    if meta.startswith(head):
        return 0
    at = meta.find(b"\n" + head)
    return at + 1 if at >= 0 else 0


def layout(doc: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Field path -> (offset, struct format) for an expanded document."""
    fields: dict[str, tuple[int, str]] = {}
    for name, off, fmt in HEADER_FIELDS:
        fields[f"header.{name}"] = (off, fmt)
    for i in range(10):
        fields[f"scaling[{i}]"] = (16 + 16 * i, "d")
        fields[f"scaling[{i}].lo"] = (16 + 16 * i, "d")
        fields[f"scaling[{i}].hi"] = (24 + 16 * i, "d")
    pos = 176
    for o, tree in enumerate(doc["trees"]):
        fields[f"trees[{o}]"] = (pos, "H")
        fields[f"trees[{o}].node_count"] = (pos, "H")
        for i in range(len(tree)):
            at = pos + 2 + 10 * i
            fields[f"trees[{o}].nodes[{i}]"] = (at, "B")
            for name, off, fmt in NODE_FIELDS:
                fields[f"trees[{o}].nodes[{i}].{name}"] = (at + off, fmt)
        pos += 2 + 10 * len(tree)
    fields["bounds"] = (pos, "h")
    for o in range(len(doc["bounds"])):
        fields[f"bounds[{o}].min"] = (pos + 4 * o, "h")
        fields[f"bounds[{o}].max"] = (pos + 4 * o + 2, "h")
    pos += 4 * len(doc["bounds"])
    fields["metadata"] = (pos, "I")
    fields["metadata.length"] = (pos, "I")
    meta_len = len(metadata_bytes(doc))
    fields["metadata.yaml"] = (pos + 4, "s")
    meta = metadata_bytes(doc)
    for key in REQUIRED_KEYS:
        fields[f"metadata.yaml.{key}"] = (pos + 4 + _key_line(meta, key), "s")
    fields["crc"] = (pos + 4 + meta_len, "I")
    fields["end"] = (pos + 8 + meta_len, "s")
    return fields


def encode(doc: dict[str, Any]) -> bytes:
    """The bytes of an expanded document, checksum included."""
    h = doc["header"]
    out = bytearray(
        struct.pack(
            "<4sBBHBBHBBH",
            h["magic"].encode("latin-1"),
            *(h[name] for name, _, _ in HEADER_FIELDS[1:]),
        )
    )
    for lo, hi in doc["scaling"]:
        out += struct.pack("<dd", to_float(lo), to_float(hi))
    for tree in doc["trees"]:
        out += struct.pack("<H", len(tree))
        for f, t, left, right, v in tree:
            out += struct.pack("<BBhHHh", f, 0, t, left, right, v)
    for lo, hi in doc["bounds"]:
        out += struct.pack("<hh", lo, hi)
    meta = metadata_bytes(doc)
    out += struct.pack("<I", len(meta)) + meta
    return bytes(out + struct.pack("<I", zlib.crc32(out)))


def resolve(where: int | str, fields: dict[str, tuple[int, str]]) -> int:
    """An offset given as an integer, a field path, or `path+N`."""
    if isinstance(where, int):
        return where
    path, _, extra = where.partition("+")
    return fields[path][0] + int(extra or 0)


def apply_patches(data: bytes, case: dict[str, Any], fields: dict[str, tuple[int, str]]) -> bytes:
    """Byte patches, then the checksum rule, then truncation/appending (see README)."""
    buf = bytearray(data)
    for patch in case.get("patch", []):
        at = resolve(patch["at"], fields)
        if "hex" in patch:
            raw = bytes.fromhex(patch["hex"])
        else:
            fmt = patch.get("fmt") or fields[patch["at"]][1]
            value = to_float(patch["value"]) if fmt == "d" else patch["value"]
            raw = struct.pack("<" + fmt, value)
        buf[at : at + len(raw)] = raw
    if case.get("crc", "fix") == "fix":
        crc_at = fields["crc"][0]
        buf[crc_at : crc_at + 4] = struct.pack("<I", zlib.crc32(bytes(buf[:crc_at])))
    if "truncate" in case:
        del buf[resolve(case["truncate"], fields) :]
    if "append_hex" in case:
        buf += bytes.fromhex(case["append_hex"])
    if "pad_to_size" in case:
        buf += bytes(case["pad_to_size"] - len(buf))
    return bytes(buf)


def apply_set(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Override document fields by path: `header.q_scale`, `trees[0][1][2]`, `metadata.lambda`."""
    doc = copy.deepcopy(doc)
    for path, value in changes.items():
        parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
        target = doc
        for p in parts[:-1]:
            target = target[int(p)] if p.isdigit() else target.setdefault(p, {})
        last = parts[-1]
        if value == {"$delete": True}:
            del target[last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return doc
