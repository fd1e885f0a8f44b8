"""The Python API on wrong inputs: only TypeError or ValueError, each naming the problem;
a Reflex made by hand from plain tuples and lists is normalised (README "Python API")."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex, dumps, load, loads, validate

R0 = load(Path(__file__).resolve().parents[2] / "spec" / "examples" / "minimal.reflex")
RAW = [1.0] * 10


@pytest.mark.parametrize("raw, error, message", [
    ("1234567890", TypeError, "raw: must be a sequence of 10 real numbers, not str"),
    (b"1234567890", TypeError, "not bytes"),
    (dict.fromkeys(range(10), 1.0), TypeError, "not dict"),
    (set(range(10)), TypeError, "not set"),
    (iter(RAW), TypeError, "not list_iterator"),
    (None, TypeError, "not NoneType"),
    (["1"] * 10, TypeError, r"raw\[0\]: must be a real number, not str"),
    ([True] * 10, TypeError, r"raw\[0\]: must be a real number, not bool"),
    ([{}] * 10, TypeError, r"raw\[0\]: must be a real number, not dict"),
    ([1.0] * 9, ValueError, "expected 10 feature values, got 9"),
    ([10**400] + [1.0] * 9, ValueError, r"raw\[0\]: an integer of 1329 bits is beyond"),
    ([1.0] + [Fraction(10**400, 3)] * 9, ValueError, r"raw\[1\]: .* is beyond the binary64"),
    ([Decimal("sNaN")] * 10, ValueError, r"raw\[0\]: Decimal\('sNaN'\) has no binary64"),
])
def test_evaluate_refuses_what_is_not_ten_real_numbers(raw, error, message) -> None:
    with pytest.raises(error, match=message):
        R0.evaluate(raw)


def test_evaluate_takes_other_real_numbers() -> None:
    want = R0.evaluate(RAW)
    assert R0.evaluate([Fraction(1)] * 10) == want == R0.evaluate([Decimal(1)] * 10)
    assert R0.evaluate(tuple(RAW)) == want
    assert R0.evaluate([float("nan")] * 10) == R0.evaluate([0] * 10)


@pytest.mark.parametrize("data", [10**10, iter([b"N"]), "NEM1", None, [78, 69, 77, 49]])
def test_validate_and_loads_take_only_bytes_like(data) -> None:
    with pytest.raises(TypeError, match="needs bytes"):
        validate(data)
    with pytest.raises(TypeError, match="needs bytes"):
        loads(data)


def test_loads_takes_a_bytes_subclass() -> None:
    class Raw(bytes):
        pass

    data = dumps(R0)
    assert loads(Raw(data)) == R0 and validate(Raw(data)) == []


def _parts(**changes: object) -> dict[str, object]:
    parts: dict[str, object] = {
        "scaling": R0.scaling, "trees": R0.trees, "bounds": R0.bounds,
        "metadata": R0.metadata, "q_scale": R0.q_scale}
    return {**parts, **changes}


def test_plain_tuples_and_lists_become_records_and_round_trip() -> None:
    r = Reflex(**_parts(scaling=[tuple(s) for s in R0.scaling],
                        trees=[[list(n) for n in t] for t in R0.trees],
                        bounds=[list(b) for b in R0.bounds],
                        metadata={**R0.metadata, "extra": {"pair": (1, 2)}}))
    assert type(r.scaling) is tuple and type(r.scaling[0]) is FeatureScale
    assert type(r.trees[0]) is tuple and type(r.trees[0][0]) is Node
    assert type(r.bounds[1]) is OutputBounds and r.metadata["extra"] == {"pair": [1, 2]}
    assert loads(dumps(r)) == r
    assert r.evaluate(RAW) == R0.evaluate(RAW)


@pytest.mark.parametrize("changes, message", [
    ({"scaling": ((5.0, 100.0, 1.0),) * 10}, r"scaling\[0\]: must be a FeatureScale"),
    ({"bounds": (OutputBounds(1, 64), "ab")}, r"bounds\[1\]: must be a OutputBounds"),
    ({"trees": (R0.trees[0], 5)}, r"trees\[1\]: must be a tuple or list, not int"),
    ({"trees": None}, "trees: must be a tuple or list"),
    ({"metadata": [("a", 1)]}, "metadata: must be a dict"),
])
def test_parts_of_another_shape_are_type_errors(changes, message) -> None:
    with pytest.raises(TypeError, match=message):
        Reflex(**_parts(**changes))


@pytest.mark.parametrize("changes, message", [
    ({"trees": ((Node(3, 0, 1, 2),), R0.trees[1])}, "children must follow"),
    ({"trees": ((Node(12, 0, 1, 2), Node.leaf(1), Node.leaf(2)), R0.trees[1])},
     "12 is not a feature"),
    ({"trees": ((), R0.trees[1])}, r"trees\[0\]: has no node"),
    ({"trees": (R0.trees[0],)}, "1 trees for 2 bounds"),
    ({"bounds": (OutputBounds(1, "64"), R0.bounds[1])}, r"bounds\[0\]\.max: must be an int"),
    ({"scaling": (FeatureScale("0", 1.0),) * 10}, r"scaling\[0\]\.lo: must be a number"),
    ({"q_scale": 1.5}, "q_scale: must be an int"),
])
def test_a_reflex_evaluate_cannot_walk_is_a_value_error(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        Reflex(**_parts(**changes)).evaluate(RAW)


def test_a_reflex_is_not_hashable() -> None:
    assert Reflex.__hash__ is None
    with pytest.raises(TypeError, match="unhashable"):
        hash(R0)
