"""reflex-forge's common error handling: one line, exit 2, no output; the codes (those of
spec/telemetry.md), their escaping, and the exit code of an internal error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reflexforge.cli import main
from reflexforge.errors import ForgeError

FORGE = Path(sys.executable).with_name("reflex-forge")

BAD_TELEMETRY = {
    "missing column": (b"ts,bytes\n0,1\n", "E_CSV_COLUMN"),
    "non-integer": (b"ts_ns,bytes\n0,1\n5,abc\n", "E_CSV_VALUE"),
    "decreasing ts": (b"ts_ns,bytes\n10,1\n9,1\n", "E_CSV_ORDER"),
    "bytes zero": (b"ts_ns,bytes\n0,0\n", "E_CSV_VALUE"),
    "bytes too big": (b"ts_ns,bytes\n0,70000\n", "E_CSV_VALUE"),
    "empty file": (b"", "E_CSV_EMPTY"),
    "header only": (b"ts_ns,bytes\n", "E_CSV_EMPTY"),
    "shorter than one window": (b"ts_ns,bytes\n0,1\n100,1\n", "E_TRACE_SHORT"),
    "header line without end": (b"ts_ns,bytes," + b"x" * (4 << 20), "E_CSV_ENCODING"),
}


def _one_error_line(stderr: str, code: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"{code}: " in lines[0] or f"{code} " in lines[0]
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD_TELEMETRY))
def test_label_bad_telemetry(tmp_path, capsys, case):
    data, code = BAD_TELEMETRY[case]
    src = tmp_path / "telemetry.csv"
    src.write_bytes(data)
    out = tmp_path / "training-set.csv"
    assert main(["label", str(src), "-o", str(out), "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err, code)
    assert line.startswith(str(src))
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["telemetry.csv"]


def _cap_memory() -> None:  # an unbounded read dies here instead of filling the machine
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


def test_endless_input_is_rejected_in_bounded_time_and_memory(tmp_path):
    """/dev/zero has no newline: the header read stops at its limit (spec/telemetry.md), and
    a training set is read up to its size limit (spec/forge.md section 6)."""
    out = tmp_path / "o.csv"
    child = subprocess.run([str(FORGE), "label", "/dev/zero", "-o", str(out), "--quiet"],
                           capture_output=True, timeout=60, preexec_fn=_cap_memory, check=False)
    assert child.returncode == 2
    assert _one_error_line(child.stderr.decode(), "E_CSV_ENCODING") == \
        "/dev/zero:1: E_CSV_ENCODING: header line longer than 4194304 characters"
    assert not out.exists()
    telemetry = tmp_path / "t.csv"
    assert main(["synth", "--duration", "1", "-o", str(telemetry), "--quiet"]) == 0
    model = tmp_path / "m.reflex"
    child = subprocess.run([str(FORGE), "train", "/dev/zero", "--telemetry", str(telemetry),
                            "-o", str(model), "--quiet"],
                           capture_output=True, timeout=60, preexec_fn=_cap_memory, check=False)
    assert child.returncode == 2
    assert _one_error_line(child.stderr.decode(), "E_TRAINSET") == \
        "/dev/zero: E_TRAINSET: larger than 268435456 bytes, the limit (spec/forge.md section 6)"
    assert not model.exists()


@pytest.mark.parametrize("where", ["missing-dir/t.csv", "."])
def test_unwritable_output(tmp_path, capsys, where):
    out = tmp_path / where
    assert main(["synth", "--duration", "1", "-o", str(out), "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "E_IO")
    assert sorted(tmp_path.iterdir()) == []


def test_label_unwritable_output(tmp_path, capsys):
    src = tmp_path / "t.csv"
    src.write_bytes(b"ts_ns,bytes\n0,1\n300000000,1\n")
    out = tmp_path / "no" / "training-set.csv"
    assert main(["label", str(src), "-o", str(out), "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "E_IO")
    assert not out.parent.exists()


def test_missing_telemetry_is_e_io(tmp_path, capsys):
    assert main(["label", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    _one_error_line(capsys.readouterr().err, "E_IO")


@pytest.mark.parametrize(
    "argv",
    [
        ["synth", "--profile", "nope", "-o", "x.csv"],
        ["synth", "--duration", "-1", "-o", "x.csv"],
        ["synth", "--seed", "x", "-o", "x.csv"],
        ["synth"],
        ["label", "t.csv", "-o", "o.csv", "--incumbent", "3"],
        ["label", "t.csv", "-o", "o.csv", "--incumbent", "0,1ms"],
        ["label", "t.csv", "-o", "o.csv", "--lambda", "nan"],
        ["label", "t.csv", "-o", "o.csv", "--workers", "0"],
        ["label", "t.csv", "-o", "o.csv", "--workers", "257"],
        ["label", "t.csv", "-o", "o.csv", "--lambda", "1e300"],
        ["label", "t.csv", "-o", "o.csv", "--lambda", "1000001"],
        ["build", "t.csv", "-o", "o.reflex", "--lambda", "-0.5"],
        ["nope"],
        [],
    ],
)
def test_usage_errors_one_line_exit_2(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    _one_error_line(capsys.readouterr().err, "E_USAGE")
    assert list(tmp_path.iterdir()) == []


def test_real_console_script_bad_input(tmp_path):
    src = tmp_path / "t.csv"
    src.write_bytes(b"ts_ns,bytes\n0,1\n5,99999\n")
    out = tmp_path / "o.csv"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [str(FORGE), "label", str(src), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr, "E_CSV_VALUE")
    assert line == f"{src}:3:bytes: E_CSV_VALUE: bytes must be an integer in 1..65535, got 99999"
    assert not out.exists()


def test_forge_error_one_line_format():
    err = ForgeError("E_CSV_VALUE", "bad\nvalue", path="t.csv", line=17, column="bytes")
    assert str(err) == "t.csv:17:bytes: E_CSV_VALUE: bad\\x0avalue"
    assert str(ForgeError("E_USAGE", "no")) == "E_USAGE: no"
    assert str(ForgeError("E_IO", "x", path="p")) == "p: E_IO: x"


@pytest.mark.parametrize("epoch", ["abc", "-1", "253402300800", "1e9", "99999999999999999999999"])
def test_bad_source_date_epoch_is_one_usage_line(tmp_path, epoch):
    src = tmp_path / "t.csv"
    src.write_bytes(b"ts_ns,bytes\n0,1\n300000000,1\n")
    out = tmp_path / "m.reflex"
    env = {**os.environ, "SOURCE_DATE_EPOCH": epoch}
    proc = subprocess.run([str(FORGE), "build", str(src), "-o", str(out), "-q"],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr, "E_USAGE")
    assert "SOURCE_DATE_EPOCH" in line
    assert not out.exists()


@pytest.mark.parametrize("epoch", ["", "  "])
def test_an_empty_source_date_epoch_is_unset(tmp_path, epoch):
    # Set but empty means unset (spec/telemetry.md 3). numpy's f2py, imported through numba
    # (the CSV reader) and scipy (scikit-learn), would read it with int('') and fail.
    src = tmp_path / "t.csv"
    src.write_bytes(b"ts_ns,bytes\n" + b"".join(b"%d,100\n" % (i * 1_000_000) for i in range(400)))
    env = {**os.environ, "SOURCE_DATE_EPOCH": epoch}
    for args in (["label", str(src), "-o", str(tmp_path / "ts.csv")],
                 ["static", "32,50us", "-o", str(tmp_path / "s.reflex")]):
        proc = subprocess.run([str(FORGE), *args, "-q"], capture_output=True, text=True, env=env,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""


def test_internal_error_exit_code_is_3_not_shadows_1(monkeypatch, capsys):
    import reflexforge.cli as cli

    def broken(argv):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "run", broken)
    monkeypatch.delenv("REFLEX_FORGE_DEBUG", raising=False)
    assert cli.main(["label"]) == 3 == cli.EXIT_INTERNAL
    line = _one_error_line(capsys.readouterr().err, "E_INTERNAL")
    assert line.startswith("reflex-forge: E_INTERNAL: RuntimeError: boom")


def test_format_error_names_the_model_file(tmp_path, capsys):
    model = tmp_path / "empty.reflex"
    model.write_bytes(b"")
    src = tmp_path / "good.csv"
    src.write_bytes(b"ts_ns,bytes\n0,1\n300000000,1\n")
    assert main(["shadow", str(model), str(src), "--min-duration", "1", "-q"]) == 2
    line = _one_error_line(capsys.readouterr().err, "E_TRUNCATED at offset 0")
    assert line.startswith(f"{model}: E_TRUNCATED at offset 0 (header.magic): ")


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "t.csv", "-o", "t.csv"],
        ["build", "t.csv", "-o", "X", "--training-set", "./X"],
        ["build", "t.csv", "-o", "m.reflex", "--training-set", "sub/../t.csv"],
        ["label", "t.csv", "-o", "./t.csv"],
        ["train", "ts.csv", "--telemetry", "t.csv", "-o", "ts.csv"],
        ["train", "ts.csv", "--telemetry", "t.csv", "-o", "t.csv"],
        ["shadow", "m.reflex", "t.csv", "--report", "m.reflex"],
        ["shadow", "m.reflex", "t.csv", "--report", "r", "--plot", "r"],
    ],
)
def test_output_same_as_input_or_other_output_is_usage(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for name in ("t.csv", "ts.csv", "m.reflex"):
        (tmp_path / name).write_bytes(b"keep")
    assert main([*argv, "-q"]) == 2
    _one_error_line(capsys.readouterr().err, "E_USAGE")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.reflex", "sub", "t.csv", "ts.csv"]
    assert all((tmp_path / n).read_bytes() == b"keep" for n in ("t.csv", "ts.csv", "m.reflex"))


def test_a_character_device_or_fifo_may_take_several_outputs(tmp_path):
    """-o /dev/null --training-set /dev/null: a device (or a FIFO) is written, never
    replaced, so it is not "the same file" twice; a regular file still is."""
    import os

    from reflexforge.commands.paths import check_distinct_paths

    os.mkfifo(tmp_path / "fifo")
    for stream in ("/dev/null", tmp_path / "fifo"):
        check_distinct_paths({"TELEMETRY": tmp_path / "t.csv"},
                             {"-o": stream, "--training-set": stream})
    with pytest.raises(ForgeError) as info:
        check_distinct_paths({"TELEMETRY": tmp_path / "t.csv"},
                             {"-o": tmp_path / "x", "--training-set": tmp_path / "x"})
    assert info.value.code == "E_USAGE" and "are the same file" in str(info.value)


def test_a_socket_output_is_refused_before_any_work(tmp_path, capsys):
    """-o naming a socket: E_IO naming it, at once (it was found only when the finished
    output was renamed onto it); a FIFO or /dev/null is accepted."""
    import socket

    from reflexforge.commands.paths import check_output_path

    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert main(["synth", "--duration", "600", "-o", str(path), "-q"]) == 2
        line = _one_error_line(capsys.readouterr().err, "E_IO")
        assert line.startswith(f"{path}: E_IO") and "not a regular file" in line
        with pytest.raises(ForgeError) as info:
            check_output_path(path)  # the check made before any work
        assert info.value.code == "E_IO"
    assert check_output_path("/dev/null") == Path("/dev/null")


def test_an_error_about_no_file_names_the_program(capsys):
    """A bad value that no file holds: the line starts with the program, as argparse's and
    reflex-inspect's do (it started with the bare code)."""
    assert main(["static", "64,200ms", "-o", "/dev/null"]) == 2
    line = _one_error_line(capsys.readouterr().err, "E_USAGE")
    assert line == ("reflex-forge: E_USAGE: (64, 200000 µs) is not a pair of the oracle grid: "
                    "N in 1, 4, 8, 16, 32, 64, D in 50, 200, 1000, 4000 µs")


