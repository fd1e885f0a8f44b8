"""The fast path of ``loads`` accepts exactly what the validating path accepts, equal results."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import valid_files

from reflexfmt import ReflexFormatError, structgen
from reflexfmt.reader import fast_loads, validating_loads

ROOT = Path(__file__).resolve().parents[2]


def test_generated_layout_is_fresh():
    generated = (ROOT / "reflexfmt" / "structs.py").read_text(encoding="utf-8")
    assert generated == structgen.source(), "run: python -m reflexfmt.structgen"


def _agree(data: bytes) -> None:
    fast = fast_loads(data)
    try:
        slow = validating_loads(data)
    except ReflexFormatError:
        assert fast is None
    else:
        assert fast == slow


@settings(max_examples=60, deadline=None)
@given(valid_files())
def test_valid_files_take_the_fast_path(data):
    assert fast_loads(data) is not None
    _agree(data)


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    """A valid file with a few bytes changed, and (usually) its CRC recomputed, so that the
    framing and semantic checks are reached, not only the CRC."""
    from fmt_helpers import with_crc

    data = bytearray(draw(valid_files(max_nodes=15)))
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.integers(0, 9)) < 8:
        return with_crc(bytes(data[:-4]))
    return bytes(data)


@settings(max_examples=150, deadline=None)
@given(corrupted())
def test_corrupted_files_agree(data):
    _agree(data)


def test_example_corruptions_agree(typical_bytes):
    from fmt_helpers import with_crc

    for offset in range(len(typical_bytes) - 4):
        for value in (0x00, 0xFF):
            bad = bytearray(typical_bytes)
            bad[offset] = value
            _agree(with_crc(bytes(bad[:-4])))


@st.composite
def rewired(draw: st.DrawFn) -> bytes:
    """A valid file with a few node features or child indices changed (CRC fixed): orphans,
    shared children, backward links, leaves with children, deep chains."""
    from fmt_helpers import patch

    from reflexfmt.layout import walk

    data = draw(valid_files(max_nodes=31))
    paths = [
        f.path
        for f in walk(data).fields
        if f.path.startswith("trees[") and f.path.endswith((".left", ".right", ".feature"))
    ]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        if path.endswith(".feature"):
            data = patch(data, path, "<B", draw(st.sampled_from([0, 9, 10, 0xFF])))
        else:
            data = patch(data, path, "<H", draw(st.integers(0, 33)))
    return data


@settings(max_examples=300, deadline=None)
@given(rewired())
def test_rewired_trees_agree(data):
    _agree(data)


def test_loaded_reflex_behaves_like_a_built_one(typical_bytes):
    """loads keeps the node arrays and builds Node objects on first use of ``trees``: the
    result must be indistinguishable from the validating path's Reflex."""
    import copy
    import dataclasses
    import pickle

    from reflexfmt import Reflex, loads

    built = validating_loads(typical_bytes)
    lazy = loads(typical_bytes)
    assert type(lazy) is Reflex and "trees" not in vars(lazy)
    for x in ([0.0] * 10, [1e9] * 10, [float("nan")] * 10, [5.0, 4e4] + [3e2] * 8):
        assert lazy.evaluate(x) == built.evaluate(x)
    assert "trees" not in vars(lazy)  # evaluate reads the node arrays
    assert pickle.loads(pickle.dumps(lazy)) == built
    assert copy.deepcopy(lazy) == built
    assert built == lazy and lazy == built and repr(lazy) == repr(built)
    assert lazy.trees == built.trees and lazy.trees is lazy.trees
    assert dataclasses.replace(loads(typical_bytes), q_scale=5) == dataclasses.replace(
        built, q_scale=5)
    try:
        lazy.missing  # noqa: B018
    except AttributeError as exc:
        assert "missing" in str(exc)
    else:
        raise AssertionError("no AttributeError")
