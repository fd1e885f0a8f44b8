"""One hand-made bad file per check of spec 9 (framing, integrity, semantics).

Each test checks the code, offset and path.
"""

from __future__ import annotations

import dataclasses
import struct

import pytest
from fmt_helpers import field_at, patch, with_crc

from reflexfmt import Node, ReflexFormatError, dumps, loads, validate
from reflexfmt.limits import LEAF, MAX_FILE_SIZE


def _rejects(data: bytes, code: str, path: str) -> ReflexFormatError:
    with pytest.raises(ReflexFormatError) as info:
        loads(data)
    error = info.value
    assert (error.code, error.path) == (code, path), error
    assert validate(data)[0] == error.finding()
    return error


def _with_trees(typical: bytes, tree0: tuple[Node, ...]) -> bytes:
    """A valid-looking file whose tree 0 is ``tree0`` (built through the writer's layout)."""
    from reflexfmt import schema

    reflex = loads(typical)
    body = schema.NEM1_CHECKED.build(
        {"body": {"value": _body_of(dataclasses.replace(reflex, trees=(tree0, reflex.trees[1])))}}
    )
    return body


def _body_of(reflex):
    from reflexfmt.writer import _body

    return _body(reflex)


# --- phase 1: framing ------------------------------------------------------------------------
def test_file_too_large(typical_bytes):
    error = _rejects(typical_bytes + bytes(MAX_FILE_SIZE), "E_LIMIT", "file")
    assert error.offset == 0


def test_truncated(typical_bytes):
    error = _rejects(typical_bytes[:-1], "E_TRUNCATED", "crc32")
    assert error.offset == len(typical_bytes) - 4


def test_magic(typical_bytes):
    _rejects(b"NEM2" + typical_bytes[4:], "E_MAGIC", "header.magic")


def test_version_major(typical_bytes):
    _rejects(
        patch(typical_bytes, "header.version_major", "<B", 2), "E_VERSION", "header.version_major"
    )


@pytest.mark.parametrize("name", ["feature_count", "output_count"])
def test_counts(typical_bytes, name):
    _rejects(patch(typical_bytes, f"header.{name}", "<B", 3), "E_COUNT", f"header.{name}")


@pytest.mark.parametrize("count", [0, 256, 0xFFFF])
def test_node_count(typical_bytes, count):
    bad = patch(typical_bytes, "trees[1].node_count", "<H", count)
    error = _rejects(bad, "E_LIMIT", "trees[1].node_count")
    assert error.offset == field_at(typical_bytes, "trees[1].node_count").offset


def test_metadata_length(typical_bytes):
    _rejects(patch(typical_bytes, "metadata.length", "<I", 65537), "E_LIMIT", "metadata.length")


def test_trailing(typical_bytes):
    error = _rejects(typical_bytes + b"\x00", "E_TRAILING", "trailing")
    assert error.offset == len(typical_bytes)


# --- phase 2: integrity ----------------------------------------------------------------------
def test_crc(typical_bytes):
    bad = patch(typical_bytes, "bounds[0].max", "<h", 63, fix_crc=False)
    error = _rejects(bad, "E_CRC", "crc32")
    assert error.offset == len(typical_bytes) - 4


def test_crc_comes_before_semantics(typical_bytes):
    bad = patch(typical_bytes, "header.flags", "<H", 1, fix_crc=False)
    assert [f.code for f in validate(bad)] == ["E_CRC", "E_RESERVED"]


# --- phase 3: semantics ----------------------------------------------------------------------
@pytest.mark.parametrize("name, fmt", [("flags", "<H"), ("reserved", "<B")])
def test_header_reserved(typical_bytes, name, fmt):
    _rejects(patch(typical_bytes, f"header.{name}", fmt, 1), "E_RESERVED", f"header.{name}")


@pytest.mark.parametrize(
    "name, fmt, value",
    [
        ("q_scale", "<H", 0),
        ("q_scale", "<H", 32768),
        ("confirm_steps", "<B", 0),
        ("confirm_steps", "<B", 101),
        ("dwell_steps", "<H", 6001),
    ],
)
def test_header_ranges(typical_bytes, name, fmt, value):
    _rejects(patch(typical_bytes, f"header.{name}", fmt, value), "E_HEADER", f"header.{name}")


