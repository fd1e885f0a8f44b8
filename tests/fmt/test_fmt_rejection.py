"""Every single-bit flip, truncation and appended byte of the examples is rejected, only ever
with ReflexFormatError, and with the code spec section 9 predicts."""

from __future__ import annotations

import pytest

from reflexfmt import ReflexFormatError, loads, validate
from reflexfmt.layout import walk

# Fields whose framing check (spec 9.1) any bit flip breaks: the code it gives.
FRAMED = {
    "header.magic": "E_MAGIC",
    "header.version_major": "E_VERSION",
    "header.feature_count": "E_COUNT",
    "header.output_count": "E_COUNT",
}
# Fields where a flip changes the layout of what follows: framing codes, never E_CRC's order.
LAYOUT = ("node_count", "metadata.length")


def _error(data: bytes) -> ReflexFormatError:
    with pytest.raises(ReflexFormatError) as info:
        loads(data)
    return info.value


def test_every_single_bit_flip_is_rejected(example_bytes):
    owner = {}
    for f in walk(example_bytes).fields:
        for i in range(f.offset, f.offset + f.size):
            owner[i] = f.path
    for offset in range(len(example_bytes)):
        path = owner[offset]
        for bit in range(8):
            bad = bytearray(example_bytes)
            bad[offset] ^= 1 << bit
            error = _error(bytes(bad))
            if path in FRAMED:
                assert error.code == FRAMED[path], (offset, bit, error)
            elif path.endswith(LAYOUT):
                assert error.code in {"E_LIMIT", "E_TRUNCATED", "E_TRAILING", "E_CRC"}, error
            else:
                assert (error.code, error.offset) == ("E_CRC", len(example_bytes) - 4), error


def test_every_truncation_is_rejected(example_bytes):
    for size in range(len(example_bytes)):
        error = _error(example_bytes[:size])
        assert error.code == "E_TRUNCATED", (size, error)
        assert error.offset <= size


@pytest.mark.parametrize("extra", [b"\x00", b"\xff", b"NEM1", bytes(100)])
def test_every_appended_byte_is_rejected(example_bytes, extra):
    error = _error(example_bytes + extra)
    assert (error.code, error.offset, error.path) == ("E_TRAILING", len(example_bytes), "trailing")


def test_appended_single_bytes(minimal_bytes):
    for value in range(256):
        assert _error(minimal_bytes + bytes([value])).code == "E_TRAILING"


def test_validate_agrees_with_loads_on_flips(typical_bytes):
    for offset in range(0, len(typical_bytes), 7):
        bad = bytearray(typical_bytes)
        bad[offset] ^= 0x10
        findings = validate(bytes(bad))
        assert findings and findings[0].code == _error(bytes(bad)).code


@pytest.mark.parametrize(
    "data",
    [b"", b"N", b"NEM1", b"\x00" * 16, b"NEM1\x01\x00" + b"\xff" * 200, bytes(131073)],
)
def test_garbage_is_rejected(data):
    assert _error(data).code in {"E_TRUNCATED", "E_LIMIT", "E_MAGIC", "E_COUNT", "E_RESERVED"}
