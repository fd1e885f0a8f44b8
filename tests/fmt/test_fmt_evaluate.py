"""The evaluator (spec 10) and the runtime hysteresis (spec 11), on hand-computed cases."""

from __future__ import annotations

import math

from hypothesis import given, settings
from strategies import raw_features, reflexes

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex, Runtime
from reflexfmt.model import quantize_value

Q = 32767
META = {
    "created_at": "2025-01-01T00:00:00Z",
    "telemetry_hash": "0" * 40,
    "trainer_commit": "t",
    "lambda": 0,
    "feature_schema": "v1",
}


def test_quantize_hand_computed():
    # r = ((x - lo) * Q) / (hi - lo) = ((25 - 0) * 32767) / 100 = 8191.75 -> 8191
    assert quantize_value(25.0, 0.0, 100.0, Q) == 8191
    assert quantize_value(50.0, 0.0, 100.0, Q) == 16383  # 16383.5
    assert quantize_value(0.0, 0.0, 100.0, Q) == 0  # at lo
    assert quantize_value(-5.0, 0.0, 100.0, Q) == 0  # below lo
    assert quantize_value(100.0, 0.0, 100.0, Q) == Q  # at hi
    assert quantize_value(1e300, 0.0, 100.0, Q) == Q  # above hi
    assert quantize_value(math.nextafter(100.0, 0.0), 0.0, 100.0, Q) == Q - 1
    assert quantize_value(10.0, 10.0, 10.0, Q) == 0  # lo == hi: x <= lo
    assert quantize_value(10.000001, 10.0, 10.0, Q) == Q  # lo == hi: x > lo
    assert quantize_value(math.nan, 0.0, 100.0, Q) == 0
    assert quantize_value(math.inf, 0.0, 100.0, Q) == Q
    assert quantize_value(-math.inf, 0.0, 100.0, Q) == 0
    assert quantize_value(3.0, 1.0, 5.0, 4) == 2  # ((3-1)*4)/4 = 2 exactly


def test_r_at_least_q_is_tested_before_the_conversion():
    # hi - lo rounds so that r reaches Q although x < hi: the result is Q, not Q + something.
    lo, hi = -1e308, 1e308 * 0.5
    x = math.nextafter(hi, 0.0)
    assert quantize_value(x, lo, hi, Q) <= Q


LEAF100 = (Node.leaf(100),)
WIDE = (OutputBounds(1, 64), OutputBounds(0, 5000))


def _reflex(tree0, tree1=LEAF100, bounds=WIDE, **kw) -> Reflex:
    scaling = tuple(FeatureScale(0.0, 100.0) for _ in range(10))
    return Reflex(scaling, (tuple(tree0), tuple(tree1)), bounds, META, **kw)


def test_split_routing_at_and_next_to_the_threshold():
    # feature 2 <= 8191 goes left (value 4), else right (value 32)
    r = _reflex([Node.split(2, 8191, 1, 2), Node.leaf(4), Node.leaf(32)])
    x = [0.0] * 10
    for raw, expected in [
        (25.0, 4),
        (25.0005, 4),  # r = 8191.91...
        (25.001, 32),  # r = 8192.08...
        (0.0, 4),
        (-1.0, 4),
        (100.0, 32),
        (1e9, 32),
        (math.nan, 4),
    ]:
        x[2] = raw
        assert r.evaluate(x) == (expected, 100), raw
    x[2] = 25.001
    assert r.quantize(x)[2] == 8192


def test_negative_threshold_never_goes_left_and_q_threshold_always_does():
    never = _reflex([Node.split(0, -1, 1, 2), Node.leaf(1), Node.leaf(2)])
    always = _reflex([Node.split(0, Q, 1, 2), Node.leaf(1), Node.leaf(2)])
    for raw in (-1e9, 0.0, 50.0, 1e9, math.nan, math.inf):
        x = [raw] * 10
        assert never.evaluate(x)[0] == 2
        assert always.evaluate(x)[0] == 1


def test_outputs_are_clamped():
    r = _reflex(
        [Node.leaf(-7)], [Node.leaf(32767)], bounds=(OutputBounds(1, 64), OutputBounds(50, 4000))
    )
    assert r.evaluate([0.0] * 10) == (1, 4000)


@settings(max_examples=40, deadline=None)
@given(reflexes(), raw_features)
def test_evaluate_is_within_bounds(reflex, raw):
    y = reflex.evaluate(raw)
    assert all(b.min <= v <= b.max for v, b in zip(y, reflex.bounds, strict=True))
    assert all(0 <= q <= reflex.q_scale for q in reflex.quantize(raw))


def _pair_reflex(confirm: int, dwell: int) -> Reflex:
    # output 0 = 8 if feature 0 <= 50 % else 32 ; output 1 constant
    tree = [Node.split(0, 16383, 1, 2), Node.leaf(8), Node.leaf(32)]
    return _reflex(tree, confirm_steps=confirm, dwell_steps=dwell)


LOW, HIGH = [10.0] + [0.0] * 9, [90.0] + [0.0] * 9


def test_runtime_applies_at_once_with_c1_w0():
    rt = Runtime(_pair_reflex(1, 0))
    assert [rt.step(x)[0] for x in (LOW, HIGH, LOW, HIGH)] == [8, 32, 8, 32]


def test_runtime_confirm_steps():
    rt = Runtime(_pair_reflex(3, 0))
    seq = [LOW, HIGH, HIGH, HIGH, LOW, HIGH, LOW, LOW, LOW]
    assert [rt.step(x)[0] for x in seq] == [8, 8, 8, 32, 32, 32, 32, 32, 8]


def test_runtime_dwell_steps():
    rt = Runtime(_pair_reflex(1, 4))
    # first step sets A (held 1); a change is applied only once held >= 4
    seq = [LOW, HIGH, HIGH, HIGH, HIGH, LOW, LOW, LOW, LOW, LOW]
    assert [rt.step(x)[0] for x in seq] == [8, 8, 8, 8, 32, 32, 32, 32, 8, 8]


def test_runtime_candidate_resets_when_the_decision_returns():
    rt = Runtime(_pair_reflex(2, 0))
    seq = [LOW, HIGH, LOW, HIGH, HIGH]
    assert [rt.step(x)[0] for x in seq] == [8, 8, 8, 8, 32]
