"""Output path safety: checked before any work, so a command fails at once and never
overwrites one of its inputs."""

from __future__ import annotations

import os
from pathlib import Path

from reflexfmt.atomic import same_file, written_in_place
from reflexforge.errors import E_IO, E_USAGE, ForgeError

STDOUT_NAME = "-"
"""The output name that means the standard output, for the commands that can write it."""


def check_output_name(path: str | os.PathLike[str], option: str) -> None:
    """E_USAGE for an output name that names no file: empty, or ``-`` (the standard output,
    which only ``synth`` writes; /dev/stdout is a file every command can write)."""
    name = os.fspath(path)
    if name == "":
        raise ForgeError(E_USAGE, f"{option}: the output path is empty")
    if name == STDOUT_NAME:
        raise ForgeError(E_USAGE, f"{option} -: this command cannot write the standard "
                         "output; name a file (or /dev/stdout)")


def check_output_path(path: str | os.PathLike[str], option: str = "-o") -> Path:
    """Fail early, before any work, if ``path`` names no file (E_USAGE, check_output_name)
    or cannot be written (E_IO): a directory, a missing or read-only directory, a block
    device or a socket. A character device or a FIFO is written in place (reflexfmt.atomic)."""
    check_output_name(path, option)
    target = Path(path)
    try:
        if written_in_place(target):
            return target
    except OSError as exc:
        raise ForgeError(E_IO, exc.strerror, path=target) from None
    directory = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ForgeError(E_IO, "output path is a directory", path=target)
    if not directory.is_dir():
        raise ForgeError(E_IO, f"output directory {str(directory)!r} does not exist", path=target)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ForgeError(E_IO, f"output directory {str(directory)!r} is not writable", path=target)
    return target


def check_distinct_paths(inputs: dict[str, str | os.PathLike[str] | None],
                         outputs: dict[str, str | os.PathLike[str] | None]) -> None:
    """E_USAGE if an output is the same file as an input or as another output.

    Keys are the option names used in the message (``TELEMETRY``, ``-o``, ...); None values
    are options not given.
    """
    for name, path in outputs.items():
        if path is not None:
            check_output_name(path, name)
    given_in = [(k, v) for k, v in inputs.items() if v is not None]
    given_out = [(k, v) for k, v in outputs.items()
                 if v is not None and not written_in_place(v)]
    for i, (out_name, out_path) in enumerate(given_out):
        for in_name, in_path in given_in:
            if same_file(out_path, in_path):
                raise ForgeError(E_USAGE, f"output {out_name} is the input {in_name}; it would "
                                 "be overwritten", path=out_path)
        for other_name, other_path in given_out[:i]:
            if same_file(out_path, other_path):
                raise ForgeError(E_USAGE, f"outputs {other_name} and {out_name} are the same "
                                 "file", path=out_path)
