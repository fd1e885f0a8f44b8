"""The C reference reader (tools/nem1c) graded against the vectors and against reflexfmt.

Built with the strict flags of issue 5 (C99, warnings as errors, ASan + UBSan that abort on the
first report, no FMA contraction); any sanitizer report fails the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reflexfmt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))
from mutations import mutated  # noqa: E402
from strategies import raw_features, reflexes  # noqa: E402  (tests/strategies.py)

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tools" / "nem1c"
VECTORS = ROOT / "spec" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))["vectors"]
ACCEPT = [v for v in MANIFEST if v["result"] == "accept"]
CFLAGS = [
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-ffp-contract=off",
]
SANITIZER_ENV = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1"}


@pytest.fixture(scope="module")
def nem1check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    assert gcc, "gcc is required to build tools/nem1c"
    exe = tmp_path_factory.mktemp("nem1c") / "nem1check"
    sources = [str(SOURCE / "nem1.c"), str(SOURCE / "nem1check.c")]
    subprocess.run([gcc, *CFLAGS, "-o", str(exe), *sources, "-lm"], check=True)
    return exe


def _run(exe: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(exe), *args], input=stdin, capture_output=True, text=True, env=SANITIZER_ENV
    )
    assert done.stderr == "", done.stderr
    return done.stdout


def _python_verdict(data: bytes) -> str:
    try:
        reflexfmt.loads(data)
    except reflexfmt.ReflexFormatError as err:
        return f"{err.code} {err.offset}"
    return "OK"


def test_c_reader_agrees_with_the_manifest(nem1check: Path) -> None:
    paths = "".join(f"{VECTORS / v['file']}\n" for v in MANIFEST)
    lines = _run(nem1check, "--batch", stdin=paths).splitlines()
    wrong = []
    for entry, line in zip(MANIFEST, lines, strict=True):
        if entry["result"] == "accept":
            expected = "OK"
        elif entry["offset"] is None:
            expected, line = entry["code"], line.split()[0]
        else:
            expected = f"{entry['code']} {entry['offset']}"
        if line != expected:
            wrong.append((entry["id"], expected, line))
    assert wrong == []


def test_c_runtime_reader_skips_only_the_metadata_profile(nem1check: Path) -> None:
    """Spec 6.1: a reader that skips the profile accepts E_METADATA_* vectors, nothing else."""
    paths = "".join(f"{VECTORS / v['file']}\n" for v in MANIFEST)
    strict = _run(nem1check, "--batch", stdin=paths).splitlines()
    lenient = _run(nem1check, "--skip-metadata", "--batch", stdin=paths).splitlines()
    for entry, a, b in zip(MANIFEST, strict, lenient, strict=True):
        assert b == ("OK" if (entry["code"] or "").startswith("E_METADATA_") else a), entry["id"]


@pytest.mark.parametrize("entry", ACCEPT, ids=[v["id"] for v in ACCEPT])
def test_c_evaluator_is_bit_identical(nem1check: Path, entry: dict[str, Any]) -> None:
    expected = json.loads((VECTORS / entry["expected"]).read_text(encoding="utf-8"))
    path = str(VECTORS / entry["file"])
    cases = expected["evaluations"]
    out = _run(nem1check, "--eval", path, stdin="".join(" ".join(c["x"]) + "\n" for c in cases))
    got = [[int(v) for v in line.split()] for line in out.splitlines()]
    assert got == [c["q"] + c["y"] for c in cases]
    steps = expected["runtime"]
    out = _run(nem1check, "--runtime", path, stdin="".join(" ".join(s["x"]) + "\n" for s in steps))
    assert [[int(v) for v in line.split()] for line in out.splitlines()] == [s["y"] for s in steps]


@pytest.fixture(scope="module")
def batch(nem1check: Path) -> Iterator[subprocess.Popen[str]]:
    """One long-lived `nem1check --batch` that answers a path per line."""
    proc = subprocess.Popen(
        [str(nem1check), "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=SANITIZER_ENV,
    )
    yield proc
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


@settings(
    max_examples=3000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=mutated())
def test_c_reader_agrees_with_reflexfmt_on_mutated_files(
    batch: subprocess.Popen[str], tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "mutant.reflex"
    path.write_bytes(data)
    batch.stdin.write(f"{path}\n")
    batch.stdin.flush()
    c_line = batch.stdout.readline().strip()
    assert c_line, f"nem1check died (exit {batch.poll()})"
    py_line = _python_verdict(data)
    if py_line.startswith("E_METADATA_YAML"):  # the spec leaves the position inside open
        c_line, py_line = c_line.split()[0], py_line.split()[0]
    assert c_line == py_line


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(reflex=reflexes(), xs=st.lists(raw_features, min_size=1, max_size=8))
def test_c_reader_accepts_and_evaluates_random_valid_files(
    nem1check: Path, tmp_path: Path, reflex: reflexfmt.Reflex, xs: list[list[float]]
) -> None:
    """Files reflexfmt writes: the C reader accepts them and evaluates bit-identically."""
    path = tmp_path / "random.reflex"
    path.write_bytes(reflexfmt.dumps(reflex))
    lines = "".join(" ".join(float.hex(v) for v in x) + "\n" for x in xs)
    out = _run(nem1check, "--eval", str(path), stdin=lines).splitlines()
    expected = [[*reflex.quantize(x), *reflex.evaluate(x)] for x in xs]
    assert [[int(v) for v in line.split()] for line in out] == expected
