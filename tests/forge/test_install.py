"""Both installs of the README into fresh virtual environments (issue 9, item 5).

The wheel is built once from this checkout; the light install (no extra: reflexfmt,
reflex-inspect, reflex-build) and the full one (`[forge]`) go into two new venvs through
pip, with its cache (PyPI for the dependencies). Light: the format tools work and
`reflex-forge` says in one line, exit 2, which extra to install. Full: `reflex-forge` works.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPICAL = ROOT / "spec" / "examples" / "typical.reflex"
ENV = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONPATH": ""}


def _run(*command: object, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, env=ENV,
                          cwd=kwargs.pop("cwd", "/"), check=False, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                "-w", out, ROOT)
    assert done.returncode == 0, done.stderr.decode()
    (built,) = out.glob("reflex_nem1-*.whl")
    return built


def _venv_with(tmp_path: Path, requirement: str) -> Path:
    """A new venv (no pip of its own) with ``requirement`` installed by this pip."""
    venv.create(tmp_path / "venv", with_pip=False)
    bindir = tmp_path / "venv" / "bin"
    done = _run(sys.executable, "-m", "pip", "--python", bindir / "python", "install", "-q",
                requirement)
    assert done.returncode == 0, done.stderr.decode()
    return bindir


def test_light_install_has_the_format_tools_and_names_the_forge_extra(wheel, tmp_path):
    bindir = _venv_with(tmp_path, str(wheel))
    verify = _run(bindir / "reflex-inspect", "--verify", TYPICAL)
    assert verify.returncode == 0 and verify.stdout.endswith(b": OK\n"), verify
    doc = _run(bindir / "reflex-inspect", "--json", TYPICAL)
    rebuilt = _run(bindir / "reflex-build", "-", "-o", "-", input=doc.stdout)
    assert rebuilt.returncode == 0 and rebuilt.stdout == TYPICAL.read_bytes(), rebuilt
    assert _run(bindir / "python", "-c", "import numpy").returncode != 0  # truly light
    helped = _run(bindir / "reflex-forge", "--help")
    assert helped.returncode == 0 and b"shadow" in helped.stdout
    for argv in (["label", "t.csv", "-o", "out.csv"], ["synth", "-o", "t.csv"],
                 ["shadow", "m.reflex", "t.csv"]):
        done = _run(bindir / "reflex-forge", *argv, cwd=tmp_path)
        lines = done.stderr.decode().splitlines()
        assert done.returncode == 2, done
        assert len(lines) == 1 and "Traceback" not in done.stderr.decode(), lines
        assert lines[0].startswith("reflex-forge: E_INSTALL: ") and "[forge]" in lines[0]
        assert "E_INTERNAL" not in lines[0]


def test_full_install_gives_a_working_forge(wheel, tmp_path):
    bindir = _venv_with(tmp_path, f"{wheel}[forge]")
    trace = tmp_path / "t.csv"
    done = _run(bindir / "reflex-forge", "synth", "--duration", "1", "--seed", "1", "-o", trace,
                "-q")
    assert done.returncode == 0, done.stderr.decode()
    assert trace.read_bytes().startswith(b"ts_ns,bytes,rtt_ns\n")
    modules = ("numpy", "numba", "sklearn", "pyarrow", "dask.distributed", "matplotlib")
    imported = _run(bindir / "python", "-c", f"import {', '.join(modules)}")
    assert imported.returncode == 0, imported.stderr.decode()
    helped = _run(bindir / "reflex-forge", "build", "--help")
    assert helped.returncode == 0 and b"usage: reflex-forge build" in helped.stdout, helped
