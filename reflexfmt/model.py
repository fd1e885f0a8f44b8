"""The plain typed model of a reflex (spec sections 2 to 6) and its evaluation (section 10)."""

from __future__ import annotations

import math
import struct
from collections import namedtuple
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import repeat
from operator import itemgetter

from reflexfmt.limits import LEAF, VERSION_MINOR
from reflexfmt.structs import (
    BOUNDS_FIELDS,
    NODE_VALUE_FIELDS,
    NODE_VALUES_FORMAT,
    SCALING_FIELDS,
)

_NODE_DEFAULTS = (0,) * (len(NODE_VALUE_FIELDS) - 1)  # every field but `feature`


class Node(namedtuple("Node", NODE_VALUE_FIELDS, defaults=_NODE_DEFAULTS)):
    """One tree node (spec 4.1). A leaf has ``feature == LEAF`` and carries ``value``.

    Immutable; a named tuple rather than a dataclass because ``loads`` creates hundreds of
    them and must stay within its time budget (and ``typing`` is not imported on that path).
    """

    __slots__ = ()
    feature: int
    threshold: int
    left: int
    right: int
    value: int

    @classmethod
    def leaf(cls, value: int) -> Node:
        return cls(feature=LEAF, value=value)

    @classmethod
    def split(cls, feature: int, threshold: int, left: int, right: int) -> Node:
        return cls(feature=feature, threshold=threshold, left=left, right=right)

    @property
    def is_leaf(self) -> bool:
        return self.feature == LEAF


class FeatureScale(namedtuple("FeatureScale", SCALING_FIELDS)):
    """Raw values mapped to grid 0 (``lo``) and Q (``hi``) (spec 3)."""

    __slots__ = ()
    lo: float
    hi: float


class OutputBounds(namedtuple("OutputBounds", BOUNDS_FIELDS)):
    """Clamp range of one output (spec 5)."""

    __slots__ = ()
    min: int
    max: int


@dataclass(frozen=True)
class Reflex:
    """A complete NEM1 file's content; ``loads``/``dumps`` convert it to and from bytes.

    A Reflex from ``loads`` keeps each tree's validated node array as bytes and builds the
    Node objects of ``trees`` on first use; ``evaluate`` reads the node fields without
    building them. It equals, prints and pickles like any other Reflex.

    The constructor normalises its parts: ``scaling``, ``trees`` (and each tree) and
    ``bounds`` may be lists or tuples and become tuples; a record given as a plain tuple or
    list of the right length becomes its record type (``(5.0, 100.0)`` a FeatureScale,
    ``(1, 64)`` an OutputBounds, ``(255, 0, 0, 0, 7)`` a Node, fields in Node order); a
    tuple inside ``metadata`` becomes a list (as ``loads`` gives it back), so
    ``loads(dumps(r)) == r``. Anything else (a part of another type, a record of another
    length, a non-dict metadata) is TypeError naming the field. Values, types of values and
    ranges are not checked here: ``dumps`` checks them (ValueError), and ``evaluate`` raises
    ValueError on its first call for a Reflex it cannot walk. Not hashable
    (``metadata`` is a dict).
    """

    __hash__ = None  # type: ignore[assignment]

    scaling: tuple[FeatureScale, ...]
    trees: tuple[tuple[Node, ...], ...]
    bounds: tuple[OutputBounds, ...]
    metadata: dict[str, object] = field(default_factory=dict)
    q_scale: int = 32767
    confirm_steps: int = 1
    dwell_steps: int = 0
    version_minor: int = VERSION_MINOR

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "scaling", _records(self.scaling, FeatureScale, "scaling"))
        trees = _sequence(self.trees, "trees")
        put(self, "trees", tuple(_records(t, Node, f"trees[{o}]") for o, t in enumerate(trees)))
        put(self, "bounds", _records(self.bounds, OutputBounds, "bounds"))
        if not isinstance(self.metadata, dict):
            raise TypeError(f"metadata: must be a dict, not {type(self.metadata).__name__}")
        put(self, "metadata", _lists(self.metadata))

    @classmethod
    def from_node_arrays(
        cls,
        scaling: tuple[FeatureScale, ...],
        node_arrays: tuple[bytes, ...],
        bounds: tuple[OutputBounds, ...],
        metadata: dict[str, object],
        q_scale: int,
        confirm_steps: int,
        dwell_steps: int,
        version_minor: int,
    ) -> Reflex:
        """The Reflex of a validated file (reflexfmt.fastpath), each tree given as the bytes
        of its node array (spec 4.1 layout)."""
        self = object.__new__(cls)
        self.__dict__.update(
            scaling=scaling,
            bounds=bounds,
            metadata=metadata,
            q_scale=q_scale,
            confirm_steps=confirm_steps,
            dwell_steps=dwell_steps,
            version_minor=version_minor,
            _node_arrays=node_arrays,
        )
        return self

    def __getattr__(self, name: str) -> object:
        """``trees`` of a Reflex made by ``from_node_arrays``, built once on first use."""
        if name != "trees" or "_node_arrays" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        trees = tuple(
            tuple(map(_new, repeat(Node), zip(*columns, strict=True))) for columns in self._flat
        )
        object.__setattr__(self, "trees", trees)
        return trees

    def quantize(self, raw: Sequence[float]) -> tuple[int, ...]:
        """Spec 10 step 1: raw feature values to grid values in 0..q_scale.

        ``raw`` is a sequence (not a str, bytes, mapping or set) of one real number per
        feature: float, int or any object with ``__float__`` (Fraction, Decimal, NumPy
        scalars), never a bool, str or bytes (TypeError). Each is converted to binary64
        with ``float``; a value that has no binary64 value (an int or Fraction beyond
        1.8e308, Decimal('sNaN')) is ValueError, as is the wrong number of values. NaN and
        infinities are quantized as spec 10 says.
        """
        self._flat  # noqa: B018 (checks a hand-made Reflex, once)
        scaling = self.scaling
        if (type(raw) is not list and type(raw) is not tuple) or len(raw) != len(scaling) \
                or not _PLAIN.issuperset(map(type, raw)):
            raw = _reals(raw, len(scaling))  # the slow path: converts, or raises
        q_scale = self.q_scale
        try:
            return tuple(
                quantize_value(float(x), s.lo, s.hi, q_scale)
                for x, s in zip(raw, scaling, strict=True)
            )
        except OverflowError:  # an int beyond binary64
            _reals(raw, len(scaling))
            raise

    def evaluate(self, raw: Sequence[float]) -> tuple[int, ...]:
        """Spec 10: quantize, walk each tree, clamp to the bounds. ``raw`` as in
        ``quantize``; ValueError if this Reflex (made by hand) cannot be walked."""
        q = self.quantize(raw)
        out = []
        for columns, b in zip(self._flat, self.bounds, strict=True):
            features, thresholds, lefts, rights, values = _EVALUATED(columns)
            i = 0
            f = features[0]
            while f != LEAF:
                i = lefts[i] if q[f] <= thresholds[i] else rights[i]
                f = features[i]
            out.append(min(max(values[i], b.min), b.max))
        return tuple(out)

    @cached_property
    def _flat(self) -> tuple[tuple[tuple[int, ...], ...], ...]:
        """Per tree, one tuple per node field (Node._fields order) over its nodes."""
        arrays = self.__dict__.get("_node_arrays")
        if arrays is not None:
            return tuple(map(_node_columns, arrays))
        _check_walkable(self)
        return tuple(tuple(zip(*tree, strict=True)) for tree in self.trees)


