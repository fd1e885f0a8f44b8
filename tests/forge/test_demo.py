"""A short ``reflex-forge demo``: every stage runs and leaves its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reflexfmt import load
from reflexforge.cli import main


def test_short_demo_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    monkeypatch.chdir(tmp_path)  # short names: the inspection's panel title is not cut
    out = tmp_path / "demo"
    code = main(["demo", "--out", "demo", "--duration", "6", "--workers", "1", "--quiet"])
    assert code == 1  # the shadow verdict: a 6 s trace is never promotable
    shown = capsys.readouterr().out
    # the inspection names the model where it ends up (it named the staging path)
    assert "─ demo/model.reflex ─" in shown and "reflex-tmp" not in shown
    for name in ("telemetry.csv", "training-set.csv", "model.reflex", "heldout.csv",
                 "report.json", "report.png"):
        assert (out / name).is_file(), name
    assert load(out / "model.reflex").metadata["feature_schema"] == "v1"
    assert json.loads((out / "report.json").read_text())["promoted"] is False


def test_demo_into_a_file_is_bad_input(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["demo", "--out", str(blocker / "x"), "--duration", "6", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "E_IO" in err


def test_failed_demo_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    # 0.2 s of traffic: synth writes it, but its packets span less than one window
    assert main(["demo", "--out", str(out), "--duration", "0.2", "--workers", "1",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # named by its place in DIR (it named the staging path, .telemetry.csv.*.reflex-tmp/)
    assert err.startswith(f"{out / 'telemetry.csv'}: E_TRACE_SHORT: "), err
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "mine.txt").write_text("x")
    assert main(["demo", "--out", str(kept), "--duration", "0.2", "--workers", "1",
                 "--quiet"]) == 2
    assert [p.name for p in kept.iterdir()] == ["mine.txt"]
