"""Writing NEM1: Reflex -> canonical bytes through the construct schema (spec 2 to 7)."""

from __future__ import annotations

import math
import os
import struct

from reflexfmt.limits import FEATURE_COUNT, FIXED_HEADER, OUTPUT_COUNT
from reflexfmt.metadata import emit
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex
from reflexfmt.structs import (
    BOUNDS_CODES,
    BOUNDS_FIELDS,
    HEADER_CODES,
    HEADER_FIELDS,
    NODE_CODES,
    NODE_COUNT_FORMAT,
    NODE_FIELDS,
    SCALING_CODES,
    SCALING_FIELDS,
)


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
    """The schema's field values for ``r``: every name and width from reflexfmt.structs."""
    header = {
        name: FIXED_HEADER[name]
        if name in FIXED_HEADER
        else _value(getattr(r, name), code, f"header.{name}")
        for name, code in zip(HEADER_FIELDS, HEADER_CODES, strict=True)
    }
    scaling = _items(r.scaling, FEATURE_COUNT, "scaling")
    trees = _items(r.trees, OUTPUT_COUNT, "trees")
    bounds = _items(r.bounds, OUTPUT_COUNT, "bounds")
    return {
        "header": header,
        "scaling": _records(scaling, "scaling", FeatureScale, SCALING_FIELDS, SCALING_CODES),
        "trees": [
            {"nodes": _records(_nodes(tree, o), f"trees[{o}].nodes", Node, NODE_FIELDS,
                               NODE_CODES)}
            for o, tree in enumerate(trees)
        ],
        "bounds": _records(bounds, "bounds", OutputBounds, BOUNDS_FIELDS, BOUNDS_CODES),
        "metadata": {"yaml": emit(r.metadata)},
    }


def _records(
    items: tuple[object, ...], path: str, kind: type, names: tuple[str, ...],
    codes: tuple[str, ...],
) -> list[dict[str, object]]:
    """One dict per record, each a ``kind`` (TypeError otherwise: a plain tuple or list has
    no field names, and guessing them wrote zeros); a field the model does not carry
    (``reserved``) is 0."""
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise TypeError(f"{path}[{i}]: must be a {kind.__name__} record, "
                            f"not {type(item).__name__}")
    carried = kind._fields
    return [
        {
            name: _value(getattr(item, name), code, f"{path}[{i}].{name}")
            if name in carried
            else 0
            for name, code in zip(names, codes, strict=True)
        }
        for i, item in enumerate(items)
    ]


def _nodes(tree: object, o: int) -> tuple[object, ...]:
    low, high = _int_range(NODE_COUNT_FORMAT[1:])
    if not isinstance(tree, tuple | list) or not max(low, 1) <= len(tree) <= high:
        raise ValueError(f"trees[{o}]: must be a sequence of {max(low, 1)}..{high} nodes")
    return tuple(tree)


def _value(value: object, code: str, path: str) -> int | float:
    """``value`` checked against the width of its struct ``code`` (an integer or ``d``)."""
    if code == "d":
        return _float(value, path)
    return _int(value, _int_range(code), path)


def _int_range(code: str) -> tuple[int, int]:
    """The range of an integer struct code: B -> 0..255, h -> -32768..32767, ..."""
    bits = 8 * struct.calcsize("<" + code)
    return (0, 2**bits - 1) if code.isupper() else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


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
