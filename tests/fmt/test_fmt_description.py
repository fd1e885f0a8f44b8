"""reflex-build's description reader on hostile and hand-written input: only the errors the
command maps to E_DESCRIPTION or a spec code, never anything else."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reflexfmt import ReflexFormatError
from reflexfmt.jsonshape import DescriptionError, from_document, parse_description
from reflexfmt.writer import dumps

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "spec" / "examples"
TYPICAL = json.loads((EXAMPLES / "typical.json").read_text())

# The fields a writer ValueError may name (reflexfmt.writer, reflexfmt.metadata.emit).
_WRITER_PATH = re.compile(r"^(header\.\w+|scaling\[\d+\]\.(lo|hi)|trees\[\d+\](\.nodes\[\d+\]"
                          r"\.\w+)?|bounds\[\d+\]\.(min|max)|metadata[^:]*): ")


def _build(text: str) -> str:
    """What reflex-build makes of ``text``: "ok", or the stage that refused it. Only the errors
    cli_reflex_build maps to E_DESCRIPTION or a spec code (exit 1) may escape each stage: a
    DescriptionError from reading, a ReflexFormatError or a plain ValueError naming a field
    from writing. Anything else (a TypeError, a KeyError, a ValueError without a field
    path) is a bug and fails the test."""
    try:
        reflex, _ = from_document(parse_description(text))
    except DescriptionError as exc:
        assert exc.path.startswith("$"), exc
        return "description"
    try:
        dumps(reflex)
    except ReflexFormatError:
        return "spec"
    except ValueError as exc:
        assert type(exc) is ValueError and _WRITER_PATH.match(str(exc)), repr(exc)
        return "write"
    return "ok"

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62),
    st.integers(min_value=2**1024, max_value=2**1100),
    st.integers(max_value=-(2**62)), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["NEM1", "0x", "0x00000000", "\u202e", "\x00"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


PATHS = _paths(TYPICAL)
# Every path, plus the scaling, bounds and metadata paths again (the nodes outnumber them).
WEIGHTED = PATHS + [p for p in PATHS if p[0] in ("features", "bounds", "metadata", "header")]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WEIGHTED), values), min_size=1, max_size=3),
       st.booleans())
def test_mutated_descriptions_fail_only_with_mapped_errors(edits, as_yaml) -> None:
    doc = copy.deepcopy(TYPICAL)
    for path, value in edits:
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced this path's parent
    _build(yaml.safe_dump(doc) if as_yaml else json.dumps(doc))


HOSTILE = (None, True, 10**400, -(10**400), 2**64, float("nan"), float("inf"), -0.0, 1e-320,
           "1", "", [], {}, [1.5], {"a": None})


def test_every_path_with_every_hostile_value_fails_only_with_mapped_errors() -> None:
    accepted = 0
    for path in PATHS:
        for value in HOSTILE:
            doc = copy.deepcopy(TYPICAL)
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            accepted += _build(json.dumps(doc)) == "ok"
    assert 0 < accepted < len(PATHS) * len(HOSTILE)  # some edits are legal (lo = -0.0, ...)


def test_integer_too_large_for_a_float_is_a_description_error() -> None:
    doc = copy.deepcopy(TYPICAL)
    doc["features"][3]["hi"] = 10**400
    with pytest.raises(DescriptionError, match=r"\$\.features\[3\]\.hi: .*1329 bits"):
        from_document(parse_description(json.dumps(doc)))


def test_unreadable_yaml_values_are_description_errors() -> None:
    for text in ("a: " + "9" * 5000, "created: 2025-13-45\n? [a, b]\n: 1\n"):
        with pytest.raises(DescriptionError, match=r"^\$: (not valid )?YAML"):
            parse_description(text)


def test_hand_written_yaml_keeps_timestamps_as_strings() -> None:
    doc = json.loads((EXAMPLES / "minimal.json").read_text())
    del doc["crc32"]
    text = yaml.safe_dump(doc).replace("created_at: '2025-10-06T12:00:00Z'",
                                       "created_at: 2025-10-06T12:00:00Z")
    assert "created_at: 2025-10-06T12:00:00Z\n" in text
    reflex, _ = from_document(parse_description(text))
    assert reflex.metadata["created_at"] == "2025-10-06T12:00:00Z"
    assert dumps(reflex) == (EXAMPLES / "minimal.reflex").read_bytes()
