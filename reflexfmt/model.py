"""The plain typed model of a reflex (spec sections 2 to 6) and its evaluation (section 10)."""

from __future__ import annotations

import math
import struct
from collections import namedtuple
from collections.abc import Sequence
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
    """

    scaling: tuple[FeatureScale, ...]
    trees: tuple[tuple[Node, ...], ...]
    bounds: tuple[OutputBounds, ...]
    metadata: dict[str, object] = field(default_factory=dict)
    q_scale: int = 32767
    confirm_steps: int = 1
    dwell_steps: int = 0
    version_minor: int = VERSION_MINOR

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
        """Spec 10 step 1: raw feature values to grid values in 0..q_scale."""
        if len(raw) != len(self.scaling):
            raise ValueError(f"expected {len(self.scaling)} feature values, got {len(raw)}")
        q_scale = self.q_scale
        return tuple(
            quantize_value(float(x), s.lo, s.hi, q_scale)
            for x, s in zip(raw, self.scaling, strict=True)
        )

    def evaluate(self, raw: Sequence[float]) -> tuple[int, ...]:
        """Spec 10: quantize, walk each tree, clamp to the bounds."""
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
        for o, tree in enumerate(self.trees):
            for i, n in enumerate(tree):
                if n.feature != LEAF and not (i < n.left < len(tree) and i < n.right < len(tree)):
                    raise ValueError(f"trees[{o}].nodes[{i}]: children must follow their parent")
        return tuple(tuple(zip(*tree, strict=True)) for tree in self.trees)


_new = tuple.__new__

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
