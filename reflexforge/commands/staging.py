"""All the outputs of one command, or none: each is written to a staging directory beside
its target and renamed into place only once every one of them is complete.

A command with several outputs (``build -o MODEL --training-set PATH``, ``shadow --report
--plot --promote-to``, ``demo``) writes each to ``StagedOutputs.path(target)``; leaving the
``with`` block normally renames them all onto their targets, in the order asked, with
SIGINT and SIGTERM held back meanwhile (and raised once they are in place). On any
exception, Ctrl-C or SIGTERM before that, every staged file is removed, with the directories
the run made: nothing of the run is left and no file already at a target is touched. A
character device or a FIFO (``/dev/full``, ``/dev/stdout``) is written directly, as
reflexfmt.atomic does. The staged file has its target's name, so a writer that picks a
format by the name (``.gz``, ``.parquet``) writes the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from reflexfmt.atomic import fsync_directory, written_in_place
from reflexforge.errors import E_IO, ForgeError

STAGING_SUFFIX = ".reflex-tmp"
"""The staging directory beside a target is ``.NAME.XXXXXXXX.reflex-tmp``."""


class StagedOutputs:
    """The outputs of one run, staged; a context manager that commits or discards them."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path, str]] = []  # (staged file, target, as asked)
        self._made_dirs: list[Path] = []

    def path(self, target: str | os.PathLike[str]) -> Path:
        """Where to write ``target``: a file of the same name in a new staging directory
        beside it (beside the file a symbolic link points to), or ``target`` itself when it
        is a character device or a FIFO."""
        if written_in_place(target):
            return Path(target)
        real = Path(os.path.realpath(target))
        try:
            scratch = tempfile.mkdtemp(prefix=f".{real.name}.", suffix=STAGING_SUFFIX,
                                       dir=real.parent)
        except OSError as exc:
            raise ForgeError(E_IO, exc.strerror or str(exc), path=target) from None
        staged = Path(scratch) / real.name
        self._staged.append((staged, real, os.fspath(target)))
        return staged

    def directory(self, path: str | os.PathLike[str]) -> Path:
        """Create the directory ``path`` (and its missing parents) for outputs; the ones this
        run made are removed again when the outputs are discarded."""
        path = Path(path)
        missing = []
        probe = path
        while not probe.exists() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ForgeError(E_IO, f"cannot create the directory: {exc.strerror}",
                             path=path) from None
        self._made_dirs.extend(missing)  # deepest first
        return path

    def commit(self) -> None:
        """Rename every staged file onto its target, signals held back meanwhile."""
        with _signals_deferred():
            try:
                for staged, real, asked in self._staged:
                    try:
                        os.replace(staged, real)
                    except OSError as exc:
                        raise ForgeError(E_IO, exc.strerror or str(exc), path=asked) from None
                    fsync_directory(real.parent)
            except BaseException:
                self.discard()
                raise
            for staged, _real, _asked in self._staged:
                with contextlib.suppress(OSError):
                    staged.parent.rmdir()
            self._staged.clear()
            self._made_dirs.clear()

    def discard(self) -> None:
        """Remove every staged file and staging directory, and the directories made."""
        for staged, _real, _asked in self._staged:
            with contextlib.suppress(OSError):
                staged.unlink()
            _remove_staging_dir(staged.parent)
        self._staged.clear()
        for made in self._made_dirs:
            with contextlib.suppress(OSError):
                made.rmdir()  # only if empty: never what something else put there
        self._made_dirs.clear()

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.commit()
            return
        if isinstance(value, ForgeError):  # a writer's own error names the file asked for
            value.path = self._asked(value.path) or value.path
        asked = self._asked(value.filename) if isinstance(value, OSError) else None
        self.discard()
        if asked is not None:  # name the file asked for
            raise ForgeError(E_IO, value.strerror or str(value), path=asked) from None

    def _asked(self, filename: object) -> str | None:
        """The target, as asked, of the staged file ``filename`` (an error's), if it names
        one: a file in a staging directory is shown by the target's name."""
        if not isinstance(filename, (str, bytes, os.PathLike)):
            return None
        where = Path(os.fsdecode(filename))
        for staged, _real, asked in self._staged:
            if where == staged or where.parent == staged.parent:
                return asked
        return None


def _remove_staging_dir(scratch: Path) -> None:
    """Remove a staging directory and what a writer left in it (its own temporary file, or
    the staging directory of a command run inside, as the demo's shadow). An empty one is
    removed first without listing it: a run that failed for want of file descriptors
    (``ulimit -n``) may still have none to spare for the listing."""
    try:
        scratch.rmdir()
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    with contextlib.suppress(OSError):
        for leftover in scratch.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                _remove_staging_dir(leftover)
            else:
                leftover.unlink()
    with contextlib.suppress(OSError):
        scratch.rmdir()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM noted, not acted on, within the block; the first one noted is
    raised again after it (so Ctrl-C still stops the program, with its outputs complete)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, _frame: object) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, left as is
                signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])
