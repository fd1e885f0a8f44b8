"""The --json shape of a file (spec/NEM1.md appendix A): Reflex <-> JSON document.

``reflex-inspect --json`` writes ``to_document``; ``reflex-build`` reads ``from_document``;
for every valid file F, ``dumps(from_document(to_document(loads(F)))) == F``.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from reflexfmt.checksum import computed_crc
from reflexfmt.limits import (
    FEATURE_COUNT,
    FEATURE_NAMES,
    FEATURE_UNITS,
    FIXED_HEADER,
    OUTPUT_COUNT,
    OUTPUT_NAMES,
    OUTPUT_UNITS,
)
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex
from reflexfmt.structs import HEADER_FIELDS

_NODE_KEYS = Node._fields
# Header fields that are fixed in v1, as the document writes them (magic as a string).
_FIXED_HEADER = {
    name: value.decode("ascii") if isinstance(value, bytes) else value
    for name, value in FIXED_HEADER.items()
}
_FREE_HEADER = tuple(name for name in HEADER_FIELDS if name not in FIXED_HEADER)


class DescriptionError(ValueError):
    """A description that does not have the --json shape; ``path`` is a JSON path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


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


def parse_description(text: str) -> dict[str, Any]:
    """A description as JSON, or else as YAML (safe loader, no aliases); DescriptionError if
    neither."""
    try:
        doc = json.loads(text)
    except ValueError as json_error:
        import yaml

        loader = _yaml_loader()
        try:
            # An alias can make a small document expand exponentially (a "billion laughs"
            # mapping); the --json shape never needs one.
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, yaml.AliasEvent):
                    mark = event.start_mark
                    raise DescriptionError(
                        "$", f"YAML aliases are not allowed (line {mark.line + 1} column "
                        f"{mark.column + 1})")
            doc = yaml.load(text, Loader=loader)  # a safe loader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "?"
            raise DescriptionError(
                "$", f"neither JSON ({json_error}) nor YAML (at {where}: {_first_line(exc)})"
            ) from None
        except RecursionError:
            raise DescriptionError("$", "YAML nested too deeply") from None
        except DescriptionError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:  # from a YAML constructor
            raise DescriptionError("$", f"neither JSON ({json_error}) nor YAML that can be "
                                   f"read ({_first_line(exc)})") from None
    except RecursionError:
        raise DescriptionError("$", "JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise DescriptionError("$", "the description must be a mapping")
    return doc


@functools.cache
def _yaml_loader() -> type:
    """pyyaml's safe loader (the C one when built) with timestamps left as strings: an
    unquoted ``created_at: 2025-10-06T12:00:00Z`` is the string metadata needs."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    timestamp = "tag:yaml.org,2002:timestamp"
    resolvers = {first: [(tag, regexp) for tag, regexp in entries if tag != timestamp]
                 for first, entries in base.yaml_implicit_resolvers.items()}
    return type("DescriptionLoader", (base,), {"yaml_implicit_resolvers": resolvers})


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
        if header[name] != value or isinstance(header[name], bool):
            raise DescriptionError(f"$.header.{name}", f"must be {value!r} in NEM1 v1")
    free = {name: _int(header[name], f"$.header.{name}") for name in _FREE_HEADER}
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
        for i, n in enumerate(_list(t["nodes"], f"{p}.nodes", None)):
            q = f"{p}.nodes[{i}]"
            _mapping(n, q, required=("feature",), optional=_NODE_KEYS[1:])
            nodes.append(Node(*(_int(n.get(k, 0), f"{q}.{k}") for k in _NODE_KEYS)))
        trees.append(tuple(nodes))
    bounds = []
    for o, b in enumerate(_list(doc["bounds"], "$.bounds", OUTPUT_COUNT)):
        p = f"$.bounds[{o}]"
        _mapping(b, p, required=("min", "max"), optional=("output", "name", "unit"))
        _expect(b, "output", o, p)
        _expect(b, "name", OUTPUT_NAMES[o], p)
        _expect(b, "unit", OUTPUT_UNITS[o], p)
        bounds.append(OutputBounds(_int(b["min"], f"{p}.min"), _int(b["max"], f"{p}.max")))
    if not isinstance(doc["metadata"], dict):
        raise DescriptionError("$.metadata", "must be a mapping")
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
    if key in mapping and (mapping[key] != expected or isinstance(mapping[key], bool)):
        raise DescriptionError(f"{path}.{key}", f"must be {expected!r} here")


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DescriptionError(path, f"must be an integer, got {value!r}")
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
    if isinstance(value, str) and value.startswith("0x") and len(value) == 10:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise DescriptionError(
        "$.crc32", f"must be a string 0x followed by 8 hex digits, got {value!r}"
    )
