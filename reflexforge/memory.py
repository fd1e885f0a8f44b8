"""The guard against inputs that expand: a trace that could never fit is E_MEMORY before the
machine runs out (spec/telemetry.md 3).

A small file can ask for a huge trace: a gzip CSV or a Parquet file of repeated rows (a
compression ratio of 1000 or more), or a capture whose records ``--oversize split`` cuts
into up to 350 rows each. The readers grow their arrays as rows arrive, and Linux commits
memory as pages are touched, so without this guard such a read ends in the kernel's
out-of-memory kill (SIGKILL: no message) rather than in a MemoryError. Every reader keeps a
``RowGuard`` that it tells how many rows it is about to hold.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import sys

from reflexforge.errors import E_MEMORY, ForgeError

EXPANDS = (": a compressed file (gzip, zstd, Parquet) of repeated rows can expand a "
           "thousandfold; is this one?")
"""The hint of a reader of compressed formats."""
SHARE = 0.5
"""A trace's arrays as read may take at most this share of the memory the process can
still have: every command needs more than the arrays (a build several times more)."""


def _kib_field(path: str, key: str) -> int | None:
    """The ``key: N kB`` line of a /proc file, in bytes; None if it cannot be read."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


_NO_LIMIT = 1 << 62
"""cgroup v1 writes "no limit" as 2^63 - 4096 (v2: ``max``)."""


