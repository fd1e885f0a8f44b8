"""reflexfmt.atomic: a model written over a path replaces a regular file atomically, writes
through a symbolic link, and writes directly into a character device or a FIFO instead of
renaming a file onto the device node (`reflex-forge build x.csv -o /dev/null` run as root
once replaced /dev/null with a regular file); a block device or socket is refused."""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from reflexfmt.atomic import atomic_write_bytes

DATA = b"NEM1 and the rest"


def test_regular_file_replaced_and_symlink_written_through(tmp_path: Path) -> None:
    target = tmp_path / "model.reflex"
    target.write_bytes(b"old")
    atomic_write_bytes(target, DATA)
    assert target.read_bytes() == DATA
    link = tmp_path / "live.reflex"
    link.symlink_to("real.reflex")  # dangling: the target is created
    atomic_write_bytes(link, DATA)
    assert link.is_symlink() and (tmp_path / "real.reflex").read_bytes() == DATA
    atomic_write_bytes(link, b"newer")
    assert link.is_symlink() and (tmp_path / "real.reflex").read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.reflex", "model.reflex",
                                                          "real.reflex"]  # no temporaries


def _null_device(tmp_path: Path) -> Path:
    """A character device to write into: a fresh /dev/null node when we may make one (root);
    otherwise /dev/null itself, which an unprivileged rename cannot replace anyway."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return Path("/dev/null")
    return node


def test_character_device_is_written_not_replaced(tmp_path: Path) -> None:
    device = _null_device(tmp_path)
    before = os.stat(device)
    atomic_write_bytes(device, DATA)
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino


def test_fifo_is_written_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    atomic_write_bytes(fifo, DATA)
    reader.join(timeout=30)
    assert got == [DATA]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(OSError) as info:
            atomic_write_bytes(path, DATA)
    assert info.value.errno == errno.EINVAL and info.value.filename == str(path)
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_errors_name_the_path_asked_for(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "model.reflex"
    with pytest.raises(OSError) as info:
        atomic_write_bytes(missing, DATA)
    assert info.value.filename == str(missing)
