"""The --json shape of a file (spec/NEM1.md appendix A): Reflex <-> JSON document.

``reflex-inspect --json`` writes ``to_document``; ``reflex-build`` reads ``from_document``;
for every valid file F, ``dumps(from_document(to_document(loads(F)))) == F``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from reflexfmt.checksum import computed_crc
from reflexfmt.description import DescriptionError, parse_description  # noqa: F401
from reflexfmt.limits import (
    CONFIRM_STEPS_RANGE,
    DWELL_STEPS_RANGE,
    FEATURE_COUNT,
    FEATURE_NAMES,
    FEATURE_UNITS,
    FIXED_HEADER,
    INT16_RANGE,
    LEAF,
    MAX_NODES,
    MIN_NODES,
    OUTPUT_COUNT,
    OUTPUT_MIN_FLOOR,
    OUTPUT_NAMES,
    OUTPUT_UNITS,
    Q_SCALE_RANGE,
)
from reflexfmt.metadata import emit
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex
from reflexfmt.structs import HEADER_FIELDS

_NODE_KEYS = Node._fields
# Header fields that are fixed in v1, as the document writes them (magic as a string).
_FIXED_HEADER = {
    name: value.decode("ascii") if isinstance(value, bytes) else value
    for name, value in FIXED_HEADER.items()
}
_FREE_HEADER = tuple(name for name in HEADER_FIELDS if name not in FIXED_HEADER)


def to_document(reflex: Reflex, data: bytes) -> dict[str, Any]:
    """The --json document of a valid file ``data`` that decodes to ``reflex``."""
    free = {name: getattr(reflex, name) for name in _FREE_HEADER}
    header = {name: free.get(name, _FIXED_HEADER.get(name)) for name in HEADER_FIELDS}
    return {
        "header": header,
        "features": [
            {"index": i, "name": FEATURE_NAMES[i], "unit": FEATURE_UNITS[i], "lo": s.lo, "hi": s.hi}
            for i, s in enumerate(reflex.scaling)
        ],
        "trees": [
            {
                "output": o,
                "name": OUTPUT_NAMES[o],
                "nodes": [dict(zip(_NODE_KEYS, n, strict=True)) for n in tree],
            }
            for o, tree in enumerate(reflex.trees)
        ],
        "bounds": [
            {
                "output": o,
                "name": OUTPUT_NAMES[o],
                "unit": OUTPUT_UNITS[o],
                "min": b.min,
                "max": b.max,
            }
            for o, b in enumerate(reflex.bounds)
        ],
        "metadata": reflex.metadata,
        "crc32": f"0x{computed_crc(data):08x}",
    }


def dump_document(doc: dict[str, Any]) -> str:
    """Canonical JSON text: sorted keys, two-space indent, ASCII only, one trailing LF."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def from_document(doc: Any) -> tuple[Reflex, int | None]:
    """(Reflex, crc32 stated in the document or None); DescriptionError names a bad value."""
    _mapping(
        doc,
        "$",
        required=("header", "features", "trees", "bounds", "metadata"),
        optional=("crc32",),
    )
    header = _mapping(doc["header"], "$.header", required=HEADER_FIELDS)
    for name, value in _FIXED_HEADER.items():
        if type(header[name]) is not type(value) or header[name] != value:
            raise DescriptionError(f"$.header.{name}", f"must be {value!r} in NEM1 v1")
    free = {name: _int(header[name], f"$.header.{name}", *_RANGES[name])
            for name in _FREE_HEADER}
    features = _list(doc["features"], "$.features", FEATURE_COUNT)
    scaling = []
    for i, f in enumerate(features):
        p = f"$.features[{i}]"
        _mapping(f, p, required=("lo", "hi"), optional=("index", "name", "unit"))
        _expect(f, "index", i, p)
        _expect(f, "name", FEATURE_NAMES[i], p)
        _expect(f, "unit", FEATURE_UNITS[i], p)
        scaling.append(FeatureScale(_num(f["lo"], f"{p}.lo"), _num(f["hi"], f"{p}.hi")))
    trees = []
    for o, t in enumerate(_list(doc["trees"], "$.trees", OUTPUT_COUNT)):
        p = f"$.trees[{o}]"
        _mapping(t, p, required=("nodes",), optional=("output", "name"))
        _expect(t, "output", o, p)
        _expect(t, "name", OUTPUT_NAMES[o], p)
        nodes = []
        listed = _list(t["nodes"], f"{p}.nodes", None)
        if not MIN_NODES <= len(listed) <= MAX_NODES:
            raise DescriptionError(f"{p}.nodes", f"has {len(listed)} nodes, outside "
                                   f"{MIN_NODES}..{MAX_NODES} (spec 4: E_LIMIT in a file)")
        for i, n in enumerate(listed):
            q = f"{p}.nodes[{i}]"
            _mapping(n, q, required=("feature",), optional=_NODE_KEYS[1:])
            feature = _int(n["feature"], f"{q}.feature", 0, LEAF)
            if FEATURE_COUNT <= feature < LEAF:
                raise DescriptionError(f"{q}.feature", f"{feature} is neither a feature index "
                                       f"0..{FEATURE_COUNT - 1} nor {LEAF} (a leaf) (spec 4.1: "
                                       "E_FEATURE_INDEX in a file)")
            nodes.append(Node(feature, *(_int(n.get(k, 0), f"{q}.{k}", *_RANGES[k])
                                         for k in _NODE_KEYS[1:])))
        trees.append(tuple(nodes))
    bounds = []
    for o, b in enumerate(_list(doc["bounds"], "$.bounds", OUTPUT_COUNT)):
        p = f"$.bounds[{o}]"
        _mapping(b, p, required=("min", "max"), optional=("output", "name", "unit"))
        _expect(b, "output", o, p)
        _expect(b, "name", OUTPUT_NAMES[o], p)
        _expect(b, "unit", OUTPUT_UNITS[o], p)
        low = _int(b["min"], f"{p}.min", OUTPUT_MIN_FLOOR[o], INT16_RANGE[1], "E_BOUNDS")
        bounds.append(OutputBounds(low, _int(b["max"], f"{p}.max", *_RANGES["max"])))
    if not isinstance(doc["metadata"], dict):
        raise DescriptionError("$.metadata", "must be a mapping")
    try:
        emit(doc["metadata"])
    except ValueError as exc:  # "metadata.<key>: problem"
        where, _, problem = str(exc).partition(": ")
        raise DescriptionError(f"$.{where}", problem) from None
    crc = doc.get("crc32")
    if crc is not None:
        crc = _crc(crc)
    reflex = Reflex(
        scaling=tuple(scaling),
        trees=tuple(trees),
        bounds=tuple(bounds),
        metadata=doc["metadata"],
        **free,
    )
    return reflex, crc


