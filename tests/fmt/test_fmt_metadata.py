"""The canonical NEM1 YAML profile (spec 6.1): emitter, strict parser, agreement with PyYAML."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import finite_floats, keys, metadata_dicts, metadata_values

from reflexfmt.metadata import (
    MetadataError,
    _parse_common,
    canonical_float,
    emit,
    parse,
    parse_text,
)

ROOT = Path(__file__).resolve().parents[2]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, metadata_values(), min_size=1, max_size=5))
def test_every_canonical_document_is_yaml_with_the_same_value(doc):
    data = emit(doc)
    assert parse(data) == doc
    assert emit(parse(data)) == data
    assert yaml.safe_load(data.decode("utf-8")) == doc


@settings(max_examples=100, deadline=None)
@given(metadata_dicts())
def test_valid_metadata_round_trips(doc):
    assert parse(emit(doc)) == doc


@settings(max_examples=200, deadline=None)
@given(finite_floats)
def test_canonical_float_reads_back(x):
    text = canonical_float(x)
    assert float(text) == x and math.copysign(1, float(text)) == math.copysign(1, x)
    assert "." in text
    assert yaml.safe_load(f"a: {text}\n")["a"] == x


@pytest.mark.parametrize(
    "x, text",
    [
        (0.001, "0.001"),
        (12.5, "12.5"),
        (100.0, "100.0"),
        (1234567890123456.0, "1234567890123456.0"),
        (1e16, "1.0e+16"),
        (2.5e-05, "2.5e-05"),
        (0.0001, "0.0001"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (5e-324, "5.0e-324"),
    ],
)
def test_canonical_float_examples(x, text):
    assert canonical_float(x) == text


@settings(max_examples=300, deadline=None)
@given(metadata_dicts())
def test_common_entry_parser_equals_the_reference(doc):
    """parse() takes _parse_common for documents of common entries: it must return exactly
    what the entry-by-entry reference returns, or None (then parse() uses the reference)."""
    text = emit(doc).decode("utf-8")
    common = _parse_common(text)
    assert parse_text(text) == doc
    assert common is None or common == doc
    lines = text.splitlines()
    for cut in range(len(lines)):  # drop or duplicate a line: both refuse or agree
        for edited in (lines[:cut] + lines[cut + 1 :], lines[: cut + 1] + lines[cut:]):
            edited_text = "".join(line + "\n" for line in edited)
            try:
                expected = parse_text(edited_text)
            except MetadataError:
                assert _parse_common(edited_text) is None
            else:
                assert _parse_common(edited_text) in (None, expected)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='ab_z: "\\x.-019e{}[],\n', max_size=60))
def test_common_entry_parser_never_accepts_more(text):
    common = _parse_common(text)
    if common is not None:
        assert parse_text(text) == common


def test_common_entry_parser_takes_the_usual_metadata():
    text = (ROOT / "spec" / "examples" / "typical.json").read_text(encoding="utf-8")
    doc = json.loads(text)["metadata"]
    assert _parse_common(emit(doc).decode("utf-8")) == doc


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_give_only_metadata_errors(data):
    try:
        parse(data)
    except MetadataError as exc:
        assert exc.code in {"E_METADATA_UTF8", "E_METADATA_YAML"}
        assert 0 <= exc.offset <= len(data)


@pytest.mark.parametrize(
    "text, offset",
    [
        (b"a: 1\nb: [1,2]\n", 10),
        (b"a: 1\n  b: 2\n", 5),
        (b'a: "x\ty"\n', 3),
        (b'a: "\\u0041"\n', 3),
        (b"a: -0\n", 3),
        (b"a: 1.50\n", 3),
        (b"a: 9223372036854775808\n", 3),
        (b"a: 1\n\n", 5),
        (b"a: 1\r\n", 4),
    ],
)
def test_non_canonical_is_rejected_with_offset(text, offset):
    with pytest.raises(MetadataError) as info:
        parse(text)
    assert (info.value.code, info.value.offset) == ("E_METADATA_YAML", offset)


def test_nesting_limit():
    deep: dict = {"v": 1}
    for _ in range(7):
        deep = {"k": deep}
    assert parse(emit(deep)) == deep  # 8 levels
    with pytest.raises(ValueError):
        emit({"k": deep})
    text = "".join(f"{'  ' * i}k:\n" for i in range(8)) + "  " * 8 + "v: 1\n"
    with pytest.raises(MetadataError):
        parse(text.encode())


def test_long_strings_do_not_backtrack():
    parse(b'a: "' + b"x" * 60000 + b'"\n')
    with pytest.raises(MetadataError):
        parse(b'a: "' + b"x\\" * 30000 + b"\n")


def test_long_lines_that_are_not_entries_do_not_backtrack():
    """One 64 KB line of key characters (or of `key: ` pieces) is refused at once; an
    unanchored scan for entries would try every character and take minutes."""
    def hang(signum: int, frame: object) -> None:
        raise TimeoutError("parse did not finish within 5 s (linear: a few ms)")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(5)  # a hang guard, not a speed test
    try:
        for text in (b"a" * 65000 + b"\n", b"ok: 1\n" + b"b" * 65000 + b"\n",
                     b'a: "' + b"b: " * 21000 + b"\n"):
            with pytest.raises(MetadataError):
                parse(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_key_rules():
    for bad in ({"Yes": 1}, {"yes": 1}, {"y": 1}, {"n": 1}, {"a-b": 1}, {"k" * 65: 1}, {1: 2}):
        with pytest.raises(ValueError):
            emit(bad)
    for word in ("y", "n", "yes", "no", "on", "off", "true", "false", "null"):
        with pytest.raises(MetadataError):
            parse(f"a:\n  {word}: 1\n".encode())
    assert parse(emit({"k" * 64: 1})) == {"k" * 64: 1}
