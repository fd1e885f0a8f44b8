"""spec/nem1.ksy: fresh, compiles cleanly, its Python parser agrees with reflexfmt and the manifest.

The .ksy is compiled to Python with kaitai-struct-compiler (npm, pinned in
tools/ksy/package-lock.json; `npm ci` runs when node_modules is missing) and the generated
parser runs on the kaitaistruct runtime. The compiler's warnings fail the build, and the doc
text it copies into Java, C++, C# and Go is safe in their doc formats.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest
from kaitaistruct import KaitaiStream, ValidationFailedError
from ksy_compile import KSY, compile_ksy, spec_path  # tests/ksy_compile.py

import reflexfmt
from reflexfmt import metadata

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "spec" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))["vectors"]
ACCEPT = [v for v in MANIFEST if v["result"] == "accept"]
REJECT = [v for v in MANIFEST if v["result"] == "reject"]


def test_ksy_matches_a_fresh_export(tmp_path: Path) -> None:
    out = tmp_path / "nem1.ksy"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "export_ksy.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_text(encoding="utf-8") == KSY.read_text(encoding="utf-8"), (
        "run: python tools/export_ksy.py"
    )


def test_every_ksy_field_has_a_doc() -> None:
    import yaml

    ksy = yaml.safe_load(KSY.read_text(encoding="utf-8"))
    seqs = [ksy["seq"]] + [t["seq"] for t in ksy["types"].values()]
    assert all("doc" in t for t in ksy["types"].values())
    assert all(field.get("doc") for seq in seqs for field in seq)
    docs = [ksy["doc"], *(t["doc"] for t in ksy["types"].values())]
    docs += [field["doc"] for seq in seqs for field in seq]
    docs += [p["doc"] for t in ksy["types"].values() for p in t.get("params", [])]
    assert not [doc for doc in docs if re.search(r"[<>&@{}\\]|\*/", doc)]


def test_compile_js_fails_on_a_compiler_warning(tmp_path: Path) -> None:
    """The compiler's JS build drops its style warnings; compile.js must print them and fail."""
    old_names = KSY.read_text(encoding="utf-8").replace("num_nodes", "node_count")
    ksy = tmp_path / "old.ksy"
    ksy.write_text(old_names, encoding="utf-8")
    done = compile_ksy(tmp_path / "out", ksy=ksy)
    assert done.returncode == 1
    assert "warning: use `num_nodes` instead of `node_count`" in done.stderr
    assert not (tmp_path / "out").exists()
    assert compile_ksy(tmp_path / "clean").returncode == 0


# Target -> (compile.js options, main generated file, the line the package option gives).
TARGETS = {
    "java": (
        ["--java-package", "net.example.nem1"],
        "net/example/nem1/Nem1.java",
        "package net.example.nem1;",
    ),
    "go": (["--go-package", "nem1"], "nem1/nem1.go", "package nem1"),
    "cpp_stl": ([], "nem1.h", None),
    "csharp": ([], "Nem1.cs", None),
}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_generated_doc_comments_are_safe(tmp_path: Path, target: str) -> None:
    """Javadoc, Doxygen and C# XML docs give `<`, `>` and `&` a meaning: none in the docs."""
    options, main, package = TARGETS[target]
    done = compile_ksy(tmp_path, "--target", target, *options)
    assert done.returncode == 0, done.stderr
    source = (tmp_path / main).read_text(encoding="utf-8")
    if package:
        assert package in source.splitlines()
    comments = re.findall(r"/\*\*.*?\*/", source, re.S) + re.findall(r"^\s*///.*$", source, re.M)
    text = re.sub(r"</?(summary|remarks)>", "", "\n".join(comments))
    assert "q at most threshold goes left" in text
    assert not re.findall(r"[<>&]", text)


