"""reflex-inspect and reflex-build as a user runs them: exit codes, lines, no traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fmt_helpers import patch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "spec" / "examples"
TYPICAL = EXAMPLES / "typical.reflex"
MINIMAL = EXAMPLES / "minimal.reflex"


def run(tool: str, *args: str, stdin: bytes | None = None, flags: tuple[str, ...] = ()):
    module = {"inspect": "reflexfmt.cli_inspect", "build": "reflexfmt.cli_reflex_build"}[tool]
    result = subprocess.run(
        [sys.executable, *flags, "-m", module, *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert b"Traceback" not in result.stderr + result.stdout
    return result


def test_verify_valid_files():
    r = run("inspect", "--verify", str(TYPICAL), str(MINIMAL))
    assert r.returncode == 0
    assert r.stdout.decode().splitlines() == [f"{TYPICAL}: OK", f"{MINIMAL}: OK"]


def test_verify_invalid_file(tmp_path, typical_bytes):
    bad = tmp_path / "bad.reflex"
    bad.write_bytes(patch(typical_bytes, "trees[0].nodes[1].left", "<H", 0))
    r = run("inspect", "--verify", str(TYPICAL), str(bad))
    assert r.returncode == 1
    lines = r.stdout.decode().splitlines()
    assert lines[0] == f"{TYPICAL}: OK"
    assert lines[1].startswith(f"{bad}: E_NODE_ORDER at offset ")
    assert "(trees[0].nodes[1].left): " in lines[1]


@pytest.mark.parametrize("mode", ["--verify", "--json", "--hexdump", None])
def test_missing_and_garbage_files(tmp_path, mode):
    garbage = tmp_path / "garbage.reflex"
    garbage.write_bytes(b"\x1b[31mNEM1 garbage\n" * 3)
    args = [a for a in (mode, str(garbage)) if a]
    r = run("inspect", *args)
    assert r.returncode == 1 and r.stderr + r.stdout
    assert b"\x1b" not in r.stdout + r.stderr
    if mode != "--verify":  # --verify reports on stdout, one line per file
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{garbage}: E_MAGIC at offset 0")
    long = tmp_path / ("x" * 120 + ".reflex")
    long.write_bytes(b"garbage")
    r = run("inspect", *[a for a in (mode, str(long)) if a])
    assert len((r.stdout if mode == "--verify" else r.stderr).decode().splitlines()) == 1
    r = run("inspect", *[a for a in (mode, str(tmp_path / "missing.reflex")) if a])
    assert r.returncode == 2 and b"E_IO" in r.stderr
    r = run("inspect", *[a for a in (mode, str(tmp_path)) if a])
    assert r.returncode == 2 and b"E_IO" in r.stderr


def test_usage_error():
    assert run("inspect").returncode == 2
    assert run("inspect", "--json", "--verify", str(TYPICAL)).returncode == 2
    assert run("build", str(TYPICAL)).returncode == 2


def test_json_then_build_reproduces_the_file(tmp_path):
    for source in (TYPICAL, MINIMAL):
        r = run("inspect", "--json", str(source))
        assert r.returncode == 0
        doc = json.loads(r.stdout)
        assert set(doc) == {"header", "features", "trees", "bounds", "metadata", "crc32"}
        out = tmp_path / "rebuilt.reflex"
        b = run("build", "-", "-o", str(out), stdin=r.stdout)
        assert b.returncode == 0, b.stderr
        assert out.read_bytes() == source.read_bytes()
        assert r.stdout == (EXAMPLES / f"{source.stem}.json").read_bytes()


def test_build_from_yaml(tmp_path):
    import yaml

    doc = json.loads((EXAMPLES / "typical.json").read_text())
    desc = tmp_path / "typical.yaml"
    desc.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = tmp_path / "out.reflex"
    assert run("build", str(desc), "-o", str(out)).returncode == 0
    assert out.read_bytes() == TYPICAL.read_bytes()


def test_build_rejects_yaml_aliases_before_expanding_them(tmp_path):
    import yaml

    doc = json.loads((MINIMAL.with_suffix(".json")).read_text())
    text = yaml.safe_dump(doc)
    # A "billion laughs" mapping: 9**8 leaves if the aliases were expanded.
    bomb = ["  a0: &a0 {" + ", ".join(f"k{j}: x" for j in range(9)) + "}"]
    for i in range(1, 8):
        refs = ", ".join(f"k{j}: *a{i - 1}" for j in range(9))
        bomb.append(f"  a{i}: &a{i} {{{refs}}}")
    desc = tmp_path / "bomb.yaml"
    desc.write_text(text.replace("metadata:\n", "metadata:\n" + "\n".join(bomb) + "\n", 1))
    out = tmp_path / "out.reflex"
    r = run("build", str(desc), "-o", str(out))
    assert r.returncode == 1
    bomb_line = next(i for i, t in enumerate(desc.read_text().splitlines(), 1)
                            if t.startswith("  a1:"))
    assert r.stderr.decode() == (f"reflex-build: {desc}: E_DESCRIPTION: $: YAML aliases are not "
                                 f"allowed (line {bomb_line} column 16)\n")
    assert not out.exists()


def test_build_reads_at_most_one_mib(tmp_path):
    typical = (EXAMPLES / "typical.json").read_bytes()
    padded = typical + b" " * ((1 << 20) - len(typical))  # exactly the limit: still fine
    out = tmp_path / "out.reflex"
    assert run("build", "-", "-o", str(out), stdin=padded).returncode == 0
    assert out.read_bytes() == TYPICAL.read_bytes()
    big = tmp_path / "big.json"
    big.write_bytes(padded + b" ")
    for source, stdin in ((str(big), None), ("-", padded + b" ")):
        out.unlink(missing_ok=True)
        r = run("build", source, "-o", str(out), stdin=stdin)
        assert r.returncode == 1
        assert r.stderr.decode() == \
            f"reflex-build: {source}: E_DESCRIPTION: more than 1048576 bytes, the limit\n"
        assert not out.exists()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["header"].update(q_scale=True), "$.header.q_scale"),
        (lambda d: d["features"].pop(), "$.features"),
        (lambda d: d["trees"][0]["nodes"][0].update(left=0), "E_NODE_ORDER"),
        (lambda d: d.update(crc32="0x00000000"), "E_CRC"),
        (lambda d: d["metadata"].update(lambda_=1), "lambda_"),
        (lambda d: d["metadata"].pop("created_at"), "E_METADATA_KEY"),
    ],
)
def test_build_rejects_bad_descriptions(tmp_path, edit, message):
    doc = json.loads((EXAMPLES / "typical.json").read_text())
    edit(doc)
    if "lambda_" in doc["metadata"]:
        doc["metadata"]["Lambda"] = doc["metadata"].pop("lambda_")
        message = "Lambda"
    out = tmp_path / "out.reflex"
    r = run("build", "-", "-o", str(out), stdin=json.dumps(doc).encode())
    assert r.returncode == 1, r.stderr
    assert message in r.stderr.decode()
    assert re.match(r"reflex-build: -: E_[A-Z_0-9]+", r.stderr.decode())
    assert len(r.stderr.decode().strip().splitlines()) == 1
    assert not out.exists()


def test_build_garbage_and_missing(tmp_path):
    r = run("build", "-", "-o", str(tmp_path / "x"), stdin=b"\xff\xfe[[[")
    assert r.returncode == 1 and not (tmp_path / "x").exists()
    assert r.stderr.startswith(b"reflex-build: -: E_DESCRIPTION: ")
    r = run("build", "-", "-o", str(tmp_path / "x"), stdin=b"[" * 100000)
    assert r.returncode == 1
    r = run("build", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x"))
    assert r.returncode == 2 and b"E_IO" in r.stderr
    r = run("build", str(EXAMPLES / "typical.json"), "-o", str(tmp_path / "no" / "dir" / "x"))
    assert r.returncode == 2 and b"E_IO" in r.stderr


def test_hexdump_annotates_every_byte():
    data = TYPICAL.read_bytes()
    r = run("inspect", "--hexdump", str(TYPICAL))
    assert r.returncode == 0
    covered = []
    for line in r.stdout.decode().splitlines()[2:]:
        offset, rest = line.split("  ", 1)
        hexed = rest[:47].split()
        path = rest[47:].strip().split(" = ")[0]
        assert path
        covered.extend(range(int(offset, 16), int(offset, 16) + len(hexed)))
        assert bytes.fromhex("".join(hexed)) == data[int(offset, 16) : int(offset, 16) + len(hexed)]
    assert covered == list(range(len(data)))


def test_hexdump_of_a_truncated_file_covers_every_byte(tmp_path, typical_bytes):
    from reflexfmt.hexdump import rows

    for data in (typical_bytes[:500], typical_bytes + b"junk", b"NEM2" + typical_bytes[4:]):
        covered = [i for r in rows(data) for i in range(r.offset, r.offset + len(r.raw))]
        assert covered == list(range(len(data)))


def test_pretty_view(tmp_path, typical_bytes):
    # A deep path longer than the 80-column panel must not hide the CRC status.
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "typical.reflex"
    path.write_bytes(typical_bytes)
    crc = int.from_bytes(typical_bytes[-4:], "little")
    for target in (TYPICAL, path):
        r = run("inspect", str(target))
        assert r.returncode == 0
        text = r.stdout.decode()
        for expected in (
            "Header",
            "q_scale",
            "enqueue_rate <= ",
            "pkt/s  (q <= ",
            "Bounds",
            "telemetry_hash",
            f"{len(typical_bytes)} bytes  CRC-32 0x{crc:08x} good",
        ):
            assert expected in text, (target, expected)


def test_pretty_view_escapes_control_characters(tmp_path, typical_bytes):
    import dataclasses

    from reflexfmt import dumps, loads

    reflex = loads(typical_bytes)
    evil = dataclasses.replace(reflex, metadata={**reflex.metadata, "note": "\u202eevil\x1b[2J"})
    path = tmp_path / "evil.reflex"
    path.write_bytes(dumps(evil))
    r = run("inspect", str(path))
    assert r.returncode == 0
    assert b"\x1b[2J" not in r.stdout and "\u202e".encode() not in r.stdout
    assert b"\\u202e" in r.stdout


def test_python_O_behaves_the_same(tmp_path, typical_bytes):
    bad = tmp_path / "bad.reflex"
    bad.write_bytes(patch(typical_bytes, "header.dwell_steps", "<H", 9999))
    plain = run("inspect", "--verify", str(bad))
    optimized = run("inspect", "--verify", str(bad), flags=("-O",))
    assert plain.returncode == optimized.returncode == 1
    assert plain.stdout == optimized.stdout
    assert b"E_HEADER" in plain.stdout


def test_no_numpy_or_sklearn_imported():
    code = (
        "import sys, reflexfmt, reflexfmt.cli_inspect, reflexfmt.cli_reflex_build\n"
        "from reflexfmt.cli_inspect import main\n"
        f"main(['--verify', {str(TYPICAL)!r}])\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'sklearn', 'scipy')]\n"
        "assert not bad, bad\n"
        "print('construct' in sys.modules, 'rich' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    # the verify path of a valid file needs neither construct nor rich
    assert r.stdout.split()[-2:] == [b"False", b"False"]


def test_oversized_file_is_read_only_to_the_limit(tmp_path):
    big = tmp_path / "big.reflex"
    big.write_bytes(b"NEM1" + bytes(300_000))
    r = run("inspect", "--verify", str(big))
    assert r.returncode == 1
    assert r.stdout.decode() == \
        f"{big}: E_LIMIT at offset 0 (file): file has more than 131072 bytes, the limit\n"


def test_inspect_dash_reads_stdin(typical_bytes):
    r = run("inspect", "--verify", "-", stdin=typical_bytes)
    assert (r.returncode, r.stdout.decode()) == (0, "-: OK\n")
    r = run("inspect", "--json", "-", stdin=typical_bytes)
    assert r.returncode == 0 and r.stdout == (EXAMPLES / "typical.json").read_bytes()
    r = run("inspect", "--verify", "-", stdin=typical_bytes[:-1])
    assert r.returncode == 1 and r.stdout.decode().startswith("-: E_TRUNCATED")


@pytest.mark.parametrize("tool", ["inspect", "build"])
def test_sigterm_is_one_line_and_exit_143(tmp_path, tool):
    """SIGTERM while the command reads its input (a FIFO no one writes, so the moment is
    certain): one line 'PROG: terminated', exit 143, no traceback and no output file."""
    import errno
    import os
    import signal
    import time

    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out.reflex"
    module = {"inspect": "reflexfmt.cli_inspect", "build": "reflexfmt.cli_reflex_build"}[tool]
    args = ["--verify", str(TYPICAL), str(fifo)] if tool == "inspect" else [str(fifo), "-o",
                                                                            str(out)]
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:  # the writer's open succeeds once the command has opened the FIFO to read
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            assert exc.errno == errno.ENXIO
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    # Then end the input: CPython runs a Python signal handler between bytecodes, so a
    # SIGTERM that lands after the FIFO opens but before the read blocks is acted on once
    # the read returns (it did not return before the test closed the FIFO: a hang under load).
    os.close(writer)
    stdout, stderr = proc.communicate(timeout=60)
    prog = "reflex-inspect" if tool == "inspect" else "reflex-build"
    assert proc.returncode == 143
    assert stderr.decode() == f"{prog}: terminated\n"
    assert stdout.decode() == (f"{TYPICAL}: OK\n" if tool == "inspect" else "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fifo"]


def test_build_refuses_to_overwrite_its_description(tmp_path):
    described = run("inspect", "--json", str(MINIMAL)).stdout
    source = tmp_path / "same.json"
    source.write_bytes(described)
    (tmp_path / "link.json").symlink_to(source)
    for output in (source, tmp_path / "link.json"):
        r = run("build", str(source), "-o", str(output))
        assert r.returncode == 2
        assert r.stderr.decode().strip() == (f"reflex-build: {output}: E_USAGE: the output is "
                                             "the description it is built from; it would be "
                                             "overwritten")
        assert source.read_bytes() == described


@pytest.mark.parametrize(("tool", "args", "redirect", "problem"), [
    ("inspect", [str(MINIMAL)], "> /dev/full", "No space left on device (standard output)"),
    ("inspect", ["--json", str(MINIMAL)], "> /dev/full",
     "No space left on device (standard output)"),
    ("inspect", ["--verify", "-"], "<&-", "standard input is closed"),
    ("inspect", ["--verify", str(MINIMAL)], ">&-", "standard output is closed"),
    ("build", ["-", "-o", "x.reflex"], "<&-", "standard input is closed"),
    ("build", [str(ROOT / "spec" / "examples" / "typical.json"), "-o", "-"], ">&-",
     "standard output is closed"),
])
def test_standard_streams_that_fail_are_io_errors(tmp_path, tool, args, redirect, problem):
    # A full or closed standard stream is the caller's I/O problem, exit 2, not a bug (exit 3).
    import shlex

    module = {"inspect": "reflexfmt.cli_inspect", "build": "reflexfmt.cli_reflex_build"}[tool]
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", module, *args])
    result = subprocess.run(f"{command} {redirect}", shell=True, capture_output=True,
                            cwd=tmp_path, timeout=60)
    name = {"inspect": "reflex-inspect", "build": "reflex-build"}[tool]
    assert result.returncode == 2, result.stderr
    assert result.stderr.decode().strip() == f"{name}: E_IO: {problem}"
    assert list(tmp_path.iterdir()) == []
