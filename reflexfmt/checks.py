"""Phase 3 of spec 9: the semantic checks, in the spec's order, on decoded field values.

The validating path (offsets from the schema walker) and ``validate`` call
``semantic_findings``; it is the reference implementation of the rules. The fast path of
``loads`` (reflexfmt.fastpath) is a second, faster implementation, and
tests/fmt/test_fmt_fastpath.py proves that both accept exactly the same files.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

from reflexfmt.errors import Finding
from reflexfmt.limits import (
    CONFIRM_STEPS_RANGE,
    DWELL_STEPS_RANGE,
    FEATURE_COUNT,
    INTERNAL_ZERO_FIELDS,
    LEAF,
    LEAF_ZERO_FIELDS,
    MAX_TREE_DEPTH,
    OUTPUT_MIN_FLOOR,
    OUTPUT_NAMES,
    Q_SCALE_RANGE,
)
from reflexfmt.metadata import MetadataError, parse
from reflexfmt.metadata_keys import required_key_problems
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex
from reflexfmt.structs import NODE_FIELDS

RawNode = namedtuple("RawNode", NODE_FIELDS)
"""Every field of a node as stored, reserved ones included (reflexfmt.structs order)."""
_NODE_VALUES = itemgetter(*map(NODE_FIELDS.index, Node._fields))


@dataclass
class Decoded:
    """The field values of a framed file, in schema terms."""

    header: dict[str, object]
    scaling: list[FeatureScale]
    trees: list[list[RawNode]]
    bounds: list[OutputBounds]
    yaml: bytes


OffsetOf = Callable[[str], int]


def semantic_findings(
    d: Decoded, offset_of: OffsetOf, first_only: bool = False
) -> tuple[list[Finding], dict[str, object] | None]:
    """Every phase-3 finding in spec order (or just the first), and the parsed metadata."""
    out: list[Finding] = []

    def add(code: str, path: str, message: str) -> bool:
        out.append(Finding(code, offset_of(path), path, message))
        return first_only

    h = d.header
    # Spec 9.3 step 9: header.
    for name in ("flags", "reserved"):
        if h[name] != 0 and add("E_RESERVED", f"header.{name}", f"{name} must be 0, got {h[name]}"):
            return out, None
    for name, (low, high) in (
        ("q_scale", Q_SCALE_RANGE),
        ("confirm_steps", CONFIRM_STEPS_RANGE),
        ("dwell_steps", DWELL_STEPS_RANGE),
    ):
        if not low <= h[name] <= high and add(
            "E_HEADER", f"header.{name}", f"{name} must be {low}..{high}, got {h[name]}"
        ):
            return out, None
    # Step 10: scaling.
    for i, (lo, hi) in enumerate((s.lo, s.hi) for s in d.scaling):
        if not (lo <= hi and math.isfinite(hi - lo)):
            if add("E_SCALING", f"scaling[{i}].lo", _scaling_problem(lo, hi)):
                return out, None
    # Step 11: trees.
    for o, nodes in enumerate(d.trees):
        if _tree_findings(o, nodes, add):
            return out, None
    # Step 12: bounds.
    for o, (low, high) in enumerate((b.min, b.max) for b in d.bounds):
        floor = OUTPUT_MIN_FLOOR[o]
        if low > high or low < floor:
            message = (
                f"min {low} > max {high}"
                if low > high
                else f"{OUTPUT_NAMES[o]} min must be >= {floor}, got {low}"
            )
            if add("E_BOUNDS", f"bounds[{o}].min", message):
                return out, None
    # Step 13: metadata.
    try:
        metadata = parse(d.yaml)
    except MetadataError as exc:
        out.append(
            Finding(exc.code, offset_of("metadata.yaml") + exc.offset, "metadata.yaml", exc.message)
        )
        return out, None
    for key, message in required_key_problems(metadata):
        path = f"metadata.yaml.{key}"
        offset = offset_of("metadata.yaml") + _key_offset(d.yaml, key)
        out.append(Finding("E_METADATA_KEY", offset, path, message))
        if first_only:
            return out, None
    return out, metadata


def _scaling_problem(lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"lo and hi must be finite, got lo={lo!r} hi={hi!r}"
    if lo > hi:
        return f"lo {lo!r} > hi {hi!r}"
    return f"hi - lo overflows (lo={lo!r}, hi={hi!r})"


def _key_offset(yaml: bytes, key: str) -> int:
    """Byte offset of the top-level entry ``key`` in the metadata, or 0 if it is missing."""
    token = key.encode() + b":"
    if yaml.startswith(token):
        return 0
    at = yaml.find(b"\n" + token)
    return at + 1 if at >= 0 else 0


def _tree_findings(o: int, nodes: list[RawNode], add: Callable[..., bool]) -> bool:
    """Spec 4.1 rules 1-6 for tree ``o``; True when ``add`` asks to stop."""
    n = len(nodes)
    base = f"trees[{o}]"
    for i, node in enumerate(nodes):
        feature, left, right = node.feature, node.left, node.right
        leaf = feature == LEAF
        zero = LEAF_ZERO_FIELDS if leaf else INTERNAL_ZERO_FIELDS
        if any(getattr(node, name) for name in zero):
            for name in NODE_FIELDS:  # the first in file order is reported first
                if name in zero and getattr(node, name) and add(
                    "E_RESERVED",
                    f"{base}.nodes[{i}].{name}",
                    f"{name} must be 0 in {'a leaf' if leaf else 'an internal node'}",
                ):
                    return True
        if leaf:
            continue
        if feature >= FEATURE_COUNT and add(
            "E_FEATURE_INDEX",
            f"{base}.nodes[{i}].feature",
            f"feature {feature} does not exist (feature_count {FEATURE_COUNT}, leaf {LEAF})",
        ):
            return True
        for name, child in (("left", left), ("right", right)):
            if child >= n:
                if add(
                    "E_NODE_INDEX",
                    f"{base}.nodes[{i}].{name}",
                    f"{name} child {child} is not below node_count {n}",
                ):
                    return True
            elif child <= i and add(
                "E_NODE_ORDER",
                f"{base}.nodes[{i}].{name}",
                f"{name} child {child} is not greater than the node's index {i}",
            ):
                return True
    parents = [0] * n
    depth = [-1] * n
    depth[0] = 0
    deepest = 0
    for i, node in enumerate(nodes):
        if node.feature == LEAF:
            continue
        for child in (node.left, node.right):
            if i < child < n:
                parents[child] += 1
                if depth[i] >= 0 and depth[i] + 1 > depth[child]:
                    depth[child] = depth[i] + 1
                    deepest = max(deepest, depth[child])
    for i in range(1, n):
        if parents[i] != 1 and add(
            "E_NODE_ORPHAN",
            f"{base}.nodes[{i}].feature",
            f"node {i} is the child of {parents[i]} nodes, must be exactly 1",
        ):
            return True
    if deepest > MAX_TREE_DEPTH and add(
        "E_DEPTH", f"{base}.node_count", f"tree depth {deepest} is above {MAX_TREE_DEPTH}"
    ):
        return True
    return False


def decoded_walk(w: object) -> Decoded:
    """The field values of a schema walk without a framing error."""
    v = w.value
    return Decoded(
        header=dict(v.header),
        scaling=[FeatureScale(**s) for s in v.scaling],
        trees=[[RawNode(**n) for n in t.nodes] for t in v.trees],
        bounds=[OutputBounds(**b) for b in v.bounds],
        yaml=v.metadata.yaml,
    )


_new = tuple.__new__


def to_reflex(d: Decoded, metadata: dict[str, object]) -> Reflex:
    """The Reflex of a file's decoded values (after semantic_findings found nothing)."""
    h = d.header
    return Reflex(
        scaling=tuple(d.scaling),
        trees=tuple([_tree(tree) for tree in d.trees]),
        bounds=tuple(d.bounds),
        metadata=metadata,
        q_scale=h["q_scale"],
        confirm_steps=h["confirm_steps"],
        dwell_steps=h["dwell_steps"],
        version_minor=h["version_minor"],
    )


def _tree(nodes: list[RawNode]) -> tuple[Node, ...]:
    return tuple([_new(Node, _NODE_VALUES(node)) for node in nodes])
