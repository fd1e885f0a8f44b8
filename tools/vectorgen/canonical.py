"""Spec 6.1 canonical forms: the shortest nearest float text (rule 5) and the canonical
metadata YAML (keys, scalars, nesting), as the generator of the conformance vectors needs them.
Spec-only: no reflexfmt import."""

from __future__ import annotations

import math
import re
from typing import Any

# Spec 6.1 rule 2: the key grammar, and the keys YAML 1.1 reads as booleans or null.
KEY = re.compile(r"[a-z_][a-z0-9_]{0,63}")
FORBIDDEN_KEYS = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null"))


# ---- Numbers ------------------------------------------------------------------------------


def to_float(v: float | int | str) -> float:
    """A float from JSON: a number, or a string such as "nan", "-inf", "0x1p-1074"."""
    if isinstance(v, str):
        return float.fromhex(v) if "0x" in v else float(v)
    return float(v)


def float_text(x: float) -> str:
    """Shortest round-trip decimal (Python repr): how raw inputs are written in the JSON."""
    return repr(float(x))


def _neighbour(digits: str, exp: int, step: int) -> tuple[str, int]:
    """The next decimal of len(digits) digits above (step 1) or below (step -1)."""
    p = len(digits)
    n = int(digits) + step
    if n == 10**p:  # 99..9 + 1 = 10..0, one decade up
        return "1" + "0" * (p - 1), exp + 1
    if n < 10 ** (p - 1):  # 10..0 - 1 = 99..9 on the finer grid one decade down
        return "9" * p, exp - 1
    return str(n), exp


def shortest_digits(ax: float) -> tuple[str, int]:
    """Spec 6.1 rule 5: the shortest digits D and exponent E that read back as ax > 0, nearest
    to ax among those of that length, found as the spec's hint says: for p = 1..17, the
    correctly rounded p-digit value, else its neighbour on the other side of ax."""
    for p in range(1, 18):
        mantissa, exp_text = f"{ax:.{p - 1}e}".split("e")
        digits, exp = mantissa.replace(".", ""), int(exp_text)
        rounded = float(f"{digits}e{exp - p + 1}")
        if rounded == ax:
            return digits, exp
        alt, alt_exp = _neighbour(digits, exp, 1 if rounded < ax else -1)
        if float(f"{alt}e{alt_exp - p + 1}") == ax:
            return alt, alt_exp
    raise AssertionError(f"17 digits always read back: {ax!r}")


def canonical_float(x: float) -> str:
    """Spec 6.1 rule 5: the shortest nearest digits, in positional or scientific layout."""
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits, exp = shortest_digits(abs(x))
    if -4 <= exp < 16:
        if exp < 0:
            return f"{sign}0.{'0' * (-exp - 1)}{digits}"
        whole = digits[: exp + 1].ljust(exp + 1, "0")
        frac = digits[exp + 1 :] or "0"
        return f"{sign}{whole}.{frac}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


# ---- Canonical metadata (spec 6.1) ---------------------------------------------------------


def _string(s: str) -> str:
    out = []
    for ch in s:
        cp = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif cp <= 0x1F or 0x7F <= cp <= 0x9F:
            out.append(f"\\x{cp:02x}")
        elif cp in (0x2028, 0x2029, 0xFFFE, 0xFFFF):
            out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return canonical_float(v)
    if isinstance(v, str):
        return _string(v)
    raise ValueError(f"not a metadata scalar: {v!r}")


def emit_yaml(mapping: dict[str, Any], level: int = 0) -> str:
    """The canonical NEM1 YAML of a mapping (keys sorted by bytes)."""
    lines = []
    for key in sorted(mapping, key=lambda k: k.encode()):
        if not KEY.fullmatch(key) or key in FORBIDDEN_KEYS:
            raise ValueError(f"not a canonical metadata key: {key!r}")
        value = mapping[key]
        pad = "  " * level
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:\n" + emit_yaml(value, level + 1))
        elif isinstance(value, dict):
            lines.append(f"{pad}{key}: {{}}\n")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [" + ", ".join(_scalar(v) for v in value) + "]\n")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}\n")
    return "".join(lines)


def metadata_bytes(doc: dict[str, Any]) -> bytes:
    if "metadata_hex" in doc:
        return bytes.fromhex(doc["metadata_hex"])
    if "metadata_yaml" in doc:
        return doc["metadata_yaml"].encode("utf-8", "surrogatepass")
    return emit_yaml(doc["metadata"]).encode("utf-8")
