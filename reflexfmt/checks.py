"""Phase 3 of spec 9: the semantic checks, in the spec's order, on decoded field values.

The validating path (offsets from the schema walker) and ``validate`` call
``semantic_findings``; it is the reference implementation of the rules. The fast path of
``loads`` (reflexfmt.fastpath) is a second, faster implementation, and
tests/fmt/test_fmt_fastpath.py proves that both accept exactly the same files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from reflexfmt import _fastlayout
from reflexfmt.errors import Finding
from reflexfmt.limits import (
    CONFIRM_STEPS_RANGE,
    DWELL_STEPS_RANGE,
    FEATURE_COUNT,
    LEAF,
    MAX_DEPTH,
    OUTPUT_MIN_FLOOR,
    OUTPUT_NAMES,
    Q_SCALE_RANGE,
)
from reflexfmt.metadata import MetadataError, parse, required_key_problems
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex

# The node tuples below are unpacked in this order; the generated layout must agree.
NODE_FIELDS = ("feature", "reserved", "threshold", "left", "right", "value")
if _fastlayout.NODE_FIELDS != NODE_FIELDS or Node._fields != tuple(
    n for n in NODE_FIELDS if n != "reserved"
):
    raise ImportError("reflexfmt._fastlayout is stale: run python -m reflexfmt.layout")


@dataclass
class Decoded:
    """The field values of a framed file, in schema terms."""

    header: dict[str, object]
    scaling: list[tuple[float, float]]
    trees: list[list[tuple[int, int, int, int, int, int]]]
    bounds: list[tuple[int, int]]
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
    for i, (lo, hi) in enumerate(d.scaling):
        if not (lo <= hi and math.isfinite(hi - lo)):
            if add("E_SCALING", f"scaling[{i}].lo", _scaling_problem(lo, hi)):
                return out, None
    # Step 11: trees.
    for o, nodes in enumerate(d.trees):
        if _tree_findings(o, nodes, add):
            return out, None
    # Step 12: bounds.
    for o, (low, high) in enumerate(d.bounds):
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


def _tree_findings(o: int, nodes: list[tuple[int, ...]], add: Callable[..., bool]) -> bool:
    """Spec 4.1 rules 1-6 for tree ``o``; True when ``add`` asks to stop."""
    n = len(nodes)
    base = f"trees[{o}]"
    for i, (feature, reserved, threshold, left, right, value) in enumerate(nodes):
        leaf = feature == LEAF
        if reserved or (value if not leaf else threshold or left or right):
            zero = ("reserved", "value") if not leaf else ("reserved", "threshold", "left", "right")
            fields = dict(zip(NODE_FIELDS, nodes[i], strict=True))
            for name in zero:
                if fields[name] and add(
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
    for i, (feature, _, _, left, right, _) in enumerate(nodes):
        if feature == LEAF:
            continue
        for child in (left, right):
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
    if deepest > MAX_DEPTH and add(
        "E_DEPTH", f"{base}.node_count", f"tree depth {deepest} is above {MAX_DEPTH}"
    ):
        return True
    return False


def decoded_walk(w: object) -> Decoded:
    """The field values of a schema walk without a framing error."""
    v = w.value
    return Decoded(
        header=dict(v.header),
        scaling=[(s["lo"], s["hi"]) for s in v.scaling],
        trees=[[tuple(n[f] for f in NODE_FIELDS) for n in t.nodes] for t in v.trees],
        bounds=[(b["min"], b["max"]) for b in v.bounds],
        yaml=v.metadata.yaml,
    )


_new = tuple.__new__


def to_reflex(d: Decoded, metadata: dict[str, object]) -> Reflex:
    """The Reflex of a file's decoded values (after semantic_findings found nothing)."""
    h = d.header
    return Reflex(
        scaling=tuple([_new(FeatureScale, s) for s in d.scaling]),
        trees=tuple([_tree(tree) for tree in d.trees]),
        bounds=tuple([_new(OutputBounds, b) for b in d.bounds]),
        metadata=metadata,
        q_scale=h["q_scale"],
        confirm_steps=h["confirm_steps"],
        dwell_steps=h["dwell_steps"],
        version_minor=h["version_minor"],
    )


def _tree(nodes: list[tuple[int, ...]]) -> tuple[Node, ...]:
    return tuple([_new(Node, (f, t, lt, rt, v)) for f, _, t, lt, rt, v in nodes])
