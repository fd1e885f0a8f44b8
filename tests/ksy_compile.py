"""Compile spec/nem1.ksy with the kaitai-struct-compiler pinned in tools/ksy/package-lock.json.

Shared by the Kaitai conformance tests. `npm ci` installs the pinned compiler and JavaScript
runtime when one of them is missing from tools/ksy/node_modules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KSY = ROOT / "spec" / "nem1.ksy"
KSY_TOOLS = ROOT / "tools" / "ksy"
NODE_MODULES = KSY_TOOLS / "node_modules"
sys.path.insert(0, str(ROOT / "tools"))
from export_ksy import END_OF_FILE, FIELD_NAMES, SIZE_LIMIT  # noqa: E402

# Kaitai field name -> the spec's name for it (spec appendix B): the renamed counts and
# lengths, and the zero-size checks, named like the spec's pseudo-paths.
SPEC_NAMES = {new: old for names in FIELD_NAMES.values() for old, new in names.items()}
SPEC_NAMES |= {SIZE_LIMIT["id"]: "file", END_OF_FILE["id"]: "trailing"}


def node() -> str:
    """The node binary, after `npm ci` if a pinned package is missing."""
    node_bin, npm = shutil.which("node"), shutil.which("npm")
    assert node_bin and npm, "node and npm are required to compile spec/nem1.ksy"
    wanted = json.loads((KSY_TOOLS / "package.json").read_text(encoding="utf-8"))
    if not all((NODE_MODULES / name).is_dir() for name in wanted["dependencies"]):
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=KSY_TOOLS, check=True
        )
    return node_bin


def compile_ksy(out: Path, *options: str, ksy: Path = KSY) -> subprocess.CompletedProcess[str]:
    """Run tools/ksy/compile.js; the caller checks the exit status."""
    return subprocess.run(
        [node(), str(KSY_TOOLS / "compile.js"), *options, str(ksy), str(out)],
        capture_output=True,
        text=True,
    )


def spec_path(kaitai_path: str) -> str:
    """`trees[0].num_nodes` -> `trees[0].node_count`: a Kaitai field path in the spec's names."""
    parts = []
    for part in kaitai_path.split("."):
        name, bracket, index = part.partition("[")
        parts.append(SPEC_NAMES.get(name, name) + bracket + index)
    return ".".join(parts)
