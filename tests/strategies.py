"""Hypothesis strategies for valid NEM1 objects; shared by the format, vector and fuzz tests."""

from __future__ import annotations

import math
import string
from typing import Any

from hypothesis import strategies as st

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex, dumps
from reflexfmt.limits import (
    CONFIRM_STEPS_RANGE,
    DWELL_STEPS_RANGE,
    FEATURE_COUNT,
    INT16_RANGE,
    INT64_RANGE,
    MAX_NODES,
    MAX_TREE_DEPTH,
    Q_SCALE_RANGE,
    RESERVED_WORDS,
)

int16s = st.integers(*INT16_RANGE)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
# Text that UTF-8 can encode (no lone surrogates), any other code point included.
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
keys = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda k: k not in RESERVED_WORDS
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(*INT64_RANGE),
    finite_floats,
    texts,
)


@st.composite
def feature_scales(draw: st.DrawFn) -> FeatureScale:
    """lo <= hi, both finite, hi - lo finite; sometimes lo == hi."""
    a = draw(st.floats(-1e300, 1e300))
    if draw(st.integers(0, 9)) == 0:
        return FeatureScale(a, a)
    b = draw(st.floats(-1e300, 1e300))
    lo, hi = min(a, b), max(a, b)
    if draw(st.booleans()):  # realistic small ranges too
        lo = draw(st.floats(-1e6, 1e6))
        hi = lo + draw(st.floats(0, 1e9))
    return FeatureScale(lo, hi)


@st.composite
def trees(draw: st.DrawFn, max_depth: int = MAX_TREE_DEPTH, max_nodes: int = MAX_NODES) -> tuple:
    """A valid tree (spec 4.1) numbered in pre-order, so every child follows its parent."""
    nodes: list[Node | None] = []

    def grow(depth: int) -> int:
        index = len(nodes)
        nodes.append(None)
        room = len(nodes) + 2 <= max_nodes
        if depth < max_depth and room and draw(st.integers(0, 99)) < 60 - 6 * depth:
            feature = draw(st.integers(0, FEATURE_COUNT - 1))
            threshold = draw(int16s)
            left = grow(depth + 1)
            right = grow(depth + 1) if len(nodes) < max_nodes else None
            if right is None:  # out of room: make the left child the only leaf below
                del nodes[index:]
                nodes.append(Node.leaf(draw(int16s)))
                return index
            nodes[index] = Node.split(feature, threshold, left, right)
        else:
            nodes[index] = Node.leaf(draw(int16s))
        return index

    grow(0)
    return tuple(nodes)


def metadata_values(depth: int = 3) -> st.SearchStrategy[Any]:
    """Any value the canonical metadata profile can hold, nested at most ``depth`` dicts."""
    inline = st.one_of(scalars, st.lists(scalars, max_size=4))
    if depth <= 0:
        return st.one_of(inline, st.just({}))
    return st.one_of(inline, st.dictionaries(keys, metadata_values(depth - 1), max_size=3))


@st.composite
def created_ats(draw: st.DrawFn) -> str:
    y = draw(st.integers(1970, 9999))
    mo = draw(st.integers(1, 12))
    d = draw(st.integers(1, 28))
    h, mi, s = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"


@st.composite
def metadata_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Valid metadata: the required keys of spec 6.1 item 6 plus arbitrary other keys."""
    extra = draw(st.dictionaries(keys, metadata_values(), max_size=4))
    required = {
        "created_at": draw(created_ats()),
        "telemetry_hash": draw(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)),
        "trainer_commit": draw(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
        ),
        "lambda": draw(st.one_of(st.integers(0, 2**63 - 1), st.floats(0, 1e300), st.just(0.1))),
        "feature_schema": "v1",
    }
    return {**extra, **required}


@st.composite
def output_bounds(draw: st.DrawFn, output: int) -> OutputBounds:
    low = draw(st.integers(1 if output == 0 else 0, INT16_RANGE[1]))
    return OutputBounds(low, draw(st.integers(low, INT16_RANGE[1])))


@st.composite
def reflexes(draw: st.DrawFn, max_depth: int = MAX_TREE_DEPTH, max_nodes: int = 63) -> Reflex:
    """Arbitrary valid Reflex objects (``max_nodes`` per tree keeps the examples fast)."""
    return Reflex(
        scaling=tuple(draw(st.lists(feature_scales(), min_size=10, max_size=10))),
        trees=(draw(trees(max_depth, max_nodes)), draw(trees(max_depth, max_nodes))),
        bounds=(draw(output_bounds(0)), draw(output_bounds(1))),
        metadata=draw(metadata_dicts()),
        q_scale=draw(st.integers(*Q_SCALE_RANGE)),
        confirm_steps=draw(st.integers(*CONFIRM_STEPS_RANGE)),
        dwell_steps=draw(st.integers(*DWELL_STEPS_RANGE)),
        version_minor=draw(st.integers(0, 255)),
    )


def valid_files(**kwargs: Any) -> st.SearchStrategy[bytes]:
    """The bytes of arbitrary valid files."""
    return reflexes(**kwargs).map(dumps)


raw_features = st.lists(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan]),
    ),
    min_size=FEATURE_COUNT,
    max_size=FEATURE_COUNT,
)
printable_keys = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8)