def test_forge_errors_escape_like_reflex_inspect():
    """U+202E, C1 controls, ESC and line breaks: escaped by the one shared helper."""
    from reflexfmt.terminal import escape_control

    hostile = "evil\u202etxt.csv\x1b[31m\x85\u2028\r\n"
    err = ForgeError("E_IO", "cannot read", path=hostile, line=3)
    text = str(err)
    assert text == escape_control(f"{hostile}:3: E_IO: cannot read")
    assert "\\u202e" in text and "\\x85" in text and "\\x1b" in text and "\\u2028" in text
    assert not any(0x80 <= ord(c) <= 0x9f or ord(c) < 0x20 or c in "\u202e\u2028" for c in text)


def test_forge_usage_and_internal_lines_are_escaped(monkeypatch, capsys):
    import reflexforge.cli as cli

    with pytest.raises(SystemExit) as info:
        cli.main(["label", "\u202ex.csv", "--lambda", "\u202e"])  # usage: bad value
    assert info.value.code == 2
    line = _one_error_line(capsys.readouterr().err, "E_USAGE")
    assert "\u202e" not in line and "\\u202e" in line

    def broken(argv):
        raise RuntimeError("boom\u202e\x9b")

    monkeypatch.setattr(cli, "run", broken)
    monkeypatch.delenv("REFLEX_FORGE_DEBUG", raising=False)
    assert cli.main(["label"]) == 3
    line = _one_error_line(capsys.readouterr().err, "E_INTERNAL")
    assert "boom\\u202e\\x9b" in line


