"""Drift: the error codes in spec/NEM1.md section 13 and in reflexfmt are the same set."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from reflexfmt import dumps, loads
from reflexfmt.errors import ERROR_CODES, TOOL_CODES

ROOT = Path(__file__).resolve().parent.parent


def _spec_table_codes() -> set[str]:
    text = (ROOT / "spec" / "NEM1.md").read_text(encoding="utf-8")
    section = text.split("## 13. Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(E_[A-Z0-9_]+)` \|", section, re.MULTILINE))


def test_spec_table_equals_code():
    assert _spec_table_codes() == ERROR_CODES


def test_code_uses_only_spec_codes_and_every_one():
    used = set()
    for path in (ROOT / "reflexfmt").glob("*.py"):
        if path.name != "errors.py":
            used |= set(re.findall(r'"(E_[A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    assert used <= ERROR_CODES | TOOL_CODES
    assert ERROR_CODES <= used


def test_tests_cover_every_code():
    text = (ROOT / "tests" / "test_fmt_semantic.py").read_text(encoding="utf-8")
    assert {c for c in ERROR_CODES if f'"{c}"' in text} == ERROR_CODES


def test_crc32_check_value(typical_bytes):
    assert zlib.crc32(b"123456789") == 0xCBF43926
    data = dumps(loads(typical_bytes))
    assert int.from_bytes(data[-4:], "little") == zlib.crc32(data[:-4])
