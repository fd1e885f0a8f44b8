"""spec/nem1.ksy compiled to JavaScript and run on node, as a runtime team in JavaScript would.

The pinned kaitai-struct-compiler (tools/ksy/package-lock.json) compiles the .ksy; the pinned
`kaitai-struct` runtime from npm parses. Every input goes through one node process
(tools/ksy/check.js) whose heap is capped at 64 MB:
- every y_ vector decodes field for field like reflexfmt, floats bit for bit;
- every n_ vector gets the manifest's `kaitai` verdict: the Kaitai error class and the field;
- a huge declared length or count is rejected by its own field's validation, before anything
  of that size is read (and without the validation the runtime throws a RangeError);
- thousands of mutated files (huge counts and lengths, flips, splices, insertions, deletions,
  metadata edits) raise only the runtime's own errors, each the verdict tools/ksy_verdict.py
  derives from the spec, and decode like reflexfmt wherever reflexfmt accepts them.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fmt_helpers import field_at  # tests/fmt_helpers.py
from hypothesis import HealthCheck, given, settings
from ksy_compile import KSY, KSY_TOOLS, NODE_MODULES, compile_ksy, node, spec_path

import reflexfmt
from reflexfmt import metadata

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from ksy_verdict import verdict  # noqa: E402  (tools/ksy_verdict.py)
from mutations import HUGE, accepted_seeds, fix_crc, mutated  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "spec" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))["vectors"]
ACCEPT = [v for v in MANIFEST if v["result"] == "accept"]
REJECT = [v for v in MANIFEST if v["result"] == "reject"]
NODE_FLAGS = ("--max-old-space-size=64", "--max-semi-space-size=1", "--expose-gc")
MAX_ARRAY_BUFFERS = 8 << 20  # check.js collects garbage above this, then measures again
COUNT_FIELDS = (
    "header.feature_count",
    "header.output_count",
    "trees[0].node_count",
    "trees[1].node_count",
    "metadata.length",
)
Ask = Callable[[bytes], dict[str, Any]]


def _compile_js(out: Path, ksy: Path = KSY) -> tuple[Path, Path]:
    """The parser as a user compiles it, and the same in debug mode (to name a failed field)."""
    for name, options in (("plain", ()), ("debug", ("--debug",))):
        done = compile_ksy(out / name, "--target", "javascript", *options, ksy=ksy)
        assert done.returncode == 0, done.stderr
    return out / "plain", out / "debug"


def _node_command(parsers: tuple[Path, Path]) -> tuple[list[str], dict[str, str]]:
    command = [node(), *NODE_FLAGS, str(KSY_TOOLS / "check.js"), *map(str, parsers)]
    return command, {**os.environ, "NODE_PATH": str(NODE_MODULES)}


@pytest.fixture(scope="module")
def js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ask]:
    """Ask the long-lived, heap-capped node process about one file."""
    tmp = tmp_path_factory.mktemp("ksy_js")
    command, env = _node_command(_compile_js(tmp))
    with (tmp / "stderr.txt").open("w+") as stderr:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )

        def ask(data: bytes) -> dict[str, Any]:
            proc.stdin.write(data.hex() + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            stderr.seek(0)
            assert line, f"node died (exit {proc.wait(timeout=10)}): {stderr.read()[-2000:]}"
            answer = json.loads(line)
            assert answer["verdict"] != "foreign", answer
            assert answer["arrayBuffers"] <= MAX_ARRAY_BUFFERS, answer
            return answer

        yield ask
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0


def _f64(x: float) -> str:
    return struct.pack("<d", x).hex()


def _decoding(reflex: reflexfmt.Reflex, data: bytes) -> dict[str, Any]:
    """What check.js must report for a file reflexfmt accepts (all but the metadata bytes)."""
    return {
        "size_limit": 0,
        "header": {
            "magic": b"NEM1".hex(),
            "version_major": 1,
            "version_minor": reflex.version_minor,
            "flags": 0,
            "feature_count": len(reflex.scaling),
            "output_count": len(reflex.trees),
            "q_scale": reflex.q_scale,
            "confirm_steps": reflex.confirm_steps,
            "reserved": 0,
            "dwell_steps": reflex.dwell_steps,
        },
        "scaling": [[_f64(s.lo), _f64(s.hi)] for s in reflex.scaling],
        "trees": [
            {
                "num_nodes": len(nodes),
                "nodes": [[n.feature, 0, n.threshold, n.left, n.right, n.value] for n in nodes],
            }
            for nodes in reflex.trees
        ],
        "bounds": [[b.min, b.max] for b in reflex.bounds],
        "crc32": zlib.crc32(data[:-4]),
        "end_of_file": 0,
    }


def _assert_decodes_like_reflexfmt(answer: dict[str, Any], data: bytes) -> None:
    reflex = reflexfmt.loads(data)
    assert answer["verdict"] == "accept", answer
    decoded = dict(answer["decoded"])
    meta = decoded.pop("metadata")
    assert decoded == _decoding(reflex, data)
    yaml = bytes.fromhex(meta["yaml"])
    assert meta["len_yaml"] == len(yaml)
    assert metadata.parse(yaml) == reflex.metadata


def _assert_spec_verdict(answer: dict[str, Any], data: bytes) -> None:
    """The verdict tools/ksy_verdict.py derives from the spec; reflexfmt agrees with it."""
    expected = verdict(data)
    if expected is None:
        assert answer["verdict"] == "accept", answer
    else:
        assert answer["verdict"] == "reject", (answer, expected)
        assert {"error": answer["error"], "field": spec_path(answer["field"])} == expected
    try:
        reflexfmt.loads(data)
    except reflexfmt.ReflexFormatError:
        return
    _assert_decodes_like_reflexfmt(answer, data)


@pytest.mark.parametrize("entry", ACCEPT, ids=[v["id"] for v in ACCEPT])
def test_js_decodes_every_y_vector_like_reflexfmt(js: Ask, entry: dict[str, Any]) -> None:
    data = (VECTORS / entry["file"]).read_bytes()
    _assert_decodes_like_reflexfmt(js(data), data)


@pytest.mark.parametrize("entry", REJECT, ids=[v["id"] for v in REJECT])
def test_js_gives_every_n_vector_its_manifest_verdict(js: Ask, entry: dict[str, Any]) -> None:
    answer = js((VECTORS / entry["file"]).read_bytes())
    if entry["kaitai"] is None:  # left to the reader's own checks (README)
        assert answer["verdict"] == "accept", answer
    else:
        assert answer["verdict"] == "reject", answer
        got = {"error": answer["error"], "field": spec_path(answer["field"])}
        assert got == entry["kaitai"]


def _with(data: bytes, path: str, value: int) -> bytes:
    f = field_at(data, path)
    return data[: f.offset] + value.to_bytes(f.size, "little") + data[f.offset + f.size :]


def test_a_huge_length_is_rejected_before_it_is_read(js: Ask, tmp_path: Path) -> None:
    """The metadata length 0xFFFFFFFF fails its own field's validation: the parser never
    starts the 4 GiB `yaml` field (the failed field is the last one started), in a heap of
    64 MB, with no large array buffer. Without the `valid` key, the runtime itself fails
    with a RangeError, which is not a Kaitai error."""
    data = (VECTORS / "n_metadata_length_huge.reflex").read_bytes()
    answer = js(data)
    assert (answer["error"], answer["field"]) == ("ValidationGreaterThanError", "metadata.len_yaml")
    seed = (VECTORS / "y_maximal.reflex").read_bytes()
    for path, value, error in (
        ("metadata.length", 2**31 - 1, "ValidationGreaterThanError"),
        ("trees[0].node_count", 0xFFFF, "ValidationGreaterThanError"),
        ("header.feature_count", 0xFF, "ValidationNotEqualError"),
    ):
        answer = js(_with(seed, path, value))
        assert (answer["error"], spec_path(answer["field"])) == (error, path)
    unchecked = tmp_path / "unchecked.ksy"
    text = KSY.read_text(encoding="utf-8")
    unchecked.write_text(text.replace("      valid:\n        max: 65536\n", ""), encoding="utf-8")
    assert unchecked.read_text(encoding="utf-8") != text
    command, env = _node_command(_compile_js(tmp_path, unchecked))
    out = subprocess.run(command, input=data.hex() + "\n", capture_output=True, text=True, env=env)
    assert json.loads(out.stdout)["error"] == "RangeError"


def test_huge_counts_and_lengths(js: Ask) -> None:
    """Every valid vector with each count and length field set to each boundary or huge value
    (2,000 files), CRC recomputed."""
    files = 0
    for seed in accepted_seeds():
        for path in COUNT_FIELDS:
            size = field_at(seed, path).size
            for value in HUGE:
                data = fix_crc(_with(seed, path, value % (1 << (8 * size))))
                _assert_spec_verdict(js(data), data)
                files += 1
    assert files == len(accepted_seeds()) * len(COUNT_FIELDS) * len(HUGE) >= 2000


@settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=mutated())
def test_mutated_files(js: Ask, data: bytes) -> None:
    _assert_spec_verdict(js(data), data)
