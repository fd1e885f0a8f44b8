"""The shadow's report of traffic outside the range a reflex was trained on
(reflexforge.envelope; spec/validation.md section 9, ``outside_training_range``)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from shadow_helpers import TRACE, as_trace, constant_reflex, two_level_reflex

from reflexfmt import FeatureScale
from reflexforge.config import ForgeOptions
from reflexforge.envelope import OUTSIDE_NOTE_SHARE, outside_notes, outside_training_range
from reflexforge.report import report_dict
from reflexforge.shadow import notes, run_shadow
from reflexforge.train import FEATURE_SETS

ENQUEUE_RATE = FEATURE_SETS["arrivals"][0]


def _with_rate_range(reflex, lo: float, hi: float):
    scaling = list(reflex.scaling)
    scaling[ENQUEUE_RATE] = FeatureScale(lo, hi)
    return dataclasses.replace(reflex, scaling=tuple(scaling))


def test_the_share_counts_windows_with_packets_outside_the_range() -> None:
    """[lo, hi] is inclusive; a window without a packet (enqueue_rate 0) is not one the
    reflex was trained on, so it is not counted; NaN is not a value; a feature no split
    reads is not reported."""
    reflex = _with_rate_range(two_level_reflex(ENQUEUE_RATE, 1000), 100.0, 1000.0)
    rows = np.zeros((7, 10))
    rows[:, ENQUEUE_RATE] = [0.0, 50.0, 100.0, 1000.0, 1000.5, 500.0, 0.0]
    rows[:, 3] = math.nan  # latency_p50, read by no split
    got = outside_training_range(reflex, rows)
    assert list(got) == ["enqueue_rate"]
    assert got["enqueue_rate"] == {"share": 0.4, "below": 0.2, "above": 0.2, "lo": 100.0,
                                   "hi": 1000.0, "min": 50.0, "max": 1000.5}
    assert outside_training_range(constant_reflex(16, 1000), rows) == {}
    assert outside_training_range(reflex, rows[[0, 6]])["enqueue_rate"]["share"] == 0.0


def test_a_note_names_the_feature_the_range_and_the_values_met() -> None:
    item = {"share": OUTSIDE_NOTE_SHARE, "below": 0.01, "above": 0.04, "lo": 5.0,
            "hi": 2430.0, "min": 1.0, "max": 257370.0}
    (note,) = outside_notes({"enqueue_rate": item})
    assert note.startswith("5.0% of the windows with packets have enqueue_rate outside the "
                           "range the reflex was trained on (1.0% below, 4.0% above 5..2430 "
                           "pkt/s; here 1..2.574e+05)")
    assert outside_notes({"enqueue_rate": {**item, "share": OUTSIDE_NOTE_SHARE / 2}}) == []


def test_shadow_reports_traffic_beyond_the_training_range() -> None:
    """The same trees with a training range that covers the trace (no note) and with one
    that stops at a fraction of its rates (a note, and the share in report.json)."""
    ts, size, rtt = TRACE
    base = two_level_reflex(ENQUEUE_RATE, 12_000)
    wide = _with_rate_range(base, 0.0, 1e7)
    wide_report = run_shadow(wide, as_trace(ts, size, rtt), ForgeOptions(), min_duration_s=10,
                             workers=1)
    rates = wide_report.outside["enqueue_rate"]
    assert rates["share"] == 0.0 and rates["max"] > 20_000
    narrow = _with_rate_range(base, 0.0, rates["max"] / 4)
    report = run_shadow(narrow, as_trace(ts, size, rtt), ForgeOptions(), min_duration_s=10,
                        workers=1)
    share = report.outside["enqueue_rate"]["share"]
    assert OUTSIDE_NOTE_SHARE <= share < 1
    assert report.outside["enqueue_rate"]["above"] == share  # lo = 0: none below
    assert any(n.startswith(f"{share:.1%} of the windows with packets have enqueue_rate")
               for n in notes(report))
    assert report_dict(report)["outside_training_range"] == report.outside
    assert not any("outside the range" in n for n in notes(wide_report))
