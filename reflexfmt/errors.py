"""The one exception for malformed NEM1 input, and the finding record (spec section 13)."""

from __future__ import annotations

from dataclasses import dataclass

# Spec section 13: every code a reader reports for a malformed file.
ERROR_CODES: frozenset[str] = frozenset(
    {
        "E_LIMIT",
        "E_TRUNCATED",
        "E_MAGIC",
        "E_VERSION",
        "E_COUNT",
        "E_TRAILING",
        "E_CRC",
        "E_RESERVED",
        "E_HEADER",
        "E_SCALING",
        "E_FEATURE_INDEX",
        "E_NODE_INDEX",
        "E_NODE_ORDER",
        "E_NODE_ORPHAN",
        "E_DEPTH",
        "E_BOUNDS",
        "E_METADATA_UTF8",
        "E_METADATA_YAML",
        "E_METADATA_KEY",
    }
)
TOOL_CODES: frozenset[str] = frozenset({"E_IO"})  # section 13: not about the file's bytes


@dataclass(frozen=True)
class Finding:
    """One broken rule: stable code, byte offset from the start of the file, field path."""

    code: str
    offset: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} at offset {self.offset} ({self.path}): {self.message}"


class ReflexFormatError(ValueError):
    """Malformed or unwritable NEM1 data. ``code`` is one of spec section 13."""

    def __init__(self, code: str, offset: int, path: str, message: str) -> None:
        self.code = code
        self.offset = offset
        self.path = path
        self.message = message
        super().__init__(f"{code} at offset {offset} ({path}): {message}")

    @classmethod
    def from_finding(cls, finding: Finding) -> ReflexFormatError:
        return cls(finding.code, finding.offset, finding.path, finding.message)

    def finding(self) -> Finding:
        return Finding(self.code, self.offset, self.path, self.message)
