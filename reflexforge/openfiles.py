"""The open-file limit (``ulimit -n``, RLIMIT_NOFILE): a command needs a few dozen file
descriptors (numba, pyarrow and matplotlib open files as they load; each local worker process
takes a few pipes and the shared trace; a Dask client its connections and its event loop),
and some libraries do not fail cleanly without them (distributed reports a module it could
not open as an object it cannot serialize). So a command refuses at once under a limit that
leaves too few (spec/telemetry.md 5, "An open-file limit")."""

from __future__ import annotations

import contextlib
import errno
import resource

from reflexforge.errors import E_IO, ForgeError

MIN_OPEN_FILES = 64
"""The open-file limit a command (every one but ``synth``) needs to start. Measured on 2
cores: ``shadow --plot`` needs 10 (its fonts), ``label --dask`` 11, ``label --workers 4``
24."""
OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)
"""The errors of a process (EMFILE) or a system (ENFILE) out of file descriptors."""


def open_file_limit() -> int | None:
    """The soft RLIMIT_NOFILE, None without a limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def check_open_files() -> None:
    """Raise a soft open-file limit below MIN_OPEN_FILES to it, as far as the hard limit
    allows (a process may: ``ulimit -S -n 20`` under a larger hard limit); E_IO if the
    limit is still below MIN_OPEN_FILES."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < MIN_OPEN_FILES:
        wanted = MIN_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MIN_OPEN_FILES)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    limit = open_file_limit()
    if limit is not None and limit < MIN_OPEN_FILES:
        raise ForgeError(E_IO, f"the open-file limit (ulimit -n) is {limit}; the forge needs "
                         f"{MIN_OPEN_FILES} to start (libraries, worker processes, a Dask "
                         f"connection): raise the limit")


def out_of_files(exc: BaseException) -> int | None:
    """EMFILE or ENFILE if ``exc``, or an exception it was raised from or while handling, is
    an OSError for want of file descriptors (a library may turn one into another error);
    else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in OUT_OF_FILES:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
    return None


def out_of_files_message(code: int) -> str:
    """The E_IO reason for EMFILE (this process's limit) or ENFILE (the system's table)."""
    if code == errno.ENFILE:
        return "too many open files on this system (its file table is full): try again later"
    limit = open_file_limit()
    shown = "unlimited" if limit is None else str(limit)
    return (f"too many open files (the open-file limit, ulimit -n, is {shown}): raise it, or "
            f"use fewer --workers")