def test_reserved_before_header_ranges(typical_bytes):
    bad = patch(patch(typical_bytes, "header.q_scale", "<H", 0), "header.reserved", "<B", 1)
    _rejects(bad, "E_RESERVED", "header.reserved")


@pytest.mark.parametrize(
    "lo, hi",
    [(float("nan"), 1.0), (0.0, float("inf")), (2.0, 1.0), (-1.7e308, 1.7e308)],
)
def test_scaling(typical_bytes, lo, hi):
    bad = patch(patch(typical_bytes, "scaling[3].lo", "<d", lo), "scaling[3].hi", "<d", hi)
    error = _rejects(bad, "E_SCALING", "scaling[3].lo")
    assert error.offset == field_at(typical_bytes, "scaling[3].lo").offset


@pytest.mark.parametrize(
    "path, fmt, value",
    [
        ("trees[0].nodes[0].reserved", "<B", 1),  # internal node
        ("trees[0].nodes[0].value", "<h", 5),  # internal node
        ("trees[0].nodes[4].threshold", "<h", 1),  # leaf
        ("trees[0].nodes[4].left", "<H", 1),  # leaf
        ("trees[0].nodes[4].right", "<H", 1),  # leaf
    ],
)
def test_node_reserved(typical_bytes, path, fmt, value):
    _rejects(patch(typical_bytes, path, fmt, value), "E_RESERVED", path)


def test_feature_index(typical_bytes):
    path = "trees[1].nodes[2].feature"
    _rejects(patch(typical_bytes, path, "<B", 10), "E_FEATURE_INDEX", path)


def test_node_index(typical_bytes):
    path = "trees[0].nodes[1].right"
    _rejects(patch(typical_bytes, path, "<H", 31), "E_NODE_INDEX", path)


@pytest.mark.parametrize("child", [0, 1])
def test_node_order(typical_bytes, child):
    path = "trees[0].nodes[1].left"
    _rejects(patch(typical_bytes, path, "<H", child), "E_NODE_ORDER", path)


def test_node_orphan(typical_bytes):
    tree = (Node.split(0, 5, 1, 2), Node.leaf(1), Node.leaf(2), Node.leaf(3))
    error = _rejects(_with_trees(typical_bytes, tree), "E_NODE_ORPHAN", "trees[0].nodes[3].feature")
    assert error.offset == field_at(typical_bytes, "trees[0].nodes[3].feature").offset


def test_node_claimed_twice(typical_bytes):
    tree = (Node.split(0, 5, 1, 1), Node.leaf(1))
    _rejects(_with_trees(typical_bytes, tree), "E_NODE_ORPHAN", "trees[0].nodes[1].feature")


def test_depth(typical_bytes):
    chain = []
    for i in range(9):  # nodes 0..8 split, leaves hang off each; the deepest leaf is depth 9
        chain.append(Node.split(0, i, 2 * i + 1, 2 * i + 2))
    nodes = [None] * 19
    for i, n in enumerate(chain):
        nodes[2 * i] = n
    for i in range(19):
        if nodes[i] is None:
            nodes[i] = Node.leaf(i)
    tree = tuple(nodes)
    error = _rejects(_with_trees(typical_bytes, tree), "E_DEPTH", "trees[0].node_count")
    assert error.offset == field_at(typical_bytes, "trees[0].node_count").offset


def test_depth_eight_is_fine(typical_bytes):
    nodes = []
    for i in range(8):  # split i at index 2i and depth i; its leaves are at depth i + 1 <= 8
        nodes += [Node.split(1, i, 2 * i + 1, 2 * i + 2), Node.leaf(i)]
    nodes.append(Node.leaf(8))
    assert loads(_with_trees(typical_bytes, tuple(nodes)))


@pytest.mark.parametrize(
    "path, value",
    [("bounds[0].min", 0), ("bounds[1].min", -1), ("bounds[0].min", 65)],
)
def test_bounds(typical_bytes, path, value):
    _rejects(patch(typical_bytes, path, "<h", value), "E_BOUNDS", path)


def _with_metadata(typical_bytes: bytes, yaml: bytes) -> bytes:
    start = field_at(typical_bytes, "metadata.length").offset
    return with_crc(typical_bytes[:start] + struct.pack("<I", len(yaml)) + yaml)