@pytest.fixture(scope="module")
def nem1_ksy(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The Python parser kaitai-struct-compiler generates from spec/nem1.ksy."""
    out = tmp_path_factory.mktemp("ksy")
    done = compile_ksy(out)
    assert done.returncode == 0, done.stderr
    spec = importlib.util.spec_from_file_location("nem1_ksy", out / "nem1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


@pytest.mark.parametrize("entry", ACCEPT, ids=[v["id"] for v in ACCEPT])
def test_ksy_parser_agrees_with_reflexfmt(nem1_ksy: ModuleType, entry: dict) -> None:
    data = (VECTORS / entry["file"]).read_bytes()
    reflex = reflexfmt.loads(data)
    stream = KaitaiStream(io.BytesIO(data))
    parsed = nem1_ksy.Nem1(stream)
    assert stream.is_eof()
    h = parsed.header
    assert (h.version_major, h.flags, h.reserved) == (1, 0, 0)
    assert h.version_minor == reflex.version_minor
    assert (h.feature_count, h.output_count) == (len(reflex.scaling), len(reflex.trees))
    assert (h.q_scale, h.confirm_steps, h.dwell_steps) == (
        reflex.q_scale,
        reflex.confirm_steps,
        reflex.dwell_steps,
    )
    assert [(_bits(s.lo), _bits(s.hi)) for s in parsed.scaling] == [
        (_bits(s.lo), _bits(s.hi)) for s in reflex.scaling
    ]
    for tree, nodes in zip(parsed.trees, reflex.trees, strict=True):
        assert tree.num_nodes == len(nodes)
        assert [(n.feature, n.threshold, n.left, n.right, n.value) for n in tree.nodes] == [
            (n.feature, n.threshold, n.left, n.right, n.value) for n in nodes
        ]
        assert all(n.reserved == 0 for n in tree.nodes)
    assert [(b.min, b.max) for b in parsed.bounds] == [(b.min, b.max) for b in reflex.bounds]
    assert parsed.metadata.len_yaml == len(parsed.metadata.yaml)
    assert metadata.parse(parsed.metadata.yaml) == reflex.metadata
    assert parsed.crc32 == zlib.crc32(data[:-4])


@pytest.mark.parametrize("entry", REJECT, ids=[v["id"] for v in REJECT])
def test_ksy_parser_gives_every_n_vector_its_manifest_verdict(
    nem1_ksy: ModuleType, entry: dict
) -> None:
    """The manifest's `kaitai` error class; for a validation error, the field its `src_path`
    names. (The Python runtime's end-of-stream error, EndOfStreamError, is an EOFError.)"""
    import yaml

    try:
        nem1_ksy.Nem1(KaitaiStream(io.BytesIO((VECTORS / entry["file"]).read_bytes())))
    except ValidationFailedError as e:
        ksy = yaml.safe_load(KSY.read_text(encoding="utf-8"))
        where = ksy
        for step in e.src_path.strip("/").split("/"):
            where = where[int(step)] if step.isdigit() else where[step]
        assert type(e).__name__ == entry["kaitai"]["error"]
        assert spec_path(where["id"]) == entry["kaitai"]["field"].rsplit(".", 1)[-1]
    except EOFError:
        assert entry["kaitai"]["error"] == "EOFError"
    else:
        assert entry["kaitai"] is None


def test_the_vectors_readme_lists_the_kaitai_verdicts() -> None:
    """spec/vectors/README.md: every n_ vector a Kaitai parser rejects, by error class, and
    the count of those left to the reader's own checks, per spec code, as in the manifest."""
    text = (VECTORS / "README.md").read_text(encoding="utf-8")
    listed = {
        error: (int(count), re.findall(r"`(n_\w+)`", ids))
        for error, count, ids in re.findall(r"^\| `(\w+)` \((\d+)\) \| (.*) \|$", text, re.M)
    }
    by_error: dict[str, list[str]] = {}
    for v in REJECT:
        if v["kaitai"]:
            by_error.setdefault(v["kaitai"]["error"], []).append(v["id"])
    assert listed == {error: (len(ids), ids) for error, ids in by_error.items()}
    left: dict[str, int] = {}
    for v in REJECT:
        if v["kaitai"] is None:
            left[v["code"]] = left.get(v["code"], 0) + 1
    rows = dict(re.findall(r"^\|[^|]+\| `(E_\w+)` \| (\d+) \|$", text, re.M))
    assert {code: int(n) for code, n in rows.items()} == left
    rejected = sum(len(ids) for ids in by_error.values())
    assert f"{rejected} of the {len(REJECT)} `n_` vectors are rejected" in text
    assert f"{rejected} of the {len(REJECT)} `n_` vectors" in (ROOT / "README.md").read_text(
        encoding="utf-8"
    )
