"""spec/examples are what tools/make_examples.py generates, and their --json is checked in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reflexfmt import loads
from reflexfmt.limits import LEAF

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "spec" / "examples"


def test_examples_equal_a_fresh_generation(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_examples.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("minimal.reflex", "typical.reflex", "minimal.json", "typical.json"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def test_example_shapes(minimal_bytes, typical_bytes):
    minimal = loads(minimal_bytes)
    assert all(len(t) == 1 and t[0].feature == LEAF for t in minimal.trees)
    typical = loads(typical_bytes)
    for tree in typical.trees:
        assert len(tree) == 31 and sum(n.feature != LEAF for n in tree) == 15
    used = {n.feature for t in typical.trees for n in t if n.feature != LEAF}
    assert used == set(range(10))
