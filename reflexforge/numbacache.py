"""numba's on-disk cache of compiled kernels (``@njit(cache=True)``, in the ``__pycache__``
beside each module) is an optimisation: failing to write or read it must not fail a command.
numba lets such an OSError through on Linux (it forgives only EACCES, and only on Windows),
so the first run of a fresh install under ``ulimit -f`` of a few dozen kB, or on a full disk,
failed: ``check`` called its input a malformed CSV ("[Errno 27] File too large"), ``label -o
/dev/null`` said ``reflex-forge: E_IO: File too large``. Importing this module makes numba
forgive any OSError of its cache: the kernel is compiled (and used) without being saved, or
compiled again when its saved copy cannot be read (spec/telemetry.md 5, "Limits on files").
Imported by the command line before a command runs, and by the labelling workers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from numba.core import caching


@contextlib.contextmanager
def _io_errors_forgiven(self) -> Iterator[None]:
    try:
        yield
    except OSError:
        pass  # not saved (a load returns None: compiled again)


caching.Cache._guard_against_spurious_io_errors = _io_errors_forgiven
