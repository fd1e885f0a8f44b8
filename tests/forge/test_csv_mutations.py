"""Mutated telemetry and training-set files: the readers raise ForgeError or succeed, and
nothing else (no numpy, pyarrow, csv or Unicode exception escapes); what they accept holds
exactly the rows a plain reading of the spec finds, and a training set round-trips."""

from __future__ import annotations

import csv
import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mutation_settings import mutation_settings

from reflexforge.config import ForgeOptions
from reflexforge.errors import ForgeError
from reflexforge.labelling import make_training_set
from reflexforge.synth import synthesize
from reflexforge.telemetry import read_telemetry
from reflexforge.trainset import format_training_set, parse_training_set

TOKENS = (b",", b"\n", b"\r", b"\r\n", b'"', b'""', b"-", b"0", b"9" * 25, b"\xff", b"\x00",
          b"\xef\xbb\xbf", b" ", b"1e5", b"+1", b"nan", b"0x10", b"ts_ns", b"bytes", b"rtt_ns")

edits = st.lists(
    st.tuples(st.sampled_from(("insert", "delete", "replace", "truncate")),
              st.floats(min_value=0, max_value=1), st.sampled_from(TOKENS),
              st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=255)),
    min_size=1, max_size=4)


def mutate(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for op, where, token, length, byte in ops:
        pos = int(where * len(out))
        if op == "insert":
            out[pos:pos] = token
        elif op == "delete":
            del out[pos:pos + length]
        elif op == "replace" and out:
            out[min(pos, len(out) - 1)] = byte
        elif op == "truncate":
            del out[pos:]
    return bytes(out)


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("mut") / "t.csv"
    synthesize(path, "mixed", duration_s=1.0, seed=2)
    data = path.read_bytes()[:12_000]
    return data[:data.rfind(b"\n") + 1]


@mutation_settings(200)
@given(ops=edits, compressed=st.booleans())
def test_mutated_telemetry_raises_only_forge_errors(telemetry: bytes, tmp_path: Path, ops,
                                                    compressed: bool) -> None:
    data = mutate(telemetry, ops)
    path = tmp_path / ("t.csv.gz" if compressed else "t.csv")
    path.write_bytes(gzip.compress(data, mtime=0) if compressed else data)
    try:
        trace = read_telemetry(path, min_span_ns=0)
    except ForgeError:
        return
    ts_ns, size, rtt_ns = reference_rows(data)  # what spec/telemetry.md section 1 says
    assert trace.ts_ns.tolist() == ts_ns
    assert trace.size.tolist() == size
    assert trace.rtt_ns.tolist() == rtt_ns
    assert ts_ns and ts_ns == sorted(ts_ns)
    assert all(0 <= t <= 2**62 for t in ts_ns) and all(1 <= b <= 65535 for b in size)
    assert all(r >= -1 for r in rtt_ns)


def reference_rows(data: bytes) -> tuple[list[int], list[int], list[int]]:
    """The rows of an accepted Telemetry v1 file, read by spec/telemetry.md section 1 with
    the standard library: a BOM dropped, lines split at \\n, \\r\\n or \\r, empty lines
    skipped, each line one RFC 4180 row, columns by name, integers with optional spaces or
    tabs around them, an empty rtt_ns = no sample (-1)."""
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    lines = [line for line in re.split("\r\n|\r|\n", text) if line != ""]
    rows = [next(csv.reader([line])) for line in lines]
    header = rows[0]
    columns = {name: header.index(name) for name in ("ts_ns", "bytes", "rtt_ns") if name in header}
    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    for row in rows[1:]:
        out[0].append(int(row[columns["ts_ns"]].strip(" \t")))
        out[1].append(int(row[columns["bytes"]].strip(" \t")))
        rtt = row[columns["rtt_ns"]].strip(" \t") if "rtt_ns" in columns else ""
        out[2].append(int(rtt) if rtt else -1)
    return out


@pytest.fixture(scope="module")
def training_set(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ts") / "t.csv"
    synthesize(path, "mixed", duration_s=1.0, seed=2)
    tset, _ = make_training_set(read_telemetry(path), ForgeOptions(workers=1))
    return format_training_set(tset).decode()


@mutation_settings(300)
@given(ops=edits)
def test_mutated_training_set_raises_only_forge_errors(training_set: str, ops) -> None:
    text = mutate(training_set.encode(), ops).decode("utf-8", errors="replace")
    try:
        parsed = parse_training_set(text, "t.csv")
    except ForgeError:
        return
    rows = [line for line in text.split("\n")[1:] if line not in ("", "\r")]
    assert len(parsed) == len(rows) > 0
    assert (parsed.window_start_ns[1:] > parsed.window_start_ns[:-1]).all()
    again = parse_training_set(format_training_set(parsed).decode(), "t.csv")
    for name in ("window_start_ns", "X", "flush_threshold", "max_batch_delay_us", "J"):
        assert np.array_equal(getattr(again, name), getattr(parsed, name), equal_nan=True), name
