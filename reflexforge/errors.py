"""The forge's one error type: a stable code plus the file, line and column at fault.

``str(err)`` is always one line, ``path:line:column: CODE: message`` with the missing
parts left out, so the command line can print it as is (spec/telemetry.md, "Errors").
"""

from __future__ import annotations

import os

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
)


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters so a message stays on one line."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


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
        return _one_line(f"{prefix}: {text}" if prefix else text)

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.code, self.message, self.path, self.line, self.column))
