"""Description rules of spec/NEM1.md appendix A: duplicate keys, YAML plain scalars, JSON
only when the text starts with { or [, integers only, each field's valid range."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reflexfmt.jsonshape import DescriptionError, from_document, parse_description

EXAMPLES = Path(__file__).resolve().parents[2] / "spec" / "examples"
MINIMAL = json.loads((EXAMPLES / "minimal.json").read_text())


def _error(doc_or_text: Any) -> str:
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    with pytest.raises(DescriptionError) as info:
        from_document(parse_description(text))
    assert "\n" not in str(info.value)
    return str(info.value)


def _edited(edit: Any) -> dict[str, Any]:
    doc = copy.deepcopy(MINIMAL)
    del doc["crc32"]
    edit(doc)
    return doc


def test_duplicate_keys_are_errors_in_json_and_yaml() -> None:
    text = json.dumps(_edited(lambda d: None), indent=1)
    twice = text.replace('"q_scale": 32767', '"q_scale": 5, "q_scale": 32767')
    assert _error(twice) == "$.header: duplicate key 'q_scale'"
    text = yaml.safe_dump(_edited(lambda d: None))
    twice = text.replace("  q_scale: 32767\n", "  q_scale: 5\n  q_scale: 32767\n")
    line = twice.splitlines().index("  q_scale: 32767") + 1
    assert _error(twice) == f"$: duplicate key 'q_scale' (line {line} column 3)"


def test_yaml_plain_scalars_keep_their_spelling() -> None:
    doc = parse_description("a: 12:30\nb: 0644\nc: 1e-3\nd: 0x7fff\ne: yes\nf: true\ng: -5\n"
                            "h: 1_000\ni: 0o17\nj: ~\nk: 2.5\n")
    assert doc == {"a": "12:30", "b": "0644", "c": 0.001, "d": "0x7fff", "e": "yes", "f": True,
                   "g": -5, "h": "1_000", "i": "0o17", "j": None, "k": 2.5}
    text = yaml.safe_dump(_edited(lambda d: None)).replace("q_scale: 32767", "q_scale: 0x7fff")
    assert _error(text) == "$.header.q_scale: must be an integer, got '0x7fff'"


def test_text_starting_with_a_brace_is_json_only() -> None:
    good = json.dumps(_edited(lambda d: None))
    assert parse_description("\ufeff \n" + good) == json.loads(good)
    bad = good[:-1] + ",}"
    assert _error("\ufeff" + bad) == (f"$: not valid JSON at line 1 column {len(bad)}: "
                                      "Expecting property name enclosed in double quotes")
    assert _error('{"a": NaN}') == "$: NaN is not JSON (write a finite number)"


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["header"].update(version_major=1.0), "$.header.version_major: must be 1"),
    (lambda d: d["header"].update(flags=0.0), "$.header.flags: must be 0"),
    (lambda d: d["header"].update(feature_count=10.0), "$.header.feature_count: must be 10"),
    (lambda d: d["header"].update(reserved=-0.0), "$.header.reserved: must be 0"),
    (lambda d: d["features"][0].update(index=0.0), "$.features[0].index: must be 0"),
    (lambda d: d["trees"][0].update(output=0.0), "$.trees[0].output: must be 0"),
    (lambda d: d["header"].update(q_scale=1.0), "$.header.q_scale: must be an integer"),
    (lambda d: d["trees"][0]["nodes"][0].update(value=3.0),
     "$.trees[0].nodes[0].value: must be an integer"),
    (lambda d: d.update(crc32="0x\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10"),
     "$.crc32: must be a string 0x followed by 8 lowercase hex digits"),
    (lambda d: d.update(crc32="0xABCDEF01"), "$.crc32: must be a string 0x"),
    (lambda d: d.update(crc32="0x0000_000"), "$.crc32: must be a string 0x"),
])
def test_integers_only_and_one_crc_spelling(edit, message) -> None:
    assert _error(_edited(edit)).startswith(message)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["header"].update(q_scale=70000),
     "$.header.q_scale: 70000 is outside 1..32767 (E_HEADER)"),
    (lambda d: d["header"].update(q_scale=0), "$.header.q_scale: 0 is outside 1..32767"),
    (lambda d: d["header"].update(confirm_steps=300),
     "$.header.confirm_steps: 300 is outside 1..100 (E_HEADER)"),
    (lambda d: d["header"].update(dwell_steps=10**400),
     "$.header.dwell_steps: an integer of 1329 bits is outside 0..6000 (E_HEADER)"),
    (lambda d: d["trees"][0]["nodes"][0].update(feature=300),
     "$.trees[0].nodes[0].feature: 300 is outside 0..255"),
    (lambda d: d["trees"][0]["nodes"][0].update(feature=12),
     "$.trees[0].nodes[0].feature: 12 is neither a feature index 0..9 nor 255"),
    (lambda d: d["trees"][1]["nodes"][0].update(value=40000),
     "$.trees[1].nodes[0].value: 40000 is outside -32768..32767"),
    (lambda d: d["bounds"][0].update(max=40000), "$.bounds[0].max: 40000 is outside"),
    (lambda d: d["bounds"][0].update(min=0), "$.bounds[0].min: 0 is outside 1..32767 (E_BOUNDS)"),
    (lambda d: d["trees"][0].update(nodes=[]),
     "$.trees[0].nodes: has 0 nodes, outside 1..255 (spec 4: E_LIMIT in a file)"),
    (lambda d: d["trees"][0].update(nodes=[{"feature": 255}] * 256),
     "$.trees[0].nodes: has 256 nodes, outside 1..255 (spec 4: E_LIMIT in a file)"),
    (lambda d: d["metadata"].update(Bad=1), "$.metadata: key 'Bad'"),
])
def test_values_outside_the_valid_range_name_it(edit, message) -> None:
    assert _error(_edited(edit)).startswith(message)
