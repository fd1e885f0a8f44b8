"""The C reference reader (tools/nem1c) graded against the vectors and against reflexfmt.

Built with the strict flags of issue 5 (C99, warnings as errors, ASan + UBSan that abort on the
first report, no FMA contraction); any sanitizer report fails the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reflexfmt
from reflexfmt.metadata import canonical_float

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))
from mutations import mutated  # noqa: E402
from strategies import raw_features, reflexes  # noqa: E402  (tests/strategies.py)

ROOT = Path(__file__).resolve().parents[2]
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


def _metadata_span(data: bytes) -> tuple[int, int]:
    """The first metadata byte and the offset just after the last, of a well-framed file."""
    at = 176
    for _ in range(2):
        at += 2 + 10 * int.from_bytes(data[at : at + 2], "little")
    at += 8
    start = at + 4
    return start, start + int.from_bytes(data[at:start], "little")


def _yaml_offset_in_span(data: bytes, verdict: str) -> bool:
    """Spec 9.3 step 13: an E_METADATA_YAML offset lies within the metadata bytes."""
    start, end = _metadata_span(data)
    return start <= int(verdict.split()[1]) <= end


def test_c_reader_agrees_with_the_manifest(nem1check: Path) -> None:
    paths = "".join(f"{VECTORS / v['file']}\n" for v in MANIFEST)
    lines = _run(nem1check, "--batch", stdin=paths).splitlines()
    wrong = []
    for entry, line in zip(MANIFEST, lines, strict=True):
        if entry["result"] == "accept":
            expected = "OK"
        elif entry["offset"] is None:
            assert entry["code"] == "E_METADATA_YAML", entry["id"]
            data = (VECTORS / entry["file"]).read_bytes()
            assert not line.startswith("E_METADATA_YAML") or _yaml_offset_in_span(data, line)
            assert _yaml_offset_in_span(data, _python_verdict(data)), entry["id"]
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
    if py_line.startswith("E_METADATA_YAML"):  # implementation-defined within the metadata
        assert _yaml_offset_in_span(data, py_line)
        if c_line.startswith("E_METADATA_YAML"):
            assert _yaml_offset_in_span(data, c_line)
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


# ---- Spec 6.1 rule 5: the C float check against Python repr ---------------------------------

POWERS_OF_TWO = [math.ldexp(1.0, k) for k in range(-1074, 1024)]


def _loop_spelling(x: float) -> str:
    """The superseded rule: the first correctly rounded p-digit %.*e that reads back."""
    text = next(t for p in range(1, 18) if float(t := f"{x:.{p - 1}e}") == x)
    mantissa, exp = text.split("e")
    return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exp[0]}{exp[1:].zfill(2)}"


def _digits(text: str) -> str:
    return text.split("e")[0].replace(".", "").replace("-", "").strip("0")


def _files_with_metadata(tmp_path: Path, metadatas: list[dict[str, Any]]) -> list[Path]:
    base = reflexfmt.loads((VECTORS / "y_typical.reflex").read_bytes())
    paths = []
    for i, metadata in enumerate(metadatas):
        path = tmp_path / f"m{i}.reflex"
        path.write_bytes(reflexfmt.dumps(dataclasses.replace(base, metadata=metadata)))
        paths.append(path)
    return paths


def _verdicts(exe: Path, paths: list[Path]) -> list[str]:
    return _run(exe, "--batch", stdin="".join(f"{p}\n" for p in paths)).splitlines()


def test_c_accepts_the_repr_spelling_of_every_power_of_two(nem1check: Path, tmp_path: Path) -> None:
    """lambda = 2**k for k = -1074..1023, written by reflexfmt (repr): C accepts each."""
    typical = reflexfmt.loads((VECTORS / "y_typical.reflex").read_bytes()).metadata
    paths = _files_with_metadata(tmp_path, [{**typical, "lambda": x} for x in POWERS_OF_TWO])
    for path, x in zip(paths, POWERS_OF_TWO, strict=True):
        assert f"lambda: {canonical_float(x)}\n".encode() in path.read_bytes()
    verdicts = _verdicts(nem1check, paths)
    assert [x for x, v in zip(POWERS_OF_TWO, verdicts, strict=True) if v != "OK"] == []


def test_c_rejects_the_correctly_rounded_spelling_where_repr_is_shorter(
    nem1check: Path, tmp_path: Path
) -> None:
    """The 46 powers of two where the %.*e loop needs one digit more than repr."""
    differ = [x for x in POWERS_OF_TWO if _digits(_loop_spelling(x)) != _digits(repr(x))]
    assert len(differ) == 46
    typical = reflexfmt.loads((VECTORS / "y_typical.reflex").read_bytes()).metadata
    good = _files_with_metadata(tmp_path, [{**typical, "lambda": x} for x in differ])
    paths = []
    for path, x in zip(good, differ, strict=True):
        data = path.read_bytes()
        canon = f"lambda: {canonical_float(x)}\n".encode()
        loop = f"lambda: {_loop_spelling(x)}\n".encode()
        at = data.index(canon)
        yaml_start = data.index(b"created_at: ")
        yaml = data[yaml_start:at] + loop + data[at + len(canon) : -4]
        body = data[: yaml_start - 4] + struct.pack("<I", len(yaml)) + yaml
        path.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
        paths.append(path)
    verdicts = _verdicts(nem1check, paths)
    assert [v.split()[0] for v in verdicts] == ["E_METADATA_YAML"] * len(differ)


def test_c_float_check_agrees_with_repr_on_random_doubles(nem1check: Path, tmp_path: Path) -> None:
    """Random bit patterns of both signs and exact decimal ties, 500 floats per file."""
    rng = random.Random(20251006)
    xs = [2.0**50 + 0.25, 2.0**50 + 0.75, 5e-324, 1.7976931348623157e308, 2.0**-24]
    while len(xs) < 20000:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(x):
            xs.append(x)
    typical = reflexfmt.loads((VECTORS / "y_typical.reflex").read_bytes()).metadata
    chunks = [xs[i : i + 500] for i in range(0, len(xs), 500)]
    paths = _files_with_metadata(tmp_path, [{**typical, "zz": c} for c in chunks])
    assert _verdicts(nem1check, paths) == ["OK"] * len(chunks)