def _mapping(
    value: Any, path: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DescriptionError(path, "must be a mapping")
    for key in required:
        if key not in value:
            raise DescriptionError(path, f"missing key {key!r}")
    for key in value:
        if key not in required and key not in optional:
            raise DescriptionError(path, f"unknown key {key!r}")
    return value


def _list(value: Any, path: str, count: int | None) -> list[Any]:
    if not isinstance(value, list):
        raise DescriptionError(path, "must be a list")
    if count is not None and len(value) != count:
        raise DescriptionError(path, f"must have exactly {count} entries, has {len(value)}")
    return value


def _expect(mapping: dict[str, Any], key: str, expected: Any, path: str) -> None:
    if key in mapping and (type(mapping[key]) is not type(expected) or mapping[key] != expected):
        raise DescriptionError(f"{path}.{key}", f"must be {expected!r} here")


# The valid range of each integer field on its own (spec 2, 4.1, 5) and the spec's code for
# a file that breaks it; rules between fields are checked on the file the description makes.
_RANGES: dict[str, tuple[int, int, str]] = {
    "version_minor": (0, 255, "any u8, spec 2.1"),
    "q_scale": (*Q_SCALE_RANGE, "E_HEADER"),
    "confirm_steps": (*CONFIRM_STEPS_RANGE, "E_HEADER"),
    "dwell_steps": (*DWELL_STEPS_RANGE, "E_HEADER"),
    "threshold": (*INT16_RANGE, "int16"),
    "left": (0, MAX_NODES - 1, "a node index, E_NODE_INDEX"),
    "right": (0, MAX_NODES - 1, "a node index, E_NODE_INDEX"),
    "value": (*INT16_RANGE, "int16"),
    "max": (*INT16_RANGE, "int16"),
}


def _int(value: Any, path: str, low: int, high: int, code: str = "") -> int:
    """An integer (never a bool or a float, even 1.0) within its field's valid range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DescriptionError(path, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        shown = f"{value}" if abs(value) < 10**30 else f"an integer of {value.bit_length()} bits"
        note = f" ({code})" if code else ""
        raise DescriptionError(path, f"{shown} is outside {low}..{high}{note}")
    return value


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DescriptionError(path, f"must be a number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:
        raise DescriptionError(path, "must be a finite binary64 number, got an integer of "
                               f"{value.bit_length()} bits") from None
    if not math.isfinite(result) or (isinstance(value, int) and result != value):
        raise DescriptionError(path, f"must be a finite binary64 number, got {value!r}")
    return result


def _crc(value: Any) -> int:
    if isinstance(value, str) and _CRC.fullmatch(value):
        return int(value, 16)
    raise DescriptionError(
        "$.crc32", f"must be a string 0x followed by 8 lowercase hex digits, got {value!r}"
    )


_CRC = re.compile(r"0x[0-9a-f]{8}", re.ASCII)