def test_metadata_utf8(typical_bytes):
    error = _rejects(
        _with_metadata(typical_bytes, b'a: "\xc0\xaf"\n'), "E_METADATA_UTF8", "metadata.yaml"
    )
    assert error.offset == field_at(typical_bytes, "metadata.yaml").offset + 4


@pytest.mark.parametrize(
    "yaml",
    [
        b"",
        b"a: 1",
        b"b: 1\na: 2\n",
        b"a: 1\na: 1\n",
        b"a: 'x'\n",
        b"a: !!str x\n",
        b"a: &x 1\n",
        b"a: 1 # c\n",
        b"a:\n",
        b"yes: 1\n",
        b"a: 1.0e16\n",
        b"a: 01\n",
    ],
)
def test_metadata_yaml(typical_bytes, yaml):
    _rejects(_with_metadata(typical_bytes, yaml), "E_METADATA_YAML", "metadata.yaml")


@pytest.mark.parametrize(
    "key, value",
    [
        ("created_at", "2025-02-30T00:00:00Z"),
        ("created_at", "1969-12-31T23:59:59Z"),
        ("telemetry_hash", "A" * 40),
        ("trainer_commit", ""),
        ("lambda", -0.5),
        ("lambda", True),
        ("feature_schema", "v2"),
    ],
)
def test_metadata_key(typical_bytes, key, value):
    from reflexfmt.metadata import emit

    metadata = {**loads(typical_bytes).metadata, key: value}
    error = _rejects(
        _with_metadata(typical_bytes, emit(metadata)), "E_METADATA_KEY", f"metadata.yaml.{key}"
    )
    yaml = emit(metadata)
    assert error.offset == field_at(typical_bytes, "metadata.yaml").offset + yaml.index(
        key.encode() + b":"
    )


def test_metadata_key_missing(typical_bytes):
    from reflexfmt.metadata import emit

    metadata = {k: v for k, v in loads(typical_bytes).metadata.items() if k != "lambda"}
    _rejects(
        _with_metadata(typical_bytes, emit(metadata)), "E_METADATA_KEY", "metadata.yaml.lambda"
    )


def test_validate_lists_every_finding(typical_bytes):
    bad = patch(typical_bytes, "header.flags", "<H", 1)
    bad = patch(bad, "scaling[0].hi", "<d", -1.0)
    bad = patch(bad, "trees[1].nodes[0].feature", "<B", 11)
    bad = patch(bad, "bounds[1].min", "<h", -5)
    codes = [f.code for f in validate(bad)]
    assert codes == ["E_RESERVED", "E_SCALING", "E_FEATURE_INDEX", "E_BOUNDS"]


# --- the writer refuses what it cannot or must not write ---------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        {"q_scale": True},
        {"confirm_steps": 1.0},
        {"dwell_steps": 70000},
        {"metadata": {"bad key": 1}},
        {"metadata": {"x": float("nan")}},
        {"metadata": {"x": object()}},
        {"metadata": {"x": "\ud800"}},
    ],
)
def test_writer_rejects_unwritable(typical_bytes, change):
    with pytest.raises(ValueError):
        dumps(dataclasses.replace(loads(typical_bytes), **change))


def test_writer_rejects_bool_threshold(typical_bytes):
    reflex = loads(typical_bytes)
    tree = (Node.split(0, True, 1, 2), Node.leaf(1), Node.leaf(2))
    with pytest.raises(ValueError, match="threshold"):
        dumps(dataclasses.replace(reflex, trees=(tree, reflex.trees[1])))


def test_writer_reports_spec_code_for_invalid_content(typical_bytes):
    reflex = loads(typical_bytes)
    with pytest.raises(ReflexFormatError) as info:
        dumps(dataclasses.replace(reflex, confirm_steps=0))
    assert info.value.code == "E_HEADER"
    tree = (Node(LEAF, 0, 0, 0, 1), Node.leaf(2))
    with pytest.raises(ReflexFormatError) as info:
        dumps(dataclasses.replace(reflex, trees=(tree, reflex.trees[1])))
    assert info.value.code == "E_NODE_ORPHAN"
