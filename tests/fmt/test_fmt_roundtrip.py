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


def test_plain_record_tuples_are_written_with_their_values_never_zeros(typical_bytes):
    # dumps wrote zeros for a record without field names, a valid file with other values
    # than asked for. The constructor now makes records of plain tuples, and dumps refuses
    # anything else that reaches it (here past the constructor, as a frozen dataclass allows).
    import pytest

    r = loads(typical_bytes)
    made = dataclasses.replace(r, scaling=((5.0, 100.0),) + r.scaling[1:],
                               bounds=(r.bounds[0], (0, 100)))
    back = loads(dumps(made))
    assert (back.scaling[0].lo, back.scaling[0].hi) == (5.0, 100.0)
    assert (back.bounds[1].min, back.bounds[1].max) == (0, 100)
    forced = dataclasses.replace(r)
    object.__setattr__(forced, "scaling", ((5.0, 100.0),) + r.scaling[1:])
    with pytest.raises(TypeError, match=r"scaling\[0\]: must be a FeatureScale record, not tuple"):
        dumps(forced)
