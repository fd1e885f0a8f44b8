"""Hypothesis mutation tests for reflexfmt: byte flips, splices, insertions and deletions,
size and count fields set to huge values, metadata edits, and plain random bytes.

Each input must keep the invariants of fuzz/invariants.py: only ReflexFormatError escapes,
validate agrees with loads, an accepted file is canonical and evaluates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))
from invariants import check  # noqa: E402
from mutations import (  # noqa: E402
    fix_crc,
    flips,
    huge_fields,
    inserts_and_deletes,
    metadata_edits,
    seeds,
    splices,
)

FAST = settings(max_examples=300, deadline=None, derandomize=True)


def test_every_vector_keeps_the_invariants() -> None:
    for data in seeds():
        check(data)


@FAST
@given(data=flips(), recompute_crc=st.booleans())
def test_byte_flips(data: bytes, recompute_crc: bool) -> None:
    check(fix_crc(data) if recompute_crc else data)


@FAST
@given(data=splices(), recompute_crc=st.booleans())
def test_splices(data: bytes, recompute_crc: bool) -> None:
    check(fix_crc(data) if recompute_crc else data)


@FAST
@given(data=inserts_and_deletes(), recompute_crc=st.booleans())
def test_insertions_and_deletions(data: bytes, recompute_crc: bool) -> None:
    check(fix_crc(data) if recompute_crc else data)


@FAST
@given(data=huge_fields(), recompute_crc=st.booleans())
def test_counts_and_lengths_set_to_huge_values(data: bytes, recompute_crc: bool) -> None:
    check(fix_crc(data) if recompute_crc else data)


@FAST
@given(data=metadata_edits())
def test_metadata_edits(data: bytes) -> None:
    check(fix_crc(data))


@FAST
@given(data=st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check(data)
    check(b"NEM1\x01" + data)
