"""Drift between spec/NEM1.md and reflexfmt: the error codes of section 13 (each reported on
some vector), the forbidden metadata keys of section 6.1 and the unit strings of appendix A."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pytest

from reflexfmt import (
    FEATURE_NAMES,
    FEATURE_UNITS,
    OUTPUT_NAMES,
    OUTPUT_UNITS,
    ReflexFormatError,
    dumps,
    loads,
    validate,
)
from reflexfmt.cli_inspect import main as inspect_main
from reflexfmt.errors import ERROR_CODES, TOOL_CODES
from reflexfmt.layout import walk
from reflexfmt.limits import RESERVED_WORDS

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "spec" / "vectors"


def _spec_table_codes() -> set[str]:
    text = (ROOT / "spec" / "NEM1.md").read_text(encoding="utf-8")
    section = text.split("## 13. Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(E_[A-Z0-9_]+)` \|", section, re.MULTILINE))


def test_spec_table_equals_code():
    assert _spec_table_codes() == ERROR_CODES


def _spec_text() -> str:
    return (ROOT / "spec" / "NEM1.md").read_text(encoding="utf-8")


def test_spec_unit_table_equals_code():
    """Appendix A lists the exact `unit` string of every feature and output."""
    section = _spec_text().split("## Appendix A.", 1)[1].split("\n## ", 1)[0]
    units = {}
    for names, unit in re.findall(r"^\| ([^|]*`[a-z_0-9]+`[^|]*) \| `([^`]+)` \|", section, re.M):
        for index, name in re.findall(r"(\d+) `([a-z_0-9]+)`", names):
            units["output" if "output" in names else "feature", int(index), name] = unit
    expected = {("feature", i, n): FEATURE_UNITS[i] for i, n in enumerate(FEATURE_NAMES)}
    expected |= {("output", o, n): OUTPUT_UNITS[o] for o, n in enumerate(OUTPUT_NAMES)}
    assert units == expected


def test_spec_forbidden_keys_equal_code():
    section = _spec_text().split("### 6.1", 1)[1].split("3. A `string`", 1)[0]
    listed = section.split("MUST NOT be one of", 1)[1].split("(", 1)[0]
    assert set(re.findall(r"`([a-z]+)`", listed)) == RESERVED_WORDS


def test_code_uses_only_spec_codes_and_every_one():
    used = set()
    for path in (ROOT / "reflexfmt").glob("*.py"):
        if path.name != "errors.py":
            used |= set(re.findall(r'"(E_[A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    assert used <= ERROR_CODES | TOOL_CODES
    assert ERROR_CODES <= used


def test_every_code_is_reported_on_some_vector():
    """Run every reject vector through loads and validate: together they report every code
    of section 13 (E_IO excepted: it is about reading, not bytes), and nothing else."""
    manifest = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
    raised, found = set(), set()
    for entry in manifest["vectors"]:
        if entry["result"] != "reject":
            continue
        data = (VECTORS / entry["file"]).read_bytes()
        with pytest.raises(ReflexFormatError) as info:
            loads(data)
        assert info.value.code == entry["code"], entry["id"]
        if entry["offset"] is None:  # E_METADATA_YAML: the range of spec 9.3
            walked = walk(data)
            first = walked.offset("metadata.yaml")
            assert first <= info.value.offset <= first + walked.value.metadata.length
        raised.add(info.value.code)
        found |= {f.code for f in validate(data)}
    assert raised == ERROR_CODES
    assert found == ERROR_CODES


def test_io_code_is_reported_for_an_unreadable_file(tmp_path, capsys):
    assert TOOL_CODES == {"E_IO"}
    assert inspect_main(["--verify", str(tmp_path / "missing.reflex")]) == 2
    assert ": E_IO: " in capsys.readouterr().err


def test_crc32_check_value(typical_bytes):
    assert zlib.crc32(b"123456789") == 0xCBF43926
    data = dumps(loads(typical_bytes))
    assert int.from_bytes(data[-4:], "little") == zlib.crc32(data[:-4])
