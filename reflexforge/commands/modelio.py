"""Reading and writing .reflex files from a command, with the file named in any format error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def naming_file(path: str | os.PathLike[str]) -> Iterator[None]:
    """A reflexfmt error raised inside is tagged with ``path``, so the command line reports
    ``PATH: CODE at offset ...`` (reflexforge.cli)."""
    from reflexfmt import ReflexFormatError

    try:
        yield
    except ReflexFormatError as exc:
        if getattr(exc, "file", None) is None:
            exc.file = os.fspath(path)
        raise


def load_model(path: str | os.PathLike[str]):
    """``reflexfmt.load`` with the file named in any format error."""
    from reflexfmt import load

    with naming_file(path):
        return load(path)


def dump_model(reflex, path: str | os.PathLike[str]) -> None:
    """``reflexfmt.dump`` (atomic) with the file named in any format error."""
    from reflexfmt import dump

    with naming_file(path):
        dump(reflex, path)
