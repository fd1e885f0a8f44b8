"""The forge's one error type: a stable code plus the file, line and column at fault.

``str(err)`` is always one line, ``path:line:column: CODE: message`` with the missing
parts left out, so the command line can print it as is (spec/telemetry.md, "Errors").
"""

from __future__ import annotations

import os

from reflexfmt.terminal import escape_control

E_CSV_COLUMN = "E_CSV_COLUMN"
E_CSV_VALUE = "E_CSV_VALUE"
E_CSV_ORDER = "E_CSV_ORDER"
E_CSV_EMPTY = "E_CSV_EMPTY"
E_CSV_ENCODING = "E_CSV_ENCODING"
E_TRACE_SHORT = "E_TRACE_SHORT"
E_TRAINSET = "E_TRAINSET"
E_IO = "E_IO"
E_USAGE = "E_USAGE"
E_CAPTURE = "E_CAPTURE"
E_INSTALL = "E_INSTALL"
E_MEMORY = "E_MEMORY"

# Every code of spec/telemetry.md section 2 (tests/forge/test_cli_forge.py checks both ways).
CODES = (
    E_CSV_COLUMN,
    E_CSV_VALUE,
    E_CSV_ORDER,
    E_CSV_EMPTY,
    E_CSV_ENCODING,
    E_TRACE_SHORT,
    E_TRAINSET,
    E_IO,
    E_USAGE,
    E_CAPTURE,
    E_INSTALL,
    E_MEMORY,
)


# Every message escapes terminal control characters as reflex-inspect does, with the one
# helper of reflexfmt.terminal (commands print through commands.options.shown).


class ForgeError(Exception):
    """Bad input or an unusable option, reported as one line with a stable code."""

    def __init__(
        self,
        code: str,
        message: str,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        column: str | int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        place = [str(part) for part in (self.path, self.line, self.column) if part is not None]
        prefix = ":".join(place)
        text = f"{self.code}: {self.message}"
        return escape_control(f"{prefix}: {text}" if prefix else text)

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.code, self.message, self.path, self.line, self.column))
