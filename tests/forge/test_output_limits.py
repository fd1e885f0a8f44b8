"""Outputs under the limits a shell sets (``ulimit -n``, ``ulimit -f``): a command that
fails there says so in one line naming the file as asked, and leaves nothing of itself
(commands/staging.py). Real commands in real processes under real limits."""

from __future__ import annotations

import errno
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from shadow_helpers import (  # tests/shadow_helpers.py
    constant_reflex,
    forge_limited,
    write_trace_csv,
)

from reflexfmt import dump
from reflexforge.cli import main
from reflexforge.openfiles import MIN_OPEN_FILES


def _inputs(tmp_path: Path) -> None:
    write_trace_csv(tmp_path / "t.csv")
    dump(constant_reflex(1, 50), tmp_path / "m.reflex")


SHADOW = ("shadow", "m.reflex", "t.csv", "--quiet", "--workers", "1", "--min-duration", "1",
          "--gate-static", "off", "--report", "r.json", "--plot", "p.png")


FEW_FREE = """if True:
    import os, resource, sys
    from reflexforge.cli import main
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1]))
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    for fd in held[len(held) - int(sys.argv[1]):]:
        os.close(fd)
    sys.exit(main(sys.argv[2:]))
"""
"""Runs a command under an open-file limit of 64 (enough to start) with only argv[1]
descriptors free: what a run that opens too many files meets part of the way."""


def _few_free(tmp_path: Path, free: int, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FEW_FREE, str(free), *argv],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          check=False)


OUT_OF_FILES = ("reflex-forge: E_IO: too many open files (the open-file limit, ulimit -n, "
                "is 64): raise it, or use fewer --workers\n")


def test_out_of_file_descriptors_leaves_no_staging_directory(tmp_path: Path) -> None:
    """With few descriptors free shadow fails loading the plot's fonts, after it staged
    --report and --plot. The empty staging directories stayed: removing them listed them
    first, which needs a descriptor too. The line named a font file of matplotlib's."""
    _inputs(tmp_path)
    for free in (2, 3, 4):
        done = _few_free(tmp_path, free, *SHADOW)
        assert (done.returncode, done.stderr) == (2, OUT_OF_FILES), free
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m.reflex", "t.csv"], free


def test_worker_processes_out_of_file_descriptors(tmp_path: Path) -> None:
    """Local workers need pipes and the shared trace: the line said
    '/dev/shm/reflexforge-XXXX: E_IO: Too many open files' (a file of the forge's own)."""
    _inputs(tmp_path)
    done = _few_free(tmp_path, 4, "label", "t.csv", "-o", "ts.csv", "--workers", "4", "-q")
    assert (done.returncode, done.stderr) == (2, OUT_OF_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.reflex", "t.csv"]


@pytest.mark.parametrize("limit", [8, 63])
def test_an_open_file_limit_too_small_to_start_is_one_line_at_once(tmp_path: Path,
                                                                  limit: int) -> None:
    """Under 64 a command stops before reading; it used to fail part of the way, and with
    --dask as E_INTERNAL ("Could not serialize object of type ndarray": distributed could
    not open its numpy module) after pages of distributed's log. synth needs no more."""
    _inputs(tmp_path)
    for argv in (SHADOW, ("check", "t.csv"), ("static", "16,1ms", "-o", "s.reflex")):
        done = forge_limited(resource.RLIMIT_NOFILE, limit, tmp_path, *argv)
        assert (done.returncode, done.stderr) == (2, (
            f"reflex-forge: E_IO: the open-file limit (ulimit -n) is {limit}; the forge needs "
            f"{MIN_OPEN_FILES} to start (libraries, worker processes, a Dask connection): "
            f"raise the limit\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.reflex", "t.csv"]
    done = forge_limited(resource.RLIMIT_NOFILE, limit, tmp_path, "synth",
                    "--duration", "1", "-o", "x.csv", "-q")
    assert done.returncode == 0, done.stderr


def test_a_soft_open_file_limit_is_raised_as_the_hard_one_allows(tmp_path: Path) -> None:
    """``ulimit -S -n 8`` under a larger hard limit: the command raises its soft limit to
    64 and runs (it was refused)."""
    _inputs(tmp_path)
    done = forge_limited(resource.RLIMIT_NOFILE, 8, tmp_path, *SHADOW, hard=False)
    assert done.returncode in (0, 1), done.stderr
    assert (tmp_path / "r.json").exists() and (tmp_path / "p.png").exists()


def test_the_start_limit_is_enough(tmp_path: Path) -> None:
    _inputs(tmp_path)
    done = forge_limited(resource.RLIMIT_NOFILE, MIN_OPEN_FILES, tmp_path, *SHADOW)
    assert done.returncode in (0, 1), done.stderr
    assert (tmp_path / "r.json").exists() and (tmp_path / "p.png").exists()
    done = forge_limited(resource.RLIMIT_NOFILE, MIN_OPEN_FILES, tmp_path, "label",
                    "t.csv", "-o", "ts.csv", "--workers", "4", "-q")
    assert done.returncode == 0, done.stderr


def test_a_library_error_raised_from_emfile_is_e_io(monkeypatch, capsys) -> None:
    """distributed turns an EMFILE (importing its numpy serializer) into a TypeError; any
    error raised from one, or while handling one, is the open-file line, not E_INTERNAL."""
    def fail(argv):
        try:
            raise OSError(errno.EMFILE, "Too many open files", "numpy.py")
        except OSError as exc:
            raise TypeError("Could not serialize object of type ndarray") from exc

    monkeypatch.setattr("reflexforge.cli.run", fail)
    monkeypatch.delenv("REFLEX_FORGE_DEBUG", raising=False)
    assert main(["label", "x.csv", "-o", "y.csv"]) == 2
    assert capsys.readouterr().err.startswith("reflex-forge: E_IO: too many open files (")


def test_staged_outputs_discarded_with_no_descriptor_left(tmp_path: Path) -> None:
    """Every descriptor in use when the run fails (EMFILE): the staged files and their
    directories are still removed."""
    script = """if True:
        import errno, os, resource, sys
        from pathlib import Path
        from reflexforge.commands.staging import StagedOutputs
        out = Path(sys.argv[1])
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(
            resource.RLIMIT_NOFILE)[1]))
        held = []
        try:
            with StagedOutputs() as staging:
                staging.path(out / "a.json").write_text("a")
                staging.path(out / "b.png").write_text("b")
                while True:
                    held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            sys.exit(0 if exc.errno == errno.EMFILE else 1)
        sys.exit(1)
    """
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_file_size_limit_names_the_report_as_asked(tmp_path: Path) -> None:
    """``ulimit -f`` below the report's size: File too large (EFBIG; Python ignores
    SIGXFSZ), named r.json, not its staging path (.r.json.*.reflex-tmp/r.json)."""
    _inputs(tmp_path)
    done = forge_limited(resource.RLIMIT_FSIZE, 1024, tmp_path, *SHADOW)
    assert done.returncode == 2, done.stderr
    assert done.stderr == "r.json: E_IO: File too large\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.reflex", "t.csv"]
