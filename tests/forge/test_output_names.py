"""Output names: ``-`` and an empty name are usage errors where no standard output can be
written, synth refuses a name saying a format it does not write, and every summary line
shows a file name with its control characters and non-UTF-8 bytes escaped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reflexforge.cli import main


def one_error_line(capsys: pytest.CaptureFixture[str], code: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{code}:" in err[0] and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--duration", "2", "-o", "t.csv", "-q"]) == 0
    return tmp_path / "t.csv"


@pytest.mark.parametrize("argv", [
    ["convert", "t.csv", "-o", "-"],
    ["label", "t.csv", "-o", "-"],
    ["static", "16,1ms", "-o", "-"],
    ["build", "t.csv", "-o", "m.reflex", "--training-set", "-"],
])
def test_dash_is_a_usage_error_where_stdout_cannot_be_written(
        trace: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    assert "standard output" in one_error_line(capsys, "E_USAGE")
    assert sorted(p.name for p in trace.parent.iterdir()) == ["t.csv"]


@pytest.mark.parametrize("argv", [
    ["convert", "t.csv", "-o", ""],
    ["label", "t.csv", "-o", ""],
    ["synth", "--duration", "1", "-o", ""],
    ["shadow", "m.reflex", "t.csv", "--report", ""],
])
def test_an_empty_output_path_is_a_usage_error(
        trace: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    assert "output path is empty" in one_error_line(capsys, "E_USAGE")


@pytest.mark.parametrize("name", ["x.parquet", "x.pq", "x.csv.zst", "x.zstd", "x.pcap"])
def test_synth_refuses_a_format_it_does_not_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert main(["synth", "--duration", "1", "-o", str(tmp_path / name)]) == 2
    assert "synth writes CSV" in one_error_line(capsys, "E_USAGE")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["x.csv.zst", "x.zstd", "x.pcap", "x.pcapng", "x.parquet.gz"])
def test_convert_refuses_a_format_it_does_not_write(
        trace: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert main(["convert", "t.csv", "-o", name]) == 2
    assert "convert writes CSV" in one_error_line(capsys, "E_USAGE")
    assert not (trace.parent / name).exists()
    assert main(["convert", "t.csv", "-o", name, "--to", "csv", "-q"]) == 0  # as asked


@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz", "x.gz", "x.txt", "x"])
def test_synth_writes_csv_and_gzip_names(tmp_path: Path, name: str) -> None:
    assert main(["synth", "--duration", "1", "-q", "-o", str(tmp_path / name)]) == 0
    assert (tmp_path / name).is_file()


def test_summary_lines_escape_control_characters(
        trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = "l\x1b]0;pwned\x07.csv"
    assert main(["label", "t.csv", "-o", evil, "--workers", "1"]) == 0
    assert main(["convert", "t.csv", "-o", "c" + evil]) == 0
    assert main(["synth", "--duration", "1", "-o", "s" + evil]) == 0
    assert main(["static", "16,1ms", "-o", "m\x1b[31m.reflex"]) == 0
    out = capsys.readouterr()
    for text in (out.out, out.err):
        assert "\x1b" not in text and "\x07" not in text
    assert out.err.count("l\\x1b]0;pwned\\x07.csv: ") == 3
    assert "m\\x1b[31m.reflex: one leaf" in out.out
    assert (trace.parent / evil).is_file()


def test_summary_lines_show_non_utf8_bytes(
        trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"m\xff.reflex")
    assert main(["static", "16,1ms", "-o", name]) == 0
    assert "m\\xff.reflex: one leaf" in capsys.readouterr().out


def test_options_that_would_do_nothing_or_double_count_are_usage_errors(tmp_path, capsys):
    from reflexforge.cli import main

    src = tmp_path / "t.csv"
    src.write_bytes(b"ts_ns,bytes\n" + b"".join(b"%d,100\n" % (i * 1_000_000) for i in range(400)))
    (tmp_path / "u.csv").hardlink_to(src)
    for more in ([str(src)], [str(tmp_path / "u.csv")]):  # the same file, or a hard link to it
        assert main(["build", str(src), *more, "-o", str(tmp_path / "m.reflex"), "-q"]) == 2
        err = capsys.readouterr().err
        assert "E_USAGE: TELEMETRY 1 and 2 are the same file" in err, err
    assert main(["build", str(src), "-o", str(tmp_path / "m.reflex"), "--hysteresis-grid",
                 "--select", "off", "-q"]) == 2
    assert "cannot be combined with --select off" in capsys.readouterr().err
    assert not (tmp_path / "m.reflex").exists()


def test_a_write_that_fails_names_the_output_not_a_temporary_file(tmp_path):
    """A write that fails midway (a full disk; here the file size limit, EFBIG, which the
    kernel enforces like ENOSPC) is one E_IO line naming the output asked for, and nothing
    is left. It named the program (`reflex-forge: E_IO: ...`) before."""
    import resource
    import signal
    import subprocess
    import sys
    from pathlib import Path

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    forge = Path(sys.executable).with_name("reflex-forge")
    out = tmp_path / "big.csv"
    proc = subprocess.run([str(forge), "synth", "--profile", "poisson", "--duration", "5",
                           "-o", str(out), "-q"], capture_output=True, text=True,
                          preexec_fn=limited, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"{out}: E_IO: File too large"
    assert list(tmp_path.iterdir()) == []


def test_reading_warnings_show_non_utf8_bytes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A telemetry warning (here W_SPARSE) names the file as every other line does: \xff,
    # not the surrogate \udcff that Python keeps for an undecodable byte.
    name = tmp_path / os.fsdecode(b"s\xff.csv")
    name.write_text("ts_ns,bytes\n" + "".join(f"{i * 6_000_000_000},100\n" for i in range(101)))
    assert main(["label", str(name), "-o", str(tmp_path / "o.csv"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "s\\xff.csv: W_SPARSE: " in err and "\\udcff" not in err, err


def test_running_out_of_memory_is_one_line_and_leaves_nothing(tmp_path):
    """A read that cannot allocate: 900,000 rows (below the readers' guard's first check,
    tests/forge/test_memory_guard.py) under a real address-space limit at the size the
    loaded interpreter has. One E_MEMORY line, exit 2, nothing written (it was E_INTERNAL,
    'a bug', exit 3)."""
    import subprocess
    import sys

    import numpy as np

    (tmp_path / "warm.csv").write_text("ts_ns,bytes\n0,64\n300000000,64\n")
    n = 900_000
    rows = np.stack([10**15 + np.arange(n, dtype=np.int64) * 66_000, np.full(n, 1500),
                     np.full(n, 123_456_789_012)], 1)
    with open(tmp_path / "t.csv", "w") as out:  # 31.5 MB: arrays reserved by mmap
        out.write("ts_ns,bytes,rtt_ns\n")
        np.savetxt(out, rows, fmt="%d", delimiter=",")
    harness = """
