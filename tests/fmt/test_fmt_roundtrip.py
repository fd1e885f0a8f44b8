"""Round trips: Reflex -> bytes -> Reflex, bytes -> Reflex -> bytes, JSON shape."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from strategies import reflexes, valid_files

from reflexfmt import dumps, loads, validate
from reflexfmt.jsonshape import dump_document, from_document, parse_description, to_document
from reflexfmt.reader import fast_loads, validating_loads


@settings(max_examples=60, deadline=None)
@given(reflexes())
def test_dumps_then_loads_gives_an_equal_object(reflex):
    data = dumps(reflex)
    assert loads(data) == reflex
    assert validate(data) == []


@settings(max_examples=50, deadline=None)
@given(valid_files())
def test_bytes_round_trip_exactly(data):
    assert dumps(loads(data)) == data


@settings(max_examples=30, deadline=None)
@given(valid_files())
def test_json_shape_rebuilds_the_file(data):
    doc = parse_description(dump_document(to_document(loads(data), data)))
    reflex, crc = from_document(doc)
    assert dumps(reflex) == data
    assert crc == int.from_bytes(data[-4:], "little")


def test_examples_round_trip(example_bytes):
    reflex = loads(example_bytes)
    assert dumps(reflex) == example_bytes
    assert fast_loads(example_bytes) == validating_loads(example_bytes) == reflex


def test_version_minor_is_preserved(typical_bytes):
    newer = dataclasses.replace(loads(typical_bytes), version_minor=7)
    data = dumps(newer)
    assert data[5] == 7
    assert loads(data).version_minor == 7
    assert dumps(loads(data)) == data


def test_dumps_is_deterministic(typical_bytes):
    reflex = loads(typical_bytes)
    copy = dataclasses.replace(reflex, metadata=dict(reversed(list(reflex.metadata.items()))))
    assert dumps(copy) == dumps(reflex) == typical_bytes


def test_dumps_refuses_records_without_field_names(typical_bytes):
    # A plain tuple where a FeatureScale, Node or OutputBounds is due has no field names:
    # dumps wrote zeros for it, a valid file with other values than asked for.
    import pytest

    r = loads(typical_bytes)
    cases = {
        "scaling[0]: must be a FeatureScale record, not tuple":
            dataclasses.replace(r, scaling=((5.0, 100.0),) + r.scaling[1:]),
        "bounds[1]: must be a OutputBounds record, not tuple":
            dataclasses.replace(r, bounds=(r.bounds[0], (0, 100))),
        "trees[0].nodes[0]: must be a Node record, not dict":
            dataclasses.replace(r, trees=(({"feature": 255},) + r.trees[0][1:], r.trees[1])),
    }
    for message, bad in cases.items():
        with pytest.raises(TypeError, match=message.replace("[", r"\[").replace("]", r"\]")):
            dumps(bad)
