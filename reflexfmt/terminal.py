"""What every command of the toolkit shares on its way out: escaping and exit codes.

``reflex-inspect``, ``reflex-build`` and ``reflex-forge`` print every message (file names,
metadata, error lines) through ``escape_control`` and end with these exit codes (README,
"Exit codes"; spec/NEM1.md section 13 and spec/telemetry.md section 3).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator

EXIT_OK = 0
EXIT_INVALID = 1  # reflex-inspect/reflex-build: an invalid file or description;
#                   reflex-forge shadow/demo: not promoted; check: a problem found;
#                   every command: stdout closed by its reader (stdout_closed)
EXIT_USAGE = 2  # bad usage, bad input to the forge, or an I/O error
EXIT_INTERNAL = 3  # an internal error (a bug), in every command
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM (an output being written is cleaned up first)


def closed_stream(stdin: bool, stdout: bool) -> str | None:
    """The problem when a standard stream the command needs was closed by its caller
    (``<&-``, ``>&-``: Python then has None for it), else None."""
    if stdin and sys.stdin is None:
        return "standard input is closed"
    if stdout and sys.stdout is None:
        return "standard output is closed"
    return None


def stdout_closed() -> int:
    """The reader of stdout stopped early (``| head``): no message, no flush error at exit
    (stdout now points at the null device), and exit 1, the same in every command."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file: nothing to flush at exit
        pass
    finally:
        os.close(devnull)
    return EXIT_INVALID


# C0, DEL, C1, and the Unicode line/paragraph separators and bidi controls, which can reorder
# or hide what a terminal shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def escape_control(text: str) -> str:
    """``text`` with every terminal control character written as a visible escape
    (``\\x1b``, ``\\u202e``), so that a message is one line and shows what it says."""
    return _CONTROL.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def path_text(text: str) -> str:
    """``text`` (a file name, or a line naming one) as valid Unicode: a byte of the name
    that is not UTF-8 (held by Python as a lone surrogate, such as ``\\udcff`` for
    ``\\xff``) is written ``\\xff``, so the text can be printed and stored in UTF-8 JSON."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name byte gives
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that an output
    being written removes its temporary file on the way out (reflexfmt.atomic)."""


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (a command's
    ``main`` reports it as one line and exits ``EXIT_TERMINATED``). Elsewhere, a no-op: a
    signal handler can only be set from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
