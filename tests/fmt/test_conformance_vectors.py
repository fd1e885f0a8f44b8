"""reflexfmt graded against the conformance vectors in spec/vectors/ (issue 5).

Also checks that the committed vectors equal a fresh run of tools/gen_vectors.py (drift) and
that they cover what the manifest promises: every error code of spec section 13.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import reflexfmt
from reflexfmt import cli_inspect
from reflexfmt.errors import ERROR_CODES
from reflexfmt.jsonshape import to_document

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "spec" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
ENTRIES = MANIFEST["vectors"]
ACCEPT = [v for v in ENTRIES if v["result"] == "accept"]
REJECT = [v for v in ENTRIES if v["result"] == "reject"]


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in entries]


def _expected(entry: dict[str, Any]) -> dict[str, Any]:
    return json.loads((VECTORS / entry["expected"]).read_text(encoding="utf-8"))


def _canonical_json(doc: Any) -> str:
    """JSON text that tells -0.0 from 0.0 and 1 from 1.0."""
    return json.dumps(doc, sort_keys=True, allow_nan=False)


def test_committed_vectors_match_a_fresh_generation(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_vectors.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    committed = {p.name: p.read_bytes() for p in VECTORS.iterdir() if p.is_file()}
    committed.pop("README.md", None)
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], "run: python tools/gen_vectors.py"


def test_manifest_covers_the_issue() -> None:
    assert len(ACCEPT) >= 15 and len(REJECT) >= 40
    assert {v["code"] for v in REJECT} == ERROR_CODES
    assert len({v["id"] for v in ENTRIES}) == len(ENTRIES)
    for v in ENTRIES:
        assert v["file"] == f"{v['id']}.reflex" and v["id"][:2] == ("y_" if v in ACCEPT else "n_")
        assert (VECTORS / v["file"]).is_file() and v["comment"]


@pytest.mark.parametrize("entry", REJECT, ids=_ids(REJECT))
def test_reflexfmt_rejects_n_vector(entry: dict[str, Any]) -> None:
    data = (VECTORS / entry["file"]).read_bytes()
    with pytest.raises(reflexfmt.ReflexFormatError) as info:
        reflexfmt.loads(data)
    assert info.value.code == entry["code"]
    if entry["offset"] is not None:
        assert info.value.offset == entry["offset"]
    findings = reflexfmt.validate(data)
    assert (findings[0].code, findings[0].offset) == (info.value.code, info.value.offset)


@pytest.mark.parametrize("entry", ACCEPT, ids=_ids(ACCEPT))
def test_reflexfmt_accepts_y_vector(entry: dict[str, Any]) -> None:
    data = (VECTORS / entry["file"]).read_bytes()
    expected = _expected(entry)
    reflex = reflexfmt.loads(data)
    assert reflexfmt.validate(data) == []
    assert _canonical_json(to_document(reflex, data)) == _canonical_json(expected["decoding"])
    assert reflexfmt.dumps(reflex) == data
    for case in expected["evaluations"]:
        x = [float(v) for v in case["x"]]
        assert list(reflex.quantize(x)) == case["q"], case["x"]
        assert list(reflex.evaluate(x)) == case["y"], case["x"]
    runtime = reflexfmt.Runtime(reflex)
    for step in expected["runtime"]:
        assert list(runtime.step([float(v) for v in step["x"]])) == step["y"]


@pytest.mark.parametrize("entry", ACCEPT, ids=_ids(ACCEPT))
def test_reflex_inspect_json_prints_the_expected_decoding(
    entry: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_inspect.main(["--json", str(VECTORS / entry["file"])]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert _canonical_json(printed) == _canonical_json(_expected(entry)["decoding"])