_new = tuple.__new__


def _sequence(value: object, path: str) -> tuple[object, ...]:
    if not isinstance(value, tuple | list):
        raise TypeError(f"{path}: must be a tuple or list, not {type(value).__name__}")
    return tuple(value)


def _records(value: object, kind: type, path: str) -> tuple[object, ...]:
    """``value`` as a tuple of ``kind`` records; a plain tuple or list of the record's
    length is converted, anything else is TypeError naming it."""
    items = _sequence(value, path)
    if all(type(item) is kind for item in items):
        return items
    out = []
    width = len(kind._fields)  # type: ignore[attr-defined]
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            if type(item) not in (tuple, list) or len(item) != width:
                raise TypeError(f"{path}[{i}]: must be a {kind.__name__} or a tuple of its "
                                f"{width} fields, not {type(item).__name__} {item!r:.60}")
            item = kind(*item)
        out.append(item)
    return tuple(out)


def _lists(value: object) -> object:
    """``value`` with every tuple inside made a list (the same object when it has none)."""
    if isinstance(value, dict):
        items = {k: _lists(v) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, tuple | list):
        items = [_lists(v) for v in value]
        if isinstance(value, list) and all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items
    return value


def _check_walkable(r: Reflex) -> None:
    """ValueError unless ``evaluate`` can walk ``r``: a node count of at least 1, one tree
    per bound, int node fields, features below len(scaling) or LEAF, children after their
    parent, real lo/hi."""
    if isinstance(r.q_scale, bool) or not isinstance(r.q_scale, int):
        raise ValueError(f"q_scale: must be an int, got {r.q_scale!r:.40}")
    if len(r.trees) != len(r.bounds):
        raise ValueError(f"trees: {len(r.trees)} trees for {len(r.bounds)} bounds")
    for i, s in enumerate(r.scaling):
        for name, v in zip(s._fields, s, strict=True):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"scaling[{i}].{name}: must be a number, got {v!r:.40}")
    for o, b in enumerate(r.bounds):
        for name, v in zip(b._fields, b, strict=True):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"bounds[{o}].{name}: must be an int, got {v!r:.40}")
    for o, tree in enumerate(r.trees):
        if not tree:
            raise ValueError(f"trees[{o}]: has no node")
        for i, n in enumerate(tree):
            for name, v in zip(n._fields, n, strict=True):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError(f"trees[{o}].nodes[{i}].{name}: must be an int, got "
                                     f"{v!r:.40}")
            if n.feature == LEAF:
                continue
            if not 0 <= n.feature < len(r.scaling):
                raise ValueError(f"trees[{o}].nodes[{i}].feature: {n.feature} is not a feature")
            if not (i < n.left < len(tree) and i < n.right < len(tree)):
                raise ValueError(f"trees[{o}].nodes[{i}]: children must follow their parent")