import contextlib, io, resource, sys
from reflexforge.cli import main
with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
    main(["check", "warm.csv"])  # imports, compiled code and pyarrow's threads first
    main(["convert", "warm.csv", "-o", "warm.parquet", "--quiet"])
size = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (size, resource.RLIM_INFINITY))
sys.exit(main(["convert", "t.csv", "-o", "t.parquet", "--quiet"]))
"""
    proc = subprocess.run([sys.executable, "-c", harness], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("reflex-forge: E_MEMORY: not enough memory"), proc.stderr
    assert proc.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "warm.csv", "warm.parquet"]


def test_option_checks_found_by_a_tester(tmp_path, capsys, monkeypatch):
    """--flush-cost-ns above 10^9 is refused by the parser like every option (it was
    reported late, after reading); --workers with --dask is refused (the workers were
    ignored); --augment 2,4 and 4,2 give the same file."""
    from reflexforge.cli import main

    src = tmp_path / "t.csv"
    src.write_bytes(b"ts_ns,bytes\n" + b"".join(b"%d,100\n" % (i * 1_000_000) for i in range(900)))
    out = tmp_path / "m.reflex"
    with pytest.raises(SystemExit) as exit_:
        main(["build", str(src), "-o", str(out), "--flush-cost-ns", "1000000001"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --flush-cost-ns: must be an integer in 0..1000000000" in err
    assert main(["build", str(src), "-o", str(out), "--workers", "2", "--dask",
                 "tcp://127.0.0.1:9", "-q"]) == 2
    assert "--workers and --dask are alternatives" in capsys.readouterr().err
    files = []
    for order in ("2,4", "4,2"):
        target = tmp_path / f"a{order.replace(',', '')}.reflex"
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
        assert main(["build", str(src), "-o", str(target), "--augment", order,
                     "--workers", "1", "-q"]) == 0
        files.append(target.read_bytes())
    assert files[0] == files[1]


def test_a_build_without_a_validation_span_says_selection_did_not_run(tmp_path, capsys):
    from reflexforge.cli import main

    src = tmp_path / "short.csv"  # 0.3 s: one window, all of it for training
    src.write_bytes(b"ts_ns,bytes\n" + b"".join(b"%d,100\n" % (i * 1_000_000) for i in range(300)))
    assert main(["build", str(src), "-o", str(tmp_path / "m.reflex"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "warning: model selection did not run: no validation span to replay (0 of 1" in err
    assert main(["build", str(src), "-o", str(tmp_path / "m.reflex"), "-q", "--select",
                 "off"]) == 0
    assert "model selection did not run" not in capsys.readouterr().err
    # --model static on a trace with a validation span: selection ran, among one candidate
    # (it said "did not run: no validation span to replay (1200 of 5998 windows ...)")
    synth = tmp_path / "t.csv"
    assert main(["synth", "--duration", "20", "-o", str(synth), "-q"]) == 0
    assert main(["build", str(synth), "-o", str(tmp_path / "s.reflex"), "-q", "--model",
                 "static", "--workers", "1"]) == 0
    assert "model selection did not run" not in capsys.readouterr().err
