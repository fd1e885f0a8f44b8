"""Local labelling workers share the packets through files (/dev/shm, or the temporary
directory when /dev/shm cannot hold them: a container's is 64 MB); when neither can, one
E_IO line says what to do. A full /dev/shm used to fail with numpy's 'reflex-forge: E_IO:
N requested and M written'. Real commands in real processes, a real small /dev/shm (a
mount namespace) and a real ``ulimit -f``."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from shadow_helpers import write_trace_csv  # tests/shadow_helpers.py

FORGE = Path(sys.executable).with_name("reflex-forge")
LABEL = ("label", "t.csv", "--workers", "2", "-q", "-o")


def _small_shm_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-rm", "sh", "-c",
                           "mount -t tmpfs -o size=64k none /dev/shm"],
                          capture_output=True, timeout=30, check=False)
    return done.returncode == 0


@pytest.mark.skipif(not _small_shm_works(), reason="no user and mount namespaces here")
def test_a_full_dev_shm_falls_back_to_the_temporary_directory(tmp_path: Path) -> None:
    write_trace_csv(tmp_path / "t.csv")
    done = subprocess.run([str(FORGE), *LABEL, "one.csv"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    script = ('mount -t tmpfs -o size=64k none /dev/shm && exec "$0" "$@"')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, str(FORGE), *LABEL,
                           "two.csv"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()


def test_no_room_for_the_shared_packets_is_one_line(tmp_path: Path) -> None:
    write_trace_csv(tmp_path / "t.csv")

    def cap() -> None:  # 1.2 MB of timestamps; the cache of compiled kernels is no error
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 << 10, resource.RLIM_INFINITY))

    done = subprocess.run([str(FORGE), *LABEL, "ts.csv"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, preexec_fn=cap, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("reflex-forge: E_IO: cannot write the packets the worker "
                                  "processes share (")
    assert done.stderr.endswith("): free space there or raise the file-size limit (ulimit "
                                "-f), or use --workers 1\n")
    assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


@pytest.mark.skipif(not _small_shm_works(), reason="no user and mount namespaces here")
def test_without_a_writable_dev_shm_the_line_names_the_temporary_directory(
        tmp_path: Path) -> None:
    """/dev/shm read-only and no room in the temporary directory (``ulimit -f``): the reason
    named the missing /dev/shm as 'None' and the temporary directory twice."""
    write_trace_csv(tmp_path / "t.csv")
    script = 'mount -t tmpfs -o ro none /dev/shm && ulimit -f 100 && exec "$0" "$@"'
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, str(FORGE), *LABEL,
                           "ts.csv"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    temp = tempfile.gettempdir()
    assert done.stderr.startswith("reflex-forge: E_IO: cannot write the packets the worker "
                                  f"processes share ({temp}: "), done.stderr
    assert "None" not in done.stderr and done.stderr.count(f"{temp}:") == 1
