"""All of a command's outputs or none (commands/staging.py): a failed, interrupted or
refused run leaves nothing of itself and never touches a file it did not write."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from shadow_helpers import constant_reflex, make_trace  # tests/shadow_helpers.py

from reflexfmt import dump
from reflexforge.cli import main
from reflexforge.commands.staging import StagedOutputs

FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full")


def write_csv(path: Path, seconds: float = 15.0) -> Path:
    ts, size, rtt = make_trace(5, seconds, 10_000)
    with open(path, "w") as handle:
        handle.write("ts_ns,bytes,rtt_ns\n")
        for t, b, r in zip(ts.tolist(), size.tolist(), rtt.tolist(), strict=True):
            handle.write(f"{t},{b},{'' if r < 0 else r}\n")
    return path


def shadow_args(model: Path, telemetry: Path, *extra: str) -> list[str]:
    return ["shadow", str(model), str(telemetry), "--quiet", "--workers", "1",
            "--min-duration", "1", "--gate-static", "off", *extra]


def one_error_line(capsys: pytest.CaptureFixture[str], code: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{code}:" in err[0] and "Traceback" not in err[0], err
    return err[0]


def test_failed_demo_keeps_the_files_already_in_its_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    out.mkdir()
    (out / "report.json").write_text("mine\n")
    (out / "keep.txt").write_text("mine\n")
    assert main(["demo", "--out", str(out), "--duration", "0.2", "--workers", "1",
                 "--quiet"]) == 2
    one_error_line(capsys, "E_TRACE_SHORT")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "report.json"]
    assert (out / "report.json").read_text() == "mine\n"


def test_staged_outputs_interrupted_leave_nothing(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("previous\n")
    with pytest.raises(KeyboardInterrupt), StagedOutputs() as staging:
        staging.path(tmp_path / "a.csv").write_text("new a\n")
        staging.path(tmp_path / "b.csv").write_text("new b\n")
        raise KeyboardInterrupt  # Ctrl-C between the second write and the renames
    assert [p.name for p in tmp_path.iterdir()] == ["b.csv"]
    assert (tmp_path / "b.csv").read_text() == "previous\n"
    with StagedOutputs() as staging:
        staging.path(tmp_path / "a.csv").write_text("new a\n")
        staging.path(tmp_path / "b.csv").write_text("new b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]
    assert (tmp_path / "b.csv").read_text() == "new b\n"


def test_a_signal_while_renaming_comes_after_every_output_is_in_place(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), StagedOutputs() as staging:
        staging.path(tmp_path / "a.csv").write_text("a\n")
        staging.path(tmp_path / "b.csv").write_text("b\n")
        original = os.replace

        def replace_then_interrupt(src, dst):  # Ctrl-C right after the first rename
            original(src, dst)
            os.kill(os.getpid(), signal.SIGINT)

        os.replace = replace_then_interrupt
        try:
            staging.commit()
        finally:
            os.replace = original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


@needs_dev_full
def test_build_writes_no_training_set_when_the_model_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    telemetry = write_csv(tmp_path / "t.csv", 6.0)
    assert main(["build", str(telemetry), "-o", FULL, "--training-set",
                 str(tmp_path / "ts.csv"), "--workers", "1", "-q"]) == 2
    assert FULL in one_error_line(capsys, "E_IO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


@needs_dev_full
def test_shadow_writes_no_report_when_the_plot_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    telemetry = write_csv(tmp_path / "t.csv")
    dump(constant_reflex(1, 50), tmp_path / "m.reflex")
    assert main(shadow_args(tmp_path / "m.reflex", telemetry, "--report",
                            str(tmp_path / "rr.json"), "--plot", FULL)) == 2
    assert FULL in one_error_line(capsys, "E_IO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.reflex", "t.csv"]


def test_shadow_records_a_non_utf8_name_as_text(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    base = os.fsencode(tmp_path)
    model = os.fsdecode(base + b"/s\xff.reflex")
    telemetry = os.fsdecode(base + b"/t\xfe.csv")
    dump(constant_reflex(1, 50), model)
    write_csv(Path(telemetry))
    report = tmp_path / "r.json"
    assert main(shadow_args(Path(model), Path(telemetry), "--report", str(report))) == 1
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["model"]["path"].endswith("/s\\xff.reflex")
    assert data["trace"]["path"].endswith("/t\\xfe.csv")
    assert "s\\xff.reflex: NOT PROMOTED" in capsys.readouterr().out
    assert main(shadow_args(Path(model), Path(telemetry))) == 1  # without --report too


def test_promote_to_refuses_to_overwrite_the_telemetry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump(constant_reflex(1, 50), tmp_path / "s1.reflex")
    telemetry = write_csv(tmp_path / "s1.reflex.shadow.json")
    before = telemetry.read_bytes()
    assert main(shadow_args(tmp_path / "s1.reflex", telemetry, "--promote-to",
                            str(tmp_path))) == 2
    assert "--promote-to" in one_error_line(capsys, "E_USAGE")
    assert telemetry.read_bytes() == before
    assert main(shadow_args(tmp_path / "s1.reflex", telemetry, "--promote-to", "")) == 2
    assert "empty" in one_error_line(capsys, "E_USAGE")