_PLAIN = frozenset((float, int))
_NOT_REAL = (bool, str, bytes, bytearray, memoryview)
_NOT_SEQUENCE = (str, bytes, bytearray, memoryview, Mapping, Set)


def _reals(raw: object, count: int) -> tuple[float, ...]:
    """``raw`` as ``count`` binary64 values, or the TypeError or ValueError of
    ``Reflex.quantize`` (its slow path)."""
    if type(raw) is not list and type(raw) is not tuple:
        if isinstance(raw, _NOT_SEQUENCE) \
                or not hasattr(raw, "__len__") or not hasattr(raw, "__iter__"):
            raise TypeError(f"raw: must be a sequence of {count} real numbers, not "
                            f"{type(raw).__name__}")
        raw = list(raw)  # type: ignore[call-overload]
    if len(raw) != count:  # type: ignore[arg-type]
        raise ValueError(f"expected {count} feature values, got {len(raw)}")  # type: ignore
    return tuple(_real(x, i) for i, x in enumerate(raw))  # type: ignore[call-overload]


def _real(x: object, i: int) -> float:
    if isinstance(x, _NOT_REAL) or not hasattr(type(x), "__float__"):
        raise TypeError(f"raw[{i}]: must be a real number, not {type(x).__name__} {x!r:.40}")
    try:
        return float(x)  # type: ignore[arg-type]
    except OverflowError:
        shown = f"an integer of {x.bit_length()} bits" if isinstance(x, int) else f"{x!r:.40}"
        raise ValueError(f"raw[{i}]: {shown} is beyond the binary64 range") from None
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"raw[{i}]: {x!r:.40} has no binary64 value ({exc})") from None

_NODE_SIZE = struct.calcsize(NODE_VALUES_FORMAT)
_ARITY = len(Node._fields)
_COLUMNS = tuple(slice(k, None, _ARITY) for k in range(_ARITY))


@cache
def _node_array_struct(n: int) -> struct.Struct:
    """Unpacks an array of ``n`` nodes to their Node fields, node after node."""
    return struct.Struct("<" + NODE_VALUES_FORMAT[1:] * n)


def _node_columns(array: bytes) -> tuple[tuple[int, ...], ...]:
    """One tuple per Node field over the nodes of a node array."""
    flat = _node_array_struct(len(array) // _NODE_SIZE).unpack(array)
    return tuple(map(flat.__getitem__, _COLUMNS))


# The node columns the evaluator reads, by name, from the columns in Node._fields order.
_EVALUATED = itemgetter(
    *map(Node._fields.index, ("feature", "threshold", "left", "right", "value"))
)


def quantize_value(x: float, lo: float, hi: float, q_scale: int) -> int:
    """Spec 10 step 1 for one value, binary64 throughout."""
    if x != x or x <= lo:  # NaN or at/below lo
        return 0
    if x >= hi:
        return q_scale
    r = ((x - lo) * q_scale) / (hi - lo)
    if r >= q_scale:
        return q_scale
    return math.floor(r)


class Runtime:
    """Spec 11: confirm/dwell hysteresis over the evaluator, one instance per live replay."""

    def __init__(self, reflex: Reflex) -> None:
        self.reflex = reflex
        self.active: tuple[int, ...] | None = None
        self.held = 0
        self.candidate: tuple[int, ...] | None = None
        self.streak = 0

    def step(self, raw: Sequence[float]) -> tuple[int, ...]:
        """Evaluate one 100 ms step and return the pair the runtime applies."""
        d = self.reflex.evaluate(raw)
        if self.active is None:
            self.active, self.held, self.candidate, self.streak = d, 1, None, 0
            return d
        if d == self.active:
            self.candidate, self.streak = None, 0
            self.held += 1
            return self.active
        if d == self.candidate:
            self.streak += 1
        else:
            self.candidate, self.streak = d, 1
        if self.streak >= self.reflex.confirm_steps and self.held >= self.reflex.dwell_steps:
            self.active, self.held, self.candidate, self.streak = d, 1, None, 0
        else:
            self.held += 1
        return self.active
