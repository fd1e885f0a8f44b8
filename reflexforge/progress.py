"""Progress bars for long stages: rich bars on a terminal, silence otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class _Silent:
    """A progress object that counts and shows nothing."""

    def __init__(self, total: float | None) -> None:
        self.total = total
        self.completed = 0.0

    def advance(self, n: float = 1) -> None:
        self.completed += n


class _RichBar(_Silent):
    def __init__(self, total: float | None, progress, task) -> None:
        super().__init__(total)
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1) -> None:
        super().advance(n)
        self._progress.advance(self._task, n)


@contextlib.contextmanager
def progress_bar(total: float | None, description: str, enabled: bool = True) -> Iterator[_Silent]:
    """Yield an object with ``.advance(n)``; a rich bar only if enabled and stderr is a TTY."""
    if not enabled or not sys.stderr.isatty():
        yield _Silent(total)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield _RichBar(total, progress, task)
