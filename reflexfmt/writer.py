"""Writing NEM1: Reflex -> canonical bytes through the construct schema (spec 2 to 7)."""

from __future__ import annotations

import math
import os

from reflexfmt.limits import FEATURE_COUNT, INT16_RANGE, MAGIC, OUTPUT_COUNT, VERSION_MAJOR
from reflexfmt.metadata import emit
from reflexfmt.model import Reflex

_U8 = (0, 0xFF)
_U16 = (0, 0xFFFF)


def dumps(reflex: Reflex) -> bytes:
    """The canonical bytes of ``reflex``.

    ValueError (or TypeError) names a value the layout cannot hold (a bool or float where an
    integer is due, an int16 out of range, a metadata value outside the canonical profile);
    ReflexFormatError carries the spec code of any other rule the result would break, so
    ``dumps`` never returns bytes that ``loads`` rejects.
    """
    from reflexfmt import schema
    from reflexfmt.reader import loads

    if not isinstance(reflex, Reflex):
        raise TypeError(f"dumps() needs a Reflex, not {type(reflex).__name__}")
    data = schema.NEM1_CHECKED.build({"body": {"value": _body(reflex)}})
    loads(data)
    return data


def dump(reflex: Reflex, path: str | os.PathLike[str]) -> None:
    """Write ``reflex`` to ``path`` atomically (temporary file, fsync, rename)."""
    from reflexfmt.atomic import atomic_write_bytes

    atomic_write_bytes(path, dumps(reflex))


def _body(r: Reflex) -> dict[str, object]:
    header = {
        "magic": MAGIC,
        "version_major": VERSION_MAJOR,
        "version_minor": _int(r.version_minor, _U8, "header.version_minor"),
        "flags": 0,
        "feature_count": FEATURE_COUNT,
        "output_count": OUTPUT_COUNT,
        "q_scale": _int(r.q_scale, _U16, "header.q_scale"),
        "confirm_steps": _int(r.confirm_steps, _U8, "header.confirm_steps"),
        "reserved": 0,
        "dwell_steps": _int(r.dwell_steps, _U16, "header.dwell_steps"),
    }
    scaling = _items(r.scaling, FEATURE_COUNT, "scaling")
    trees = _items(r.trees, OUTPUT_COUNT, "trees")
    bounds = _items(r.bounds, OUTPUT_COUNT, "bounds")
    return {
        "header": header,
        "scaling": [
            {"lo": _float(s.lo, f"scaling[{i}].lo"), "hi": _float(s.hi, f"scaling[{i}].hi")}
            for i, s in enumerate(scaling)
        ],
        "trees": [{"nodes": _nodes(tree, o)} for o, tree in enumerate(trees)],
        "bounds": [
            {
                "min": _int(b.min, INT16_RANGE, f"bounds[{o}].min"),
                "max": _int(b.max, INT16_RANGE, f"bounds[{o}].max"),
            }
            for o, b in enumerate(bounds)
        ],
        "metadata": {"yaml": emit(r.metadata)},
    }


def _nodes(tree: object, o: int) -> list[dict[str, int]]:
    if not isinstance(tree, tuple | list) or not 1 <= len(tree) <= _U16[1]:
        raise ValueError(f"trees[{o}]: must be a sequence of 1..255 nodes")
    out = []
    for i, n in enumerate(tree):
        p = f"trees[{o}].nodes[{i}]"
        out.append(
            {
                "feature": _int(n.feature, _U8, f"{p}.feature"),
                "reserved": 0,
                "threshold": _int(n.threshold, INT16_RANGE, f"{p}.threshold"),
                "left": _int(n.left, _U16, f"{p}.left"),
                "right": _int(n.right, _U16, f"{p}.right"),
                "value": _int(n.value, INT16_RANGE, f"{p}.value"),
            }
        )
    return out


def _items(seq: object, count: int, path: str) -> tuple[object, ...]:
    if not isinstance(seq, tuple | list) or len(seq) != count:
        raise ValueError(f"{path}: must be a sequence of exactly {count} entries")
    return tuple(seq)


def _int(value: object, bounds: tuple[int, int], path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{path}: expected an integer, got {value!r} ({type(value).__name__})")
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{path}: {value} is outside {bounds[0]}..{bounds[1]}")
    return int(value)


def _float(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{path}: expected a number, got {value!r} ({type(value).__name__})")
    if isinstance(value, int):
        as_float = float(value)
        if as_float != value or not math.isfinite(as_float):
            raise ValueError(f"{path}: integer {value} is not exactly a binary64 value")
        return as_float
    return float(value)
