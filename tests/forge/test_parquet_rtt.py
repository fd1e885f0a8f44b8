"""The RTT samples of a Parquet row group, taken from its validity bitmap without a copy of
the column (ingest/parquet.py ``_rtt``), are pyarrow's own: the valid rows' indices and
values, for any null pattern, integer type and slice offset (a multiple of 8 takes the
bitmap walk, any other pyarrow's path), and the first negative value is E_CSV_VALUE at its
row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reflexforge.errors import ForgeError
from reflexforge.ingest.parquet import _rtt


def _reference(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    where = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
    return where, column.drop_null().to_numpy(zero_copy_only=False).astype(np.int64)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(0, 2**40)), max_size=100),
       offset=st.integers(0, 20), kind=st.sampled_from([pa.int64(), pa.int32(), pa.uint64()]),
       rows=st.integers(0, 10**6))
def test_samples_are_pyarrows(values, offset, kind, rows) -> None:
    if kind == pa.int32():
        values = [None if v is None else v % 2**31 for v in values]
    column = pa.array([0] * offset + values, type=kind).slice(offset)
    table = pa.table({"ts_ns": np.zeros(len(values), np.int64), "rtt_ns": column})
    at, got = _rtt("t.parquet", table, rows)
    where, want = _reference(column)
    assert at.tolist() == (where + rows).tolist()
    assert got.tolist() == want.tolist() and got.dtype == np.int64


@pytest.mark.parametrize("offset", [0, 8, 3])
def test_the_first_negative_sample_is_placed(offset) -> None:
    column = pa.array([5] * offset + [None, 7, None, -4, -9, 3], pa.int64()).slice(offset)
    table = pa.table({"rtt_ns": column})
    with pytest.raises(ForgeError) as caught:
        _rtt("t.parquet", table, 100)
    assert str(caught.value) == ("t.parquet:rtt_ns: E_CSV_VALUE: row 104: rtt_ns must be an "
                                 "integer >= 0 or null, got -4")
