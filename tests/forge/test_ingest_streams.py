"""Telemetry from a pipe, a FIFO or a socket (spec/telemetry.md 5): read twice (its first
bytes, then the whole) it gave a wrong diagnosis (a pipe: E_CSV_EMPTY) or hung (a FIFO with
no writer blocks in open). Every command that reads telemetry refuses it at once, one E_IO
line, without opening it. Real processes with a timeout, so a regression cannot hang."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRAINING_SET = (  # one window, as label writes it: train reads it before the telemetry
    "window_start_ns,queue_depth,enqueue_rate,dequeue_rate,latency_p50,latency_p95,"
    "bytes_in_per_sec,bytes_out_per_sec,packet_size_mean,packet_size_var,rtt_ewma,"
    "flush_threshold,max_batch_delay_us,J\n20537909,0.06505108,65.0,65.0,1005.071,1005.144,"
    "5415.0,5415.0,83.3076923076923,88.52071005917159,0.0,1,50,11.575\n")
FORGE = [sys.executable, "-c", "import sys; from reflexforge.cli import main; "
         "sys.exit(main(sys.argv[1:]))"]
MESSAGE = "E_IO: not a regular file (a pipe or FIFO): write it to a file first"


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    return subprocess.run([*FORGE, *argv], capture_output=True, text=True, env=env,
                          timeout=120, check=False, **kwargs)


def _commands(src: str, tmp: Path) -> dict[str, list[str]]:
    model = ROOT / "spec" / "examples" / "minimal.reflex"
    (tmp / "ts.csv").write_text(TRAINING_SET)
    return {
        "check": ["check", src],
        "label": ["label", src, "-o", str(tmp / "o.csv")],
        "build": ["build", src, "-o", str(tmp / "o.reflex")],
        "convert": ["convert", src, "-o", str(tmp / "o.parquet")],
        "train": ["train", str(tmp / "ts.csv"), "--telemetry", src, "-o", str(tmp / "t.reflex")],
        "shadow": ["shadow", str(model), src],
    }


@pytest.mark.parametrize("command", ["check", "label", "build", "convert", "train", "shadow"])
def test_a_fifo_without_writer_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "ff"
    os.mkfifo(fifo)
    proc = _run(_commands(str(fifo), tmp_path)[command])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"{fifo}: {MESSAGE}" + (" (unreadable)" if command == "check"
                                                          else "") or \
        proc.stdout.strip() == f"{fifo}: {MESSAGE} (unreadable)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ff", "ts.csv"]


def test_a_pipe_is_refused_not_taken_for_an_empty_file(tmp_path):
    """``label <(cat p.csv)`` (/dev/fd/N) and ``label /dev/stdin`` fed by a pipe."""
    read, write = os.pipe()
    os.write(write, b"ts_ns,bytes\n0,100\n300000000,100\n")
    os.close(write)
    try:
        proc = _run(["label", f"/dev/fd/{read}", "-o", str(tmp_path / "o.csv")],
                    pass_fds=(read,))
    finally:
        os.close(read)
    assert proc.returncode == 2 and proc.stderr.strip() == f"/dev/fd/{read}: {MESSAGE}"
    proc = _run(["label", "/dev/stdin", "-o", str(tmp_path / "o.csv")],
                input="ts_ns,bytes\n0,100\n300000000,100\n")
    assert proc.returncode == 2 and proc.stderr.strip() == f"/dev/stdin: {MESSAGE}"
    assert not (tmp_path / "o.csv").exists()


def test_a_socket_is_refused(tmp_path):
    from reflexforge.errors import ForgeError
    from reflexforge.ingest.sniff import sniff

    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(ForgeError) as info:
            sniff(path)
    assert info.value.code == "E_IO" and "not a regular file (a socket)" in str(info.value)


@pytest.mark.parametrize("command", ["check", "label", "build", "convert", "shadow"])
def test_a_dash_for_standard_input_is_refused_by_name(tmp_path, command):
    # `cat x.pcap | reflex-forge check -` said "-: E_IO: cannot read: No such file".
    proc = _run(_commands("-", tmp_path)[command], cwd=tmp_path,
                input="ts_ns,bytes\n0,100\n300000000,100\n")
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip() or proc.stdout.strip()
    assert line.startswith("-: E_IO: '-' would be standard input, which is not read"), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ts.csv"]


@pytest.mark.parametrize("command", ["check", "label", "build", "convert", "shadow"])
def test_a_terminal_is_refused_not_waited_on(tmp_path, command):
    """A terminal (a real pseudo-terminal; ``label /dev/stdin`` typed at a shell) is a
    character device as /dev/zero is, but its read waits for typing: refused at once."""
    leader, follower = os.openpty()
    try:
        tty = os.ttyname(follower)
        proc = _run(_commands(tty, tmp_path)[command])
    finally:
        os.close(follower)
        os.close(leader)
    message = f"{tty}: E_IO: not a regular file (a terminal, whose read waits for typing): " \
        "give a file"
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ts.csv"]
