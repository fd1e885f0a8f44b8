"""numba's on-disk cache of compiled kernels is an optimisation: a command whose cache
cannot be written (``ulimit -f``, a full disk) runs as well, only without saving it
(reflexforge/numbacache.py). The first run of a fresh install under ``ulimit -f 8`` failed:
``check`` called its input a malformed CSV ("[Errno 27] File too large"). Real commands in
real processes under a real limit, with an empty cache (NUMBA_CACHE_DIR)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from shadow_helpers import make_trace  # tests/shadow_helpers.py

FORGE = Path(sys.executable).with_name("reflex-forge")


def _write_csv(path: Path) -> None:
    ts, size, rtt = make_trace(5, 15.0, 10_000)
    with open(path, "w") as handle:
        handle.write("ts_ns,bytes,rtt_ns\n")
        for t, b, r in zip(ts.tolist(), size.tolist(), rtt.tolist(), strict=True):
            handle.write(f"{t},{b},{'' if r < 0 else r}\n")


def _under_file_size_limit(tmp_path: Path, limit: int, *argv: str):
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    cache = tmp_path / "numba-cache"
    cache.mkdir(exist_ok=True)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run([str(FORGE), *argv], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120, preexec_fn=cap, check=False)


def test_a_kernel_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    _write_csv(tmp_path / "t.csv")
    done = _under_file_size_limit(tmp_path, 8 << 10, "check", "t.csv")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith("t.csv: OK (csv, ")
    done = _under_file_size_limit(tmp_path, 8 << 10, "label", "t.csv", "-o", "/dev/null",
                                  "--workers", "1", "-q")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert not [p for p in (tmp_path / "numba-cache").rglob("*.tmp.*")]  # none half-written
