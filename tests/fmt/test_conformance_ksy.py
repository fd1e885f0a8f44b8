"""spec/nem1.ksy: fresh from the construct schema, and it parses every y_ vector like reflexfmt.

The .ksy is compiled to Python with kaitai-struct-compiler (npm, pinned in
tools/ksy/package-lock.json; `npm ci` runs when node_modules is missing) and the generated
parser runs on the kaitaistruct runtime.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest
from kaitaistruct import KaitaiStream

import reflexfmt
from reflexfmt import metadata

ROOT = Path(__file__).resolve().parents[2]
KSY = ROOT / "spec" / "nem1.ksy"
KSY_TOOLS = ROOT / "tools" / "ksy"
VECTORS = ROOT / "spec" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))["vectors"]
ACCEPT = [v for v in MANIFEST if v["result"] == "accept"]


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


@pytest.fixture(scope="module")
def nem1_ksy(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The Python parser kaitai-struct-compiler generates from spec/nem1.ksy."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are required to compile spec/nem1.ksy"
    if not (KSY_TOOLS / "node_modules" / "kaitai-struct-compiler").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=KSY_TOOLS, check=True
        )
    out = tmp_path_factory.mktemp("ksy")
    subprocess.run([node, str(KSY_TOOLS / "compile.js"), str(KSY), str(out)], check=True)
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
        assert tree.node_count == len(nodes)
        assert [(n.feature, n.threshold, n.left, n.right, n.value) for n in tree.nodes] == [
            (n.feature, n.threshold, n.left, n.right, n.value) for n in nodes
        ]
        assert all(n.reserved == 0 for n in tree.nodes)
    assert [(b.min, b.max) for b in parsed.bounds] == [(b.min, b.max) for b in reflex.bounds]
    assert parsed.metadata.length == len(parsed.metadata.yaml)
    assert metadata.parse(parsed.metadata.yaml) == reflex.metadata
    assert parsed.crc32 == zlib.crc32(data[:-4])