def test_forge_codes_are_exactly_those_of_the_spec():
    """errors.CODES == the table of spec/telemetry.md section 2, and the forge's sources
    raise no other code (E_INTERNAL is the exit-3 line of section 3)."""
    import re

    import reflexforge
    from reflexforge import errors

    root = Path(__file__).resolve().parents[2]
    spec = (root / "spec" / "telemetry.md").read_text(encoding="utf-8")
    section = spec.split("## 2. Errors", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `(E_[A-Z0-9_]+)` +\|", section, re.MULTILINE))
    assert table == set(errors.CODES)
    assert {v for k, v in vars(errors).items() if k.startswith("E_")} == set(errors.CODES)
    used = set()
    for path in Path(reflexforge.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\b(E_[A-Z][A-Z0-9_]*[A-Z0-9])\b", text))
    assert used - {"E_INTERNAL"} <= set(errors.CODES)
    assert "reflex-forge: E_INTERNAL" in spec.split("## 3. Exit codes", 1)[1]


def test_internal_error_exit_code_is_the_same_in_every_command(monkeypatch, capsys, tmp_path):
    import reflexforge.cli as forge_cli
    from reflexfmt import cli_inspect, cli_reflex_build
    from reflexfmt.terminal import EXIT_INTERNAL

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.delenv("REFLEX_FORGE_DEBUG", raising=False)
    for module, argv in ((cli_inspect, ["x.reflex"]), (cli_reflex_build, ["x.json", "-o", "y"]),
                         (forge_cli, ["label"])):
        monkeypatch.setattr(module, "_run" if module is not forge_cli else "run", broken)
        assert module.main(argv) == EXIT_INTERNAL == 3
        line = _one_error_line(capsys.readouterr().err, "E_INTERNAL")
        assert ": E_INTERNAL: RuntimeError: boom" in line


def test_sigterm_leaves_no_partial_output(tmp_path):
    """SIGTERM while an output is being written: exit 143, one line, and neither the output
    nor its temporary file is left (before, the temporary file stayed behind)."""
    import signal
    import time

    out = tmp_path / "big.csv"
    proc = subprocess.Popen([str(FORGE), "synth", "--profile", "mixed", "--duration", "6000",
                             "-o", str(out), "-q"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".big.csv.") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "no temporary file seen"
        time.sleep(0.05)
    time.sleep(0.3)  # well inside the write
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert err.strip() == "reflex-forge: terminated"
    assert list(tmp_path.iterdir()) == []


def test_an_output_on_stdout_stays_clean(tmp_path):
    """-o /dev/stdout (a pipe): the model alone goes to stdout, what the command prints goes
    to stderr, and the device is written, not replaced."""
    from reflexfmt import loads

    proc = subprocess.run([str(FORGE), "static", "32,50us", "-o", "/dev/stdout"],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0
    reflex = loads(proc.stdout)
    assert [t[0].value for t in reflex.trees] == [32, 50]
    assert proc.stderr.decode().strip() == "/dev/stdout: one leaf, always (32 packets, 50 µs)"


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(c) for c in path.read_text().split()]
    except OSError:
        return []


def test_ctrl_c_in_the_worker_pool_is_one_line(tmp_path):
    """A terminal's Ctrl-C goes to the whole process group: the labelling workers (spawned
    Pythons still importing numpy and numba, or running chunks) used to print a traceback
    each. Now they ignore it and the command stops them: one line, exit 130, no output."""
    import os
    import signal
    import time

    src = tmp_path / "t.csv"
    assert main(["synth", "--profile", "poisson", "--duration", "60", "--rate", "40000",
                 "--seed", "3", "-o", str(src), "-q"]) == 0
    out = tmp_path / "ts.csv"
    proc = subprocess.Popen([str(FORGE), "label", str(src), "-o", str(out), "--workers", "2",
                             "-q"], stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(_children(proc.pid)) < 2:  # the resource tracker and a first worker
        assert proc.poll() is None and time.monotonic() < deadline, "no worker seen"
        time.sleep(0.01)
    time.sleep(0.05)  # the workers are importing numpy and numba
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.strip()) == (130, "reflex-forge: interrupted")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
