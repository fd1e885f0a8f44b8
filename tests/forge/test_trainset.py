"""training-set.csv: make, write, read back, and reject bad files (spec/forge.md section 6)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from reflexforge.config import ForgeOptions
from reflexforge.errors import ForgeError
from reflexforge.labelling import make_training_set
from reflexforge.trace import Trace
from reflexforge.trainset import HEADER, format_training_set, read_training_set, write_training_set


def small_trace(seconds: float = 1.5, rate: float = 20_000, seed: int = 4) -> Trace:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    ts = np.cumsum(rng.exponential(1e9 / rate, n).astype(np.int64))
    size = rng.integers(64, 1501, n)
    rtt = np.where(rng.random(n) < 0.02, rng.integers(10_000, 200_000, n), -1)
    return Trace(ts_ns=ts, size=size, rtt_ns=rtt, sha1="0" * 40, path="mem.csv")


@pytest.fixture(scope="module")
def labelled():
    return make_training_set(small_trace(), ForgeOptions(workers=1))


def test_round_trip_is_exact(labelled, tmp_path):
    ts, costs = labelled
    assert len(ts) == costs.J.shape[0] == 13
    path = tmp_path / "training-set.csv"
    write_training_set(path, ts)
    back = read_training_set(path)
    assert np.array_equal(back.window_start_ns, ts.window_start_ns)
    assert back.X.tobytes() == ts.X.tobytes()
    assert back.J.tobytes() == ts.J.tobytes()
    assert np.array_equal(back.flush_threshold, ts.flush_threshold)
    assert np.array_equal(back.max_batch_delay_us, ts.max_batch_delay_us)
    assert format_training_set(back) == path.read_bytes()
    assert path.read_bytes().startswith(HEADER.encode() + b"\n")


def test_labels_are_the_oracle_argmin(labelled):
    ts, costs = labelled
    rows = np.arange(len(ts))
    assert np.array_equal(ts.J, costs.J.min(axis=1))
    assert (costs.J[rows] >= ts.J[:, None]).all()


def test_same_bytes_every_time(labelled):
    again, _ = make_training_set(small_trace(), ForgeOptions(workers=1))
    assert format_training_set(again) == format_training_set(labelled[0])


def test_short_trace_is_an_error():
    trace = small_trace(seconds=0.1)
    with pytest.raises(ForgeError) as err:
        make_training_set(trace, ForgeOptions(workers=1))
    assert err.value.code == "E_TRACE_SHORT"


def good_text(labelled) -> str:
    return format_training_set(labelled[0]).decode()


def replace_field(text: str, line: int, column: int, value: str) -> str:
    lines = text.split("\n")
    fields = lines[line - 1].split(",")
    fields[column] = value
    lines[line - 1] = ",".join(fields)
    return "\n".join(lines)


@pytest.mark.parametrize("edit, line, column", [
    (lambda t: "", 1, None),
    (lambda t: HEADER + "\n", 2, None),
    (lambda t: t.replace("queue_depth", "queue"), 1, 2),
    (lambda t: t.replace(",J\n", "\n", 1), 1, 14),
    (lambda t: replace_field(t, 2, 0, "12x"), 2, "window_start_ns"),
    (lambda t: replace_field(t, 3, 0, "0"), 3, "window_start_ns"),
    (lambda t: replace_field(t, 2, 1, "nan"), 2, "queue_depth"),
    (lambda t: replace_field(t, 2, 4, "1_0"), 2, "latency_p50"),
    (lambda t: replace_field(t, 2, 10, ""), 2, "rtt_ewma"),
    (lambda t: replace_field(t, 4, 11, "5"), 4, "flush_threshold"),
    (lambda t: replace_field(t, 2, 12, "100"), 2, "max_batch_delay_us"),
    (lambda t: replace_field(t, 5, 13, "1e999"), 5, "J"),
    (lambda t: t.replace("\n", ",7\n", 3).split("\n", 1)[0] + "\n" + t.split("\n", 1)[1], 1, 15),
    (lambda t: t + "1,2,3\n", 15, None),
])
def test_bad_files(labelled, tmp_path, edit, line, column):
    path = tmp_path / "bad.csv"
    path.write_text(edit(good_text(labelled)))
    with pytest.raises(ForgeError) as err:
        read_training_set(path)
    assert err.value.code == "E_TRAINSET"
    assert (err.value.line, err.value.column) == (line, column)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))


def test_not_utf8(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + b"\n\xff\n")
    with pytest.raises(ForgeError) as err:
        read_training_set(path)
    assert (err.value.code, err.value.line) == ("E_TRAINSET", 2)


def test_unwritable_output_leaves_nothing(labelled, tmp_path):
    target = tmp_path / "missing-dir" / "training-set.csv"
    with pytest.raises(OSError):
        write_training_set(target, labelled[0])
    assert not target.exists()
    assert os.listdir(tmp_path) == []
