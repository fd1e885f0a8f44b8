"""Outputs under the limits a shell sets (``ulimit -n``, ``ulimit -f``): a command that
fails there says so in one line naming the file as asked, and leaves nothing of itself
(commands/staging.py). Real commands in real processes under real limits."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from shadow_helpers import constant_reflex, make_trace  # tests/shadow_helpers.py

from reflexfmt import dump

FORGE = Path(sys.executable).with_name("reflex-forge")


def _limited(kind: int, limit: int, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(kind, (limit, resource.getrlimit(kind)[1]))

    return subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, timeout=120,
                          preexec_fn=cap, check=False)


def _inputs(tmp_path: Path) -> None:
    ts, size, rtt = make_trace(5, 15.0, 10_000)
    with open(tmp_path / "t.csv", "w") as handle:
        handle.write("ts_ns,bytes,rtt_ns\n")
        for t, b, r in zip(ts.tolist(), size.tolist(), rtt.tolist(), strict=True):
            handle.write(f"{t},{b},{'' if r < 0 else r}\n")
    dump(constant_reflex(1, 50), tmp_path / "m.reflex")


SHADOW = ("shadow", "m.reflex", "t.csv", "--quiet", "--workers", "1", "--min-duration", "1",
          "--gate-static", "off", "--report", "r.json", "--plot", "p.png")


def test_out_of_file_descriptors_leaves_no_staging_directory(tmp_path: Path) -> None:
    """With few file descriptors shadow fails loading the plot's fonts, after it staged
    --report and --plot. The empty staging directories stayed: removing them listed them
    first, which needs a descriptor too."""
    _inputs(tmp_path)
    failed = 0
    for limit in (6, 8, 10):
        done = _limited(resource.RLIMIT_NOFILE, limit, tmp_path, str(FORGE), *SHADOW)
        assert done.returncode in (0, 1, 2), done.stderr
        assert "Traceback" not in done.stderr and "E_INTERNAL" not in done.stderr
        if done.returncode == 2:
            failed += 1
            assert done.stderr.endswith(": E_IO: Too many open files\n"), done.stderr
            assert done.stderr.count("\n") == 1
        left = {p.name for p in tmp_path.iterdir()} - {"m.reflex", "t.csv"}
        assert left == (set() if done.returncode == 2 else {"r.json", "p.png"}), limit
        for name in ("r.json", "p.png"):
            (tmp_path / name).unlink(missing_ok=True)
    assert failed, "no limit made shadow fail: lower them"


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
    done = _limited(resource.RLIMIT_FSIZE, 1024, tmp_path, str(FORGE), *SHADOW)
    assert done.returncode == 2, done.stderr
    assert done.stderr == "r.json: E_IO: File too large\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.reflex", "t.csv"]
