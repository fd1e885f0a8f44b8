"""A command started under an address-space limit (``ulimit -v``, RLIMIT_AS) too small for
the forge's libraries stops at once with one E_MEMORY line (spec/telemetry.md 3). It used to
hang: OpenBLAS, which numba loads at its first compile, retries a failed start-up allocation
forever, and pyarrow's CSV reader deadlocked when it could not start its threads. Real
commands in real processes under a real limit."""

from __future__ import annotations

import errno
import json
import resource
import subprocess
from pathlib import Path

import pytest
from shadow_helpers import forge_limited  # tests/shadow_helpers.py

from reflexforge.cli import main
from reflexforge.memory import START_ROOM


def _limited(limit: int, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    return forge_limited(resource.RLIMIT_AS, limit, tmp_path, *argv, hard=False)


@pytest.mark.parametrize("limit_mb", [300, 600])
def test_a_limit_too_small_to_start_is_one_line_at_once(tmp_path: Path, limit_mb: int) -> None:
    """600 MB hung in OpenBLAS's start-up for as long as it was left (10 minutes here)."""
    (tmp_path / "t.csv").write_text("ts_ns,bytes\n0,64\n300000000,64\n")
    for argv in (["check", "t.csv"], ["label", "t.csv", "-o", "out.csv", "--quiet"]):
        done = _limited(limit_mb << 20, tmp_path, *argv)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("reflex-forge: E_MEMORY: the address-space limit "
                                      "(ulimit -v) leaves "), done.stderr
        assert done.stderr.endswith(f"the forge needs {START_ROOM >> 20} MiB to start "
                                    "(numba, LLVM, OpenBLAS and pyarrow): raise the limit\n")
        assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_synth_loads_no_numba_and_needs_no_room(tmp_path: Path) -> None:
    done = _limited(300 << 20, tmp_path, "synth", "--duration", "1", "-o", "t.csv", "-q")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "t.csv").read_text().startswith("ts_ns,bytes")


def test_the_start_room_is_enough_for_the_largest_command(tmp_path: Path) -> None:
    """``demo`` (synth, a build with its worker processes, which inherit the limit, and
    shadow in one process) at START_ROOM plus 64 MiB for the interpreter. Measured on 2
    cores: the largest command on a 20-30 s trace needs 0.73 GB (demo), and the default
    10-minute demo runs from 1.2 GB. (Before the malloc arena cap and pyarrow's system
    allocator, which reserved 1 GB of address space at a first CSV read, it failed at 1.6
    and 2.0 GB and ran at 1.3 and 2.6 GB.)"""
    done = _limited(START_ROOM + (64 << 20), tmp_path, "demo", "--duration", "30",
                    "--out", "d", "--quiet")
    assert done.returncode in (0, 1), done.stderr  # 1: the gate refused (30 s of traffic)
    assert json.loads((tmp_path / "d" / "report.json").read_text())["promoted"] is \
        (done.returncode == 0)


@pytest.mark.parametrize("failure", [
    RuntimeError("can't start new thread"),
    ImportError("libarrow.so.2600: failed to map segment from shared object"),
    OSError(errno.ENOMEM, "Cannot allocate memory"),
    MemoryError(),
])
def test_running_short_of_memory_anywhere_is_e_memory(monkeypatch, capsys, failure) -> None:
    """How threads, the loader and system calls report no memory (under ``ulimit -v``) is the
    line a MemoryError gives; any other RuntimeError stays a bug. A thread may also meet
    the process limit (``ulimit -u``), which its line names."""
    def fail(argv):
        raise failure

    monkeypatch.setattr("reflexforge.cli.run", fail)
    assert main(["check", "x.csv"]) == 2
    thread = " or a process limit reached (ulimit -u)" if isinstance(failure, RuntimeError) \
        else ""
    assert capsys.readouterr().err == (
        f"reflex-forge: E_MEMORY: not enough memory for this input on this machine{thread} "
        "(free memory, or split the input into shorter files)\n")


def test_another_runtime_error_is_still_a_bug(monkeypatch, capsys) -> None:
    def fail(argv):
        raise RuntimeError("dictionary changed size during iteration")

    monkeypatch.setattr("reflexforge.cli.run", fail)
    monkeypatch.delenv("REFLEX_FORGE_DEBUG", raising=False)
    assert main(["check", "x.csv"]) == 3
    assert "E_INTERNAL: RuntimeError" in capsys.readouterr().err
