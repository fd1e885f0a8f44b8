"""numba's on-disk cache of compiled kernels (``@njit(cache=True)``, in the ``__pycache__``
beside each module) is an optimisation: failing to write or read it must not fail a command.
numba lets such an OSError through on Linux (it forgives only EACCES, and only on Windows),
so the first run of a fresh install under ``ulimit -f`` of a few dozen kB, or on a full disk,
failed: ``check`` called its input a malformed CSV ("[Errno 27] File too large"), ``label -o
/dev/null`` said ``reflex-forge: E_IO: File too large``. Importing this module makes numba
forgive any OSError of its cache: the kernel is compiled (and used) without being saved, or
compiled again when its saved copy cannot be read, or compiled at each run when no place can
hold the cache: a read-only install with no writable cache directory in the home made every
command but synth and static E_INTERNAL ("cannot cache function 'as_read': no locator
available") (spec/telemetry.md 5, "Limits on files").
Imported by the command line before a command runs, and by the labelling workers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from numba.core import caching, dispatcher

_enable_caching = dispatcher.Dispatcher.enable_caching


@contextlib.contextmanager
def _io_errors_forgiven(self) -> Iterator[None]:
    try:
        yield
    except OSError:
        pass  # not saved (a load returns None: compiled again)


def _caching_where_possible(self) -> None:
    """``enable_caching``, unless no place can hold the cache (a read-only install and no
    writable cache directory in the home): numba raises a RuntimeError as the module that
    defines the kernel is imported; the kernel is then compiled at each run instead."""
    try:
        _enable_caching(self)
    except RuntimeError as exc:
        if "no locator available" not in str(exc):
            raise


caching.Cache._guard_against_spurious_io_errors = _io_errors_forgiven
dispatcher.Dispatcher.enable_caching = _caching_where_possible
