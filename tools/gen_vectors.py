#!/usr/bin/env python3
"""Generate the NEM1 conformance vectors (spec/vectors/) from spec/vectors/src/vectors.json.

This is an independent, spec-only implementation of the writer, the canonical metadata
emitter (spec 6.1) and the evaluator (spec 10, 11): it does not import reflexfmt, so the
vectors can grade reflexfmt as well as any other implementation.

    python tools/gen_vectors.py [--out DIR]     (default: spec/vectors)

Descriptions are JSON (see spec/vectors/README.md, "Descriptions"): named base documents,
and cases that take a base, override fields ("set"), patch bytes ("patch"), and state the
expected verdict. The output is deterministic.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

from ksy_verdict import verdict as kaitai_verdict  # tools/ksy_verdict.py

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "spec" / "vectors" / "src" / "vectors.json"
LEAF = 0xFF
FEATURE_NAMES = (
    "queue_depth",
    "enqueue_rate",
    "dequeue_rate",
    "latency_p50",
    "latency_p95",
    "bytes_in_per_sec",
    "bytes_out_per_sec",
    "packet_size_mean",
    "packet_size_var",
    "rtt_ewma",
)
# Units in the short display form of the reflex-inspect --json shape.
FEATURE_UNITS = ("pkt", "pkt/s", "pkt/s", "µs", "µs", "B/s", "B/s", "B", "B²", "µs")
OUTPUT_NAMES = ("flush_threshold", "max_batch_delay")
OUTPUT_UNITS = ("pkt", "µs")
# Spec 6.1 rule 2: the key grammar, and the keys YAML 1.1 reads as booleans or null.
KEY = re.compile(r"[a-z_][a-z0-9_]{0,63}")
FORBIDDEN_KEYS = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null"))
REQUIRED_KEYS = ("created_at", "telemetry_hash", "trainer_commit", "lambda", "feature_schema")
# Spec 9: the phase of each error code (framing stops a validator; E_METADATA_* is the part a
# non-validating runtime reader MAY skip, spec 6.1).
PHASES = dict.fromkeys(
    ("E_LIMIT", "E_TRUNCATED", "E_MAGIC", "E_VERSION", "E_COUNT", "E_TRAILING"), "framing"
)
PHASES["E_CRC"] = "integrity"
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


# ---- Numbers ------------------------------------------------------------------------------


def to_float(v: float | int | str) -> float:
    """A float from JSON: a number, or a string such as "nan", "-inf", "0x1p-1074"."""
    if isinstance(v, str):
        return float.fromhex(v) if "0x" in v else float(v)
    return float(v)


def float_text(x: float) -> str:
    """Shortest round-trip decimal (Python repr): how raw inputs are written in the JSON."""
    return repr(float(x))


def _neighbour(digits: str, exp: int, step: int) -> tuple[str, int]:
    """The next decimal of len(digits) digits above (step 1) or below (step -1)."""
    p = len(digits)
    n = int(digits) + step
    if n == 10**p:  # 99..9 + 1 = 10..0, one decade up
        return "1" + "0" * (p - 1), exp + 1
    if n < 10 ** (p - 1):  # 10..0 - 1 = 99..9 on the finer grid one decade down
        return "9" * p, exp - 1
    return str(n), exp


def shortest_digits(ax: float) -> tuple[str, int]:
    """Spec 6.1 rule 5: the shortest digits D and exponent E that read back as ax > 0, nearest
    to ax among those of that length, found as the spec's hint says: for p = 1..17, the
    correctly rounded p-digit value, else its neighbour on the other side of ax."""
    for p in range(1, 18):
        mantissa, exp_text = f"{ax:.{p - 1}e}".split("e")
        digits, exp = mantissa.replace(".", ""), int(exp_text)
        rounded = float(f"{digits}e{exp - p + 1}")
        if rounded == ax:
            return digits, exp
        alt, alt_exp = _neighbour(digits, exp, 1 if rounded < ax else -1)
        if float(f"{alt}e{alt_exp - p + 1}") == ax:
            return alt, alt_exp
    raise AssertionError(f"17 digits always read back: {ax!r}")


def canonical_float(x: float) -> str:
    """Spec 6.1 rule 5: the shortest nearest digits, in positional or scientific layout."""
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits, exp = shortest_digits(abs(x))
    if -4 <= exp < 16:
        if exp < 0:
            return f"{sign}0.{'0' * (-exp - 1)}{digits}"
        whole = digits[: exp + 1].ljust(exp + 1, "0")
        frac = digits[exp + 1 :] or "0"
        return f"{sign}{whole}.{frac}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


# ---- Canonical metadata (spec 6.1) ---------------------------------------------------------


def _string(s: str) -> str:
    out = []
    for ch in s:
        cp = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif cp <= 0x1F or 0x7F <= cp <= 0x9F:
            out.append(f"\\x{cp:02x}")
        elif cp in (0x2028, 0x2029, 0xFFFE, 0xFFFF):
            out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return canonical_float(v)
    if isinstance(v, str):
        return _string(v)
    raise ValueError(f"not a metadata scalar: {v!r}")


def emit_yaml(mapping: dict[str, Any], level: int = 0) -> str:
    """The canonical NEM1 YAML of a mapping (keys sorted by bytes)."""
    lines = []
    for key in sorted(mapping, key=lambda k: k.encode()):
        if not KEY.fullmatch(key) or key in FORBIDDEN_KEYS:
            raise ValueError(f"not a canonical metadata key: {key!r}")
        value = mapping[key]
        pad = "  " * level
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:\n" + emit_yaml(value, level + 1))
        elif isinstance(value, dict):
            lines.append(f"{pad}{key}: {{}}\n")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [" + ", ".join(_scalar(v) for v in value) + "]\n")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}\n")
    return "".join(lines)


def metadata_bytes(doc: dict[str, Any]) -> bytes:
    if "metadata_hex" in doc:
        return bytes.fromhex(doc["metadata_hex"])
    if "metadata_yaml" in doc:
        return doc["metadata_yaml"].encode("utf-8", "surrogatepass")
    return emit_yaml(doc["metadata"]).encode("utf-8")


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


# ---- Evaluation (spec 10, 11) ----------------------------------------------------------------


def quantize_value(x: float, lo: float, hi: float, q: int) -> int:
    if math.isnan(x) or x <= lo:
        return 0
    if x >= hi:
        return q
    r = ((x - lo) * q) / (hi - lo)
    return q if r >= q else math.floor(r)


def evaluate(doc: dict[str, Any], x: list[float]) -> tuple[list[int], list[int]]:
    q_scale = doc["header"]["q_scale"]
    q = [
        quantize_value(v, to_float(lo), to_float(hi), q_scale)
        for v, (lo, hi) in zip(x, doc["scaling"], strict=True)
    ]
    y = []
    for tree, (bmin, bmax) in zip(doc["trees"], doc["bounds"], strict=True):
        i = 0
        while tree[i][0] != LEAF:
            f, t, left, right, _ = tree[i]
            i = left if q[f] <= t else right
        y.append(min(max(tree[i][4], bmin), bmax))
    return q, y


def run_runtime(doc: dict[str, Any], xs: list[list[float]]) -> list[list[int]]:
    confirm, dwell = doc["header"]["confirm_steps"], doc["header"]["dwell_steps"]
    out: list[list[int]] = []
    active: list[int] | None = None
    held, cand, streak = 0, None, 0
    for x in xs:
        d = evaluate(doc, x)[1]
        if active is None:
            active, held, cand, streak = d, 1, None, 0
        elif d == active:
            cand, streak, held = None, 0, held + 1
        else:
            if d == cand:
                streak += 1
            else:
                cand, streak = d, 1
            if streak >= confirm and held >= dwell:
                active, held, cand, streak = d, 1, None, 0
            else:
                held += 1
        out.append(list(active))
    return out


def _ordered(x: float) -> int:
    bits = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def _from_ordered(k: int) -> float:
    bits = k if k >= 0 else (-k) | (1 << 63)
    return struct.unpack("<d", struct.pack("<Q", bits & 0xFFFFFFFFFFFFFFFF))[0]


def first_at_least(lo: float, hi: float, q: int, k: int) -> float:
    """Smallest raw x with grid value >= k (k in 1..q); quantization is monotonic."""
    a, b = _ordered(lo), _ordered(hi)  # q(lo) = 0 < k <= q = q(hi)
    while b - a > 1:
        mid = (a + b) // 2
        if quantize_value(_from_ordered(mid), lo, hi, q) >= k:
            b = mid
        else:
            a = mid
    return _from_ordered(b)


def raw_for_grid(lo: float, hi: float, q: int, k: int) -> float | None:
    """A raw value whose grid value is exactly k, if one exists."""
    if k <= 0:
        x = lo
    elif lo < hi:
        x = first_at_least(lo, hi, q, k)
    else:
        x = math.nextafter(hi, math.inf)
    return x if quantize_value(x, lo, hi, q) == k else None


def split_inputs(doc: dict[str, Any]) -> list[list[float]]:
    """For each reachable split: raws at grid T (first and last such raw) and at T+1."""
    q_scale = doc["header"]["q_scale"]
    scale = [(to_float(lo), to_float(hi)) for lo, hi in doc["scaling"]]
    inputs = []
    for tree in doc["trees"]:
        bounds = {0: [[0, q_scale] for _ in range(10)]}
        for i, (f, t, left, right, _) in enumerate(tree):
            if f == LEAF or i not in bounds or any(a > b for a, b in bounds[i]):
                continue
            box = bounds[i]
            lbox, rbox = copy.deepcopy(box), copy.deepcopy(box)
            lbox[f][1] = min(lbox[f][1], t)
            rbox[f][0] = max(rbox[f][0], t + 1)
            bounds[left], bounds[right] = lbox, rbox
            base = []
            for g, (a, b) in enumerate(box):
                lo, hi = scale[g]
                picks = [raw_for_grid(lo, hi, q_scale, k) for k in (a, b, (a + b) // 2)]
                picks = [p for p in picks if p is not None]
                base.append(picks[0] if picks else lo)
            lo, hi = scale[f]
            candidates = [raw_for_grid(lo, hi, q_scale, t), raw_for_grid(lo, hi, q_scale, t + 1)]
            if 0 <= t + 1 <= q_scale and lo < hi:
                nxt = first_at_least(lo, hi, q_scale, t + 1)
                candidates.append(math.nextafter(nxt, -math.inf))
            for c in candidates:
                if c is not None:
                    x = list(base)
                    x[f] = c
                    inputs.append(x)
    return inputs


def edge_inputs(doc: dict[str, Any]) -> list[list[float]]:
    """Every feature below lo, at lo, at hi, above hi, mid, NaN, +-inf, huge, tiny."""
    scale = [(to_float(lo), to_float(hi)) for lo, hi in doc["scaling"]]
    inf = math.inf
    rows = [
        [math.nextafter(lo, -inf) for lo, _ in scale],
        [lo for lo, _ in scale],
        [math.nextafter(lo, inf) for lo, _ in scale],
        [lo / 2 + hi / 2 for lo, hi in scale],
        [math.nextafter(hi, -inf) for _, hi in scale],
        [hi for _, hi in scale],
        [math.nextafter(hi, inf) for _, hi in scale],
        [math.nan] * 10,
        [inf] * 10,
        [-inf] * 10,
        [1.7976931348623157e308] * 10,
        [-1.7976931348623157e308] * 10,
        [5e-324] * 10,
        [-0.0] * 10,
        [lo - abs(lo) - 1.0 if i % 2 else hi + abs(hi) + 1.0 for i, (lo, hi) in enumerate(scale)],
    ]
    return rows


def expected_outputs(doc: dict[str, Any]) -> dict[str, Any]:
    """The evaluations and the runtime run listed in a y_*.json."""
    seen: set[tuple[str, ...]] = set()
    xs = []
    for x in edge_inputs(doc) + split_inputs(doc):
        key = tuple(float_text(v) for v in x)
        if key not in seen:
            seen.add(key)
            xs.append(x)
    evaluations = []
    for x in xs:
        q, y = evaluate(doc, x)
        evaluations.append({"x": [float_text(v) for v in x], "q": q, "y": y})
    distinct: dict[tuple[int, ...], list[float]] = {}
    for x in xs:
        distinct.setdefault(tuple(evaluate(doc, x)[1]), x)
    picks = list(distinct.values())[:4]
    pattern = [0, 0, 1, 0, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 2]
    steps = [picks[i % len(picks)] for i in pattern]
    runtime = [
        {"x": [float_text(v) for v in x], "y": y}
        for x, y in zip(steps, run_runtime(doc, steps), strict=True)
    ]
    return {"evaluations": evaluations, "runtime": runtime}


# ---- The expected decoding (reflex-inspect --json shape) -----------------------------------


def decoding(doc: dict[str, Any], data: bytes) -> dict[str, Any]:
    """What a reader decodes from an accepted vector, in the reflex-inspect --json shape."""
    return {
        "header": dict(doc["header"]),
        "features": [
            {
                "index": i,
                "name": FEATURE_NAMES[i],
                "unit": FEATURE_UNITS[i],
                "lo": to_float(lo),
                "hi": to_float(hi),
            }
            for i, (lo, hi) in enumerate(doc["scaling"])
        ],
        "trees": [
            {
                "output": o,
                "name": OUTPUT_NAMES[o],
                "nodes": [
                    {"feature": f, "threshold": t, "left": left, "right": right, "value": v}
                    for f, t, left, right, v in tree
                ],
            }
            for o, tree in enumerate(doc["trees"])
        ],
        "bounds": [
            {"output": o, "name": OUTPUT_NAMES[o], "unit": OUTPUT_UNITS[o], "min": lo, "max": hi}
            for o, (lo, hi) in enumerate(doc["bounds"])
        ],
        "metadata": doc["metadata"],
        "crc32": f"0x{zlib.crc32(data[:-4]):08x}",
    }


# ---- Driver ----------------------------------------------------------------------------------


def dump_json(doc: Any) -> bytes:
    """UTF-8 JSON with one item per line where short: stable for diffs and drift checks."""
    return (json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()


def dump_expected(doc: Any) -> bytes:
    """A y_*.json: keys sorted and ASCII only, as in spec appendix A."""
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True, allow_nan=False)
    return (text + "\n").encode()


def build(source: Path = SOURCE) -> dict[str, bytes]:
    """Every output file name -> bytes, manifest included."""
    spec = json.loads(source.read_text(encoding="utf-8"))
    bases = spec["bases"]
    files: dict[str, bytes] = {}
    manifest = []
    for case in spec["cases"]:
        vid = case["id"]
        doc = expand(apply_set(bases[case["base"]], case.get("set", {})))
        fields = layout(doc)
        data = apply_patches(encode(doc), case, fields)
        files[f"{vid}.reflex"] = data
        entry: dict[str, Any] = {"id": vid, "file": f"{vid}.reflex"}
        if vid.startswith("y_"):
            expected = {"decoding": decoding(doc, data), **expected_outputs(doc)}
            files[f"{vid}.json"] = dump_expected(expected)
            entry.update(result="accept", code=None, offset=None, expected=f"{vid}.json")
        else:
            at = case.get("at")
            entry.update(
                result="reject",
                code=case["code"],
                offset=None if at is None else resolve(at, fields),
                phase=PHASES.get(case["code"], "semantics"),
            )
        entry["kaitai"] = kaitai_verdict(data)
        if vid.startswith("y_") and entry["kaitai"] is not None:
            raise ValueError(f"{vid}: a valid file that spec/nem1.ksy rejects: {entry['kaitai']}")
        entry["comment"] = case["comment"]
        manifest.append(entry)
    doc = {"format": "NEM1", "spec": "spec/NEM1.md", "version": "1.0", "vectors": manifest}
    files["manifest.json"] = dump_json(doc)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "spec" / "vectors")
    args = parser.parse_args(argv)
    files = build()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*_*.reflex"):
        if old.name not in files:
            old.unlink()
    for old in args.out.glob("[yn]_*.json"):
        if old.name not in files:
            old.unlink()
    for name, data in sorted(files.items()):
        (args.out / name).write_bytes(data)
    print(f"{len(files)} files written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
