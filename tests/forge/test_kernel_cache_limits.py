"""numba's on-disk cache of compiled kernels is an optimisation: a command whose cache
cannot be written (``ulimit -f``, a full disk) runs as well, only without saving it
(reflexforge/numbacache.py). The first run of a fresh install under ``ulimit -f 8`` failed:
``check`` called its input a malformed CSV ("[Errno 27] File too large"). Real commands in
real processes under a real limit, with an empty cache (NUMBA_CACHE_DIR)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest
from shadow_helpers import FORGE, forge_limited, write_trace_csv  # tests/shadow_helpers.py


def _under_file_size_limit(tmp_path: Path, limit: int, *argv: str):
    cache = tmp_path / "numba-cache"
    cache.mkdir(exist_ok=True)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return forge_limited(resource.RLIMIT_FSIZE, limit, tmp_path, *argv, hard=False, env=env)


def test_a_kernel_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    write_trace_csv(tmp_path / "t.csv")
    done = _under_file_size_limit(tmp_path, 8 << 10, "check", "t.csv")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith("t.csv: OK (csv, ")
    done = _under_file_size_limit(tmp_path, 8 << 10, "label", "t.csv", "-o", "/dev/null",
                                  "--workers", "1", "-q")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert not [p for p in (tmp_path / "numba-cache").rglob("*.tmp.*")]  # none half-written


ROOT = Path(__file__).resolve().parents[2]
READ_ONLY = """mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && \
mount --bind "$2" "$2" && mount -o remount,ro,bind "$2" && shift 2 && exec "$@" """


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30,
                          check=False).returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="no user and mount namespaces here")
def test_a_read_only_install_without_a_cache_directory_runs(tmp_path: Path) -> None:
    """The forge installed read-only, a home that is read-only too: numba found no place
    for its cache and every command but synth and static was E_INTERNAL ("cannot cache
    function 'as_read': no locator available")."""
    code, home, work = tmp_path / "code", tmp_path / "home", tmp_path / "work"
    for package in ("reflexforge", "reflexfmt"):
        shutil.copytree(ROOT / package, code / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    home.mkdir()
    work.mkdir()
    write_trace_csv(work / "t.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(HOME=str(home), PYTHONPATH=str(code))
    for argv in (["check", "t.csv"], ["label", "t.csv", "-o", "ts.csv", "--workers", "2",
                                      "-q"]):
        done = subprocess.run(["unshare", "-rm", "sh", "-c", READ_ONLY, "sh", str(code),
                               str(home), str(FORGE), *argv], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert (work / "ts.csv").read_text().startswith("window_start_ns,")
    assert not list(code.rglob("*.nbi"))  # nothing cached: nowhere to
