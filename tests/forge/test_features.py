"""Windows and features against hand-computed values (spec/forge.md sections 2 and 4)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import reference_sim  # tests/reference_sim.py

from reflexfmt import FEATURE_NAMES
from reflexforge.features import window_features, window_starts
from reflexforge.simulate import simulate
from reflexforge.trainset import COLUMNS

MS = 1_000_000
BYTE_NS_LINK = 8 * 10**9  # one byte = 1 ns on the wire


def test_window_enumeration_keeps_end_equal_to_last_ts_and_skips_empty():
    ts = np.array([0, 10 * MS, 500 * MS, 700 * MS])
    # Candidates k = 0..5 end at 200..700 ms <= 700 ms; [100, 300), [200, 400) and [300, 500)
    # hold no arrival (500 ms is outside [300, 500)); [500, 700) ends at the last ts and stays.
    assert window_starts(ts).tolist() == [0, 400 * MS, 500 * MS]


def test_window_enumeration_short_and_offset_traces():
    assert window_starts(np.array([5, 5 + 200 * MS - 1])).tolist() == []
    assert window_starts(np.array([5, 5 + 200 * MS])).tolist() == [5]
    assert window_starts(np.array([], dtype=np.int64)).tolist() == []
    ts = np.array([1000, 1000 + 150 * MS, 1000 + 299 * MS])
    assert window_starts(ts).tolist() == [1000]


def test_window_enumeration_of_packets_far_apart():
    # Packets 2^62 ns apart: the windows come from the packets, not from the span.
    far = 2**62 - 150 * MS
    ts = np.array([0, 150 * MS, far, far + 150 * MS])  # the last ts is 2^62
    k = far // (100 * MS)  # windows k - 1 and k hold ``far``; k + 1 would end after 2^62
    assert (k + 1) * 100 * MS + 200 * MS > 2**62 >= k * 100 * MS + 200 * MS
    assert window_starts(ts).tolist() == [0, 100 * MS, (k - 1) * 100 * MS, k * 100 * MS]
    assert window_starts(np.array([7, 2**62])).tolist() == [7]


def hand_trace():
    ts = np.array([0, 50 * MS, 150 * MS, 199_999_000, 250 * MS, 300 * MS])
    size = np.array([100, 200, 300, 100, 400, 500])
    rtt = np.array([-1, 80_000, -1, -1, 40_000, 120_000])
    return ts, size, rtt


def test_features_of_hand_computed_windows():
    ts, size, rtt = hand_trace()
    # Incumbent N=2, D=1 ms, flush cost 5000 ns, 1 byte = 1 ns: every packet is alone in its
    # batch (gaps > 1 ms), flushed at arrival + 1 ms and done 5000 + bytes ns later.
    completion, flushes = simulate(ts, size, 2, 1 * MS, 5000, BYTE_NS_LINK)
    assert completion.tolist() == [1_005_100, 51_005_200, 151_005_300, 201_004_100,
                                   251_005_400, 301_005_500]
    assert flushes == 6
    starts = window_starts(ts)
    assert starts.tolist() == [0, 100 * MS]
    X = window_features(ts, size, rtt, completion, starts)
    # Window [0, 200 ms): arrivals 0, 50, 150, 199.999 ms; completions of the first three.
    # Time in system: three whole latencies + 1000 ns of the packet arriving at 199.999 ms.
    expected0 = [
        (1_005_100 + 1_005_200 + 1_005_300 + 1000) / 200_000_000,
        4 * 5.0, 3 * 5.0,
        1005.2, 1005.3,  # ranks ceil(1.5) = 2 and ceil(2.85) = 3 of three latencies
        700 * 5.0, 600 * 5.0,
        175.0, (4 * 150_000 - 700 * 700) / 16,
        80.0,  # one RTT sample (80 us) before 200 ms
    ]
    # Window [100, 300 ms): arrivals 150, 199.999, 250 ms (300 ms is outside);
    # completions at 151.0053, 201.0041, 251.0054 ms.
    expected1 = [
        (1_005_300 + 1_005_100 + 1_005_400) / 200_000_000,
        3 * 5.0, 3 * 5.0,
        1005.3, 1005.4,  # ranks 2 and 3 of 1005.1, 1005.3, 1005.4 us
        800 * 5.0, 800 * 5.0,
        800 / 3, (3 * 260_000 - 800 * 800) / 9,
        75.0,  # 80 + (40 - 80) / 8; the sample at 300 ms is not before the window's end
    ]
    assert X.tolist() == [expected0, expected1]


def test_features_without_completions_or_rtt():
    ts = np.array([0, 100 * MS, 200 * MS, 400 * MS])
    size = np.array([64, 64, 64, 64])
    rtt = np.full(4, -1)
    completion, _ = simulate(ts, size, 16, 1000 * MS, 5000, 10**10)  # D = 1 s: nothing done
    starts = window_starts(ts)
    X = window_features(ts, size, rtt, completion, starts)
    assert (X[:, [2, 3, 4, 6, 9]] == 0.0).all()
    assert X[0, 8] == 0.0  # constant size: zero variance


def test_rtt_ewma_matches_python_floats():
    rng = np.random.default_rng(11)
    ts = np.cumsum(rng.integers(1, 2 * MS, 2000))
    rtt = np.where(rng.random(2000) < 0.3, rng.integers(0, 10**9, 2000), -1)
    size = np.full(2000, 100)
    completion, _ = simulate(ts, size, 4, 200_000, 5000, 10**10)
    starts = window_starts(ts)
    X = window_features(ts, size, rtt, completion, starts)
    for w, start in enumerate(starts.tolist()):
        e = None
        for t, x in zip(ts.tolist(), rtt.tolist(), strict=True):
            if t >= start + 200 * MS:
                break
            if x >= 0:
                e = float(x) if e is None else e + (float(x) - e) * 0.125
        assert X[w, 9] == (0.0 if e is None else e / 1000.0)


def test_training_columns_follow_feature_schema():
    assert COLUMNS[1:11] == tuple(FEATURE_NAMES)


@pytest.mark.parametrize("seed", range(25))
def test_windows_and_features_match_the_plain_python_reference(seed: int) -> None:
    rng = random.Random(seed)
    ts, size, rtt, quantum = reference_sim.random_trace(rng, rng.choice([2, 40, 300]))
    starts = window_starts(np.array(ts))
    assert starts.tolist() == reference_sim.window_starts(ts)
    n, d_ns = reference_sim.random_policy(rng, quantum)
    cost, link = reference_sim.random_link(rng)
    completion, _ = reference_sim.simulate(ts, size, n, d_ns, cost, link)
    got = window_features(np.array(ts), np.array(size), np.array(rtt), np.array(completion),
                          starts)
    for row, s in zip(got.tolist(), starts.tolist(), strict=True):
        assert row == reference_sim.window_features(ts, size, rtt, completion, s), s


def test_features_match_the_reference_when_completions_land_on_window_edges() -> None:
    # At 1 byte = 1 ns with flush cost 900 ns, packet 1 (deadline flush at 199.999 ms) completes
    # at exactly 200 ms: the end of window 0 (not a completion there) and the middle of
    # window 1; packet 3 arrives 1 us after the end of window 1.
    ts = [0, 199_998_000, 250 * MS, 300 * MS + 1000, 400 * MS]
    size = [100, 100, 100, 100, 100]
    rtt = [-1, 5, -1, 7, -1]
    completion, _ = reference_sim.simulate(ts, size, 4, 1000, 900, BYTE_NS_LINK)
    assert completion[1] == 200 * MS
    starts = window_starts(np.array(ts))
    got = window_features(np.array(ts), np.array(size), np.array(rtt), np.array(completion),
                          starts)
    assert starts.tolist() == [0, 100 * MS, 200 * MS]
    for row, s in zip(got.tolist(), starts.tolist(), strict=True):
        assert row == reference_sim.window_features(ts, size, rtt, completion, s), s
