"""Atomic file output: write a temporary file beside the target, fsync, rename.

A reader of the target path sees either the old file or the complete new one,
never a half-written file; on any error the temporary file is removed. A path
that is a symbolic link to a regular file has its target replaced, not the link.
A path that names a character device or a FIFO (``-o /dev/null``,
``-o /dev/stdout`` on a pipe) is written directly: renaming a file onto it would
replace the device node itself. A block device or a socket is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def written_in_place(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a character device or a FIFO, which :func:`atomic_open` writes
    directly (so one may take several outputs of a command). A path that does not exist, or
    names a regular file or a directory, is not. Raises OSError (EINVAL, naming the path)
    for any other kind of file, a block device or a socket, which is never written."""
    try:
        kind = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    if stat.S_ISREG(kind) or stat.S_ISDIR(kind):
        return False
    if stat.S_ISCHR(kind) or stat.S_ISFIFO(kind):
        return True
    raise OSError(errno.EINVAL, "not a regular file, character device or FIFO", os.fspath(path))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name one file (the same path, a symbolic or a hard link, a bind
    mount): an output that is an input would be overwritten."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it onto ``path``
    (``path`` itself when it is a character device or a FIFO)."""
    if written_in_place(path):
        try:
            with open(path, mode, **kwargs) as handle:
                yield handle
        except OSError as exc:  # /dev/full: ENOSPC, named
            if exc.filename is None:
                raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
            raise
        return
    target = Path(os.path.realpath(path))
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:  # a full disk: name the file asked for, not the temporary one
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if exc.filename is None or exc.filename == tmp:
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable (best effort: a file system that cannot fsync a
    directory is left as is)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