def _cgroup_room(proc: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> int | None:
    """The room under this process's memory cgroup and its ancestors' limits (read from
    ``proc`` and under ``root``), None without a limit: cgroup v1 (``memory`` controller,
    Docker and systemd on older hosts, this project's CI machine) or v2."""
    try:
        with open(proc) as cgroup:
            lines = [line.rstrip("\n").split(":", 2) for line in cgroup]
        v1 = next((path for _, kinds, path in lines if "memory" in kinds.split(",")), None)
        if v1 is not None:
            return _room_under(os.path.join(root, "memory"), v1, V1_FILES)
        v2 = next((path for level, kinds, path in lines if level == "0" and not kinds), None)
        return None if v2 is None else _room_under(root, v2, V2_FILES)
    except (OSError, ValueError):
        return None


V1_FILES = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_cache")
V2_FILES = ("memory.max", "memory.current", "file")
"""A cgroup's limit, usage and (in ``memory.stat``) page cache."""


def _room_under(mount: str, path: str, files: tuple[str, str, str]) -> int | None:
    """The least room of the cgroup at ``path`` and of its ancestors with a limit: the limit
    less the usage, page cache excepted (the usage counts the cache of every file read or
    written, which the kernel reclaims before it kills, so a container sits near its
    limit)."""
    room, here = None, os.path.normpath(os.path.join(mount, path.strip("/")))
    while here.startswith(mount):
        try:
            with open(os.path.join(here, files[0])) as limit:
                text = limit.read().strip()
        except OSError:  # the root has no limit file (v2)
            text = "max"
        if text != "max" and int(text) < _NO_LIMIT:
            with open(os.path.join(here, files[1])) as usage:
                used = int(usage.read().strip())
            with open(os.path.join(here, "memory.stat")) as stat:
                fields = dict(line.split()[:2] for line in stat if line.strip())
            free = int(text) - used + int(fields.get(files[2], 0))
            room = free if room is None else min(room, free)
        if here == mount:
            break
        here = os.path.dirname(here)
    return room


def _address_room() -> int | None:
    """RLIMIT_AS less the address space in use (``ulimit -v``), None without a limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    return soft - (_kib_field("/proc/self/status", "VmSize") or 0)


START_ROOM = 1 << 30
"""The address space a command must have left under ``ulimit -v`` when it starts
(spec/telemetry.md 3)."""
ARENAS = 2
"""glibc malloc arenas under ``ulimit -v``: each reserves 64 MB of address space, and glibc
allows up to 8 per core (``build`` needed 984 MB on 2 cores with the default, 673 MB so)."""
M_ARENA_MAX = -8  # the mallopt(3) parameter


def prepare_address_space() -> None:
    """Under an address-space limit (``ulimit -v``): cap glibc's malloc arenas (in this
    process, and through ``MALLOC_ARENA_MAX`` in the worker processes it starts); refuse with
    ``E_MEMORY`` if the limit leaves less than START_ROOM; else load numba and the OpenBLAS
    it uses now. OpenBLAS retries its start-up allocation forever when it fails (a hang, not
    an error), and numba loads it at its first compile, by which time reading the input may
    have used the room. Nothing happens without a limit."""
    room = _address_room()
    if room is None:
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        os.environ["MALLOC_ARENA_MAX"] = str(ARENAS)
        with contextlib.suppress(OSError, AttributeError):  # not glibc: no such knob
            ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS)
    # pyarrow's jemalloc reserves about 1 GB of address space at a first CSV read; the
    # system allocator reserves what it uses (read when pyarrow is imported, after this).
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    if "scipy.linalg.cython_blas" in sys.modules:
        return  # loaded (a second command in this process): no start-up left to guard
    if room < START_ROOM:
        raise ForgeError(E_MEMORY, f"the address-space limit (ulimit -v) leaves {room >> 20} "
                         f"MiB; the forge needs {START_ROOM >> 20} MiB to start (numba, LLVM, "
                         f"OpenBLAS and pyarrow): raise the limit")
    import numba  # noqa: F401
    import scipy.linalg.cython_blas  # noqa: F401  (numba loads it at its first compile)


def room_bytes() -> int | None:
    """The memory this process can still have: the least of the machine's available memory,
    its cgroup's room and its address-space limit's; None where none can be read."""
    known = [r for r in (_kib_field("/proc/meminfo", "MemAvailable"), _cgroup_room(),
                         _address_room()) if r is not None]
    return max(0, min(known)) if known else None


STEP = 1.25
"""``RowGuard`` checks again when the rows have grown by this factor since its last check:
between two checks a trace can only reach SHARE * STEP of the memory (0.625)."""
FIRST_CHECK_ROWS = 1 << 20


class RowGuard:
    """Checks, as a reader's rows grow, that a trace's arrays (``row_bytes`` a row) keep
    within SHARE of the memory the process can have: what the arrays hold plus
    ``room_bytes``. Cheap: a check reads three small files and comes once per STEP of
    growth. ``cure``: what to try instead, in the message."""

    def __init__(self, name: str | None, row_bytes: int, cure: str = "") -> None:
        self.name, self.row_bytes, self.cure = name, row_bytes, cure
        self.next_check = FIRST_CHECK_ROWS

    def need(self, rows: int, held: int) -> None:
        """E_MEMORY unless ``rows`` rows fit, ``held`` of them already in memory; checked
        once per STEP of growth."""
        if rows >= self.next_check:
            self.next_check = int(rows * STEP) + 1
            self.fits(rows, held)

    def fits(self, rows: int, held: int, row_bytes: int | None = None) -> None:
        """``need`` checked now, at ``row_bytes`` a row if given (a transient table)."""
        room = room_bytes()
        if room is None:
            return
        width = self.row_bytes if row_bytes is None else row_bytes
        total = room + held * self.row_bytes
        if rows * width > SHARE * total:
            raise ForgeError(E_MEMORY, f"reading it needs at least {rows} rows "
                             f"({rows * width / 1e9:.3g} GB as read), more than half of the "
                             f"memory this process can have ({total / 1e9:.3g} GB){self.cure}",
                             path=self.name)


def reserve_rows(estimate: int, row_bytes: int) -> int:
    """Rows to reserve before reading: ``estimate`` (from the file's size), but never more
    than SHARE of the memory the process can have, so an estimate from a huge or sparse file
    is never an allocation that fails before the file is read (at least 2^16)."""
    room = room_bytes()
    if room is not None:
        estimate = min(estimate, int(SHARE * room) // row_bytes)
    return max(1 << 16, estimate)
