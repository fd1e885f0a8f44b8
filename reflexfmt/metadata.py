"""The canonical NEM1 YAML profile of spec 6.1: emitter (dict -> bytes) and strict parser.

The profile has exactly one spelling per value, so the emitter is the inverse of the parser
and ``emit(parse(b)) == b`` for every document the parser accepts. Every accepted document is
valid YAML 1.1 and 1.2 with the same meaning (tests prove it against PyYAML).
"""

from __future__ import annotations

import math
import re
from operator import itemgetter

from reflexfmt.limits import (
    INT64_RANGE,
    MAX_KEY_LENGTH,
    MAX_METADATA_LEVELS,
    RESERVED_WORDS,
)


class MetadataError(Exception):
    """A metadata problem: ``code`` (E_METADATA_*), byte ``offset`` within the metadata."""

    def __init__(self, code: str, offset: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.offset = offset
        self.message = message


# --- the grammar of spec 6.1 item 2 ---------------------------------------------------------
_KEY = re.compile(r"[a-z_][a-z0-9_]*\Z")
_LINE = re.compile(r"( *)([a-z_][a-z0-9_]*):(?: (.*))?\Z", re.DOTALL)
_MUST_ESCAPE = r'\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff'
_STRING = (
    r'"(?:[^' + _MUST_ESCAPE + r"]++"
    r'|\\["\\]|\\x(?:[01][0-9a-f]|7f|[89][0-9a-f])|\\u(?:2028|2029|fffe|ffff))*+"'
)
_TOKEN = re.compile(
    rf"(?P<s>{_STRING})|(?P<f>-?[0-9]+\.[0-9]+(?:e[+-][0-9]+)?)|(?P<i>-?[0-9]+)"
    r"|(?P<k>true|false|null)"
)
_UNESCAPE = re.compile(r'\\(["\\]|x[0-9a-f]{2}|u[0-9a-f]{4})')
_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\"}
_ESCAPES.update({c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]})
_ESCAPES.update({c: f"\\u{c:04x}" for c in (0x2028, 0x2029, 0xFFFE, 0xFFFF)})
_KEYWORDS = {"true": True, "false": False, "null": None}
_MAX_INT_DIGITS = 19


def canonical_float(x: float) -> str:
    """Spec 6.1 item 5: Python's repr with ``.0`` inserted before a bare ``e``."""
    text = float.__repr__(x)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"
    return text


# --- emitter ----------------------------------------------------------------------------------
def emit(metadata: dict[str, object]) -> bytes:
    """Return the canonical bytes of ``metadata``; ValueError names the first unwritable value."""
    if not isinstance(metadata, dict) or not metadata:
        raise ValueError("metadata: must be a non-empty dict")
    lines: list[str] = []
    _emit_block(metadata, 0, "metadata", lines)
    return "".join(lines).encode("utf-8")


def _emit_block(mapping: dict[str, object], level: int, path: str, out: list[str]) -> None:
    for key in sorted(mapping, key=_key_order(path)):
        value = mapping[key]
        here = f"{path}.{key}"
        if isinstance(value, dict) and value:
            if level + 1 >= MAX_METADATA_LEVELS:
                raise ValueError(f"{here}: nested deeper than {MAX_METADATA_LEVELS} levels")
            out.append(f"{'  ' * level}{key}:\n")
            _emit_block(value, level + 1, here, out)
        else:
            out.append(f"{'  ' * level}{key}: {_emit_inline(value, here)}\n")


def _key_order(path: str):
    def check(key: object) -> str:
        if not isinstance(key, str) or not _KEY.match(key) or len(key) > MAX_KEY_LENGTH:
            raise ValueError(
                f"{path}: key {key!r} is not 1..{MAX_KEY_LENGTH} characters of [a-z0-9_] "
                "starting with a letter or _"
            )
        if key in RESERVED_WORDS:
            raise ValueError(f"{path}: key {key!r} is a YAML 1.1 reserved word")
        return key

    return check


def _emit_inline(value: object, path: str) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_emit_scalar(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    return _emit_scalar(value, path)


def _emit_scalar(value: object, path: str) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
            raise ValueError(f"{path}: integer {value} is outside the int64 range")
        return int.__repr__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: float {value!r} is not finite")
        return canonical_float(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{path}: string is not encodable as UTF-8 ({exc.reason})") from None
        return '"' + value.translate(_ESCAPES) + '"'
    raise ValueError(
        f"{path}: {type(value).__name__} is not a metadata value "
        "(str, int, float, bool, None, list of scalars, dict)"
    )


# --- parser -----------------------------------------------------------------------------------
def parse(data: bytes) -> dict[str, object]:
    """Parse canonical metadata bytes (spec 6.1 items 1-5); raises MetadataError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError("E_METADATA_UTF8", exc.start, f"invalid UTF-8 ({exc.reason})") from None
    common = _parse_common(text)
    if common is not None:
        return common
    return parse_text(text)


def parse_text(text: str) -> dict[str, object]:
    """``parse`` of decoded text, entry by entry: the reference, which names every error."""
    if not text:
        raise MetadataError("E_METADATA_YAML", 0, "empty document: the top level needs an entry")
    root: dict[str, object] = {}
    stack: list[dict[str, object]] = [root]  # the open blocks, innermost last
    last: list[str] = [""]  # the last key of each open block
    block = root
    top = 0  # level of the innermost open block
    expect_block = False
    pos = 0
    end = len(text)
    match = _ENTRY.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            index, message = _diagnose(text, pos)
            raise _error(text, index, message)
        indent, key = m.group(1, 2)
        if indent or top:
            level, odd = divmod(len(indent), 2)
            if odd:
                raise _error(text, pos, "indentation must be 2 spaces per level")
            if level != top:
                if expect_block:
                    raise _error(text, pos, "a nested block needs at least one entry")
                if level > top:
                    raise _error(text, pos, "unexpected indentation")
                del stack[level + 1 :], last[level + 1 :]
                top = level
                block = stack[level]
        if len(key) > MAX_KEY_LENGTH:
            raise _error(text, pos + len(indent), f"key longer than {MAX_KEY_LENGTH} bytes")
        if key in RESERVED_WORDS:
            raise _error(text, pos + len(indent), f"reserved key {key!r}")
        if key <= last[top]:
            raise _error(
                text,
                pos + len(indent),
                f"key {key!r} is not after {last[top]!r}: keys must be sorted and unique",
            )
        last[top] = key
        kind = m.lastgroup
        if kind is None:
            if top + 1 >= MAX_METADATA_LEVELS:
                raise _error(text, pos, f"nested deeper than {MAX_METADATA_LEVELS} levels")
            block[key] = block = {}
            stack.append(block)
            last.append("")
            top += 1
            expect_block = True
        else:
            token = m.group(kind)
            if kind == "s":
                value: object = token[1:-1]
                if "\\" in value:
                    value = _UNESCAPE.sub(_unescape, value)
            elif kind == "i":
                value = int(token)
            elif kind == "k":
                value = _KEYWORDS[token]
            elif kind == "e":
                value = {}
            elif kind == "f" and _float_repr(value := float(token)) == token:
                pass
            else:
                try:
                    value = _parse_inline(token)
                except _At as exc:
                    raise _error(text, m.start(kind) + exc.index, exc.message) from None
            block[key] = value
            expect_block = False
        pos = m.end()
    if expect_block:
        raise _error(text, pos, "a nested block needs at least one entry")
    return root


def _parse_common(text: str) -> dict[str, object] | None:
    """``parse_text(text)`` for a document of common entries (strings, integers, positional
    floats, keywords, ``{}``, nested blocks); None for anything else, valid or not.

    The same rules as parse_text, from one ``findall`` instead of a match per line: the
    entries tile the text exactly iff their lengths add up to its length. Proven equal to
    parse_text on every valid document in tests/fmt/test_fmt_metadata.py."""
    entries = _ENTRIES.findall(text)
    if not entries or sum(map(len, map(itemgetter(0), entries))) != len(text):
        return None
    root: dict[str, object] = {}
    stack: list[dict[str, object]] = [root]
    last: list[str] = [""]
    block = root
    top = 0
    expect_block = False
    for _, indent, key, s, i, f, k, e, n, lst in entries:
        if indent or top:
            level, odd = divmod(len(indent), 2)
            if odd:
                return None
            if level != top:
                if expect_block or level > top:
                    return None
                del stack[level + 1 :], last[level + 1 :]
                top = level
                block = stack[level]
        if len(key) > MAX_KEY_LENGTH or key in RESERVED_WORDS or key <= last[top]:
            return None
        last[top] = key
        if s:
            value: object = s[1:-1]
            if "\\" in value:
                value = _UNESCAPE.sub(_unescape, value)
        elif i:
            value = int(i)
        elif k:
            value = _KEYWORDS[k]
        elif e:
            value = {}
        elif f and _float_repr(value := float(f)) == f:
            pass
        elif f or n or lst:
            return None
        else:
            if top + 1 >= MAX_METADATA_LEVELS:
                return None
            block[key] = block = {}
            stack.append(block)
            last.append("")
            top += 1
            expect_block = True
            continue
        block[key] = value
        expect_block = False
    return None if expect_block else root


# One entry line. The groups `i` (an integer of at most 18 digits, always within int64) and
# `f` (a float in positional notation, canonical iff it is its own repr) are shortcuts for the
# common values; every other number (`n`) and list (`l`) goes through _parse_inline.
_ENTRY = re.compile(
    rf"( *)([a-z_][a-z0-9_]*):(?:\n| (?:(?P<s>{_STRING})|(?P<i>0|-?[1-9][0-9]{{0,17}})"
    r"|(?P<f>-?[0-9]+\.[0-9]+)|(?P<k>true|false|null)|(?P<e>\{\})"
    r"|(?P<n>-?[0-9][0-9.e+-]*)|(?P<l>\[[^\n]*\]))\n)"
)
# The same, with the whole line as group 1, tried only at line starts: ``findall`` then
# skips a line that is not an entry in one step per character, never rescanning it (an
# unanchored pattern tried at every character of a long line is quadratic).
_ENTRIES = re.compile(f"^({_ENTRY.pattern})", re.MULTILINE)
_float_repr = float.__repr__


def _error(text: str, index: int, message: str) -> MetadataError:
    """An E_METADATA_YAML error at character ``index``, reported as a byte offset."""
    return MetadataError("E_METADATA_YAML", len(text[:index].encode("utf-8")), message)


def _diagnose(text: str, pos: int) -> tuple[int, str]:
    """Explain why the line at ``pos`` is not a canonical entry: (character index, message)."""
    eol = text.find("\n", pos)
    if eol < 0:
        return len(text), "the document must end with LF"
    line = text[pos:eol]
    m = _LINE.match(line)
    if m is None:
        return pos, _line_problem(line)
    if m.group(3) is None:
        return pos + m.end(2) + 1, "expected a single space after ':' and a value, or LF"
    try:
        _parse_inline(m.group(3))
    except _At as exc:
        return pos + m.start(3) + exc.index, exc.message
    return pos, "not a canonical entry"


class _At(Exception):
    def __init__(self, index: int, message: str) -> None:
        self.index = index
        self.message = message


def _line_problem(line: str) -> str:
    if not line:
        return "blank line"
    if ":" not in line:
        return "expected 'key: value' or 'key:'"
    key = line.lstrip(" ").split(":", 1)[0]
    if not _KEY.match(key):
        return f"key {key[:40]!r} is not [a-z_][a-z0-9_]*"
    return "expected a single space after ':' and a value, or the end of the line"


def _parse_inline(text: str) -> object:
    if text == "{}":
        return {}
    if text.startswith("["):
        if text == "[]":
            return []
        items = []
        i = 1
        while True:
            value, i = _parse_scalar(text, i)
            items.append(value)
            if text.startswith(", ", i):
                i += 2
            elif text.startswith("]", i) and i + 1 == len(text):
                return items
            else:
                raise _At(i, "expected ', ' or ']' ending the line in a list")
    value, i = _parse_scalar(text, 0)
    if i != len(text):
        raise _At(i, "unexpected text after the value")
    return value


def _parse_scalar(text: str, i: int) -> tuple[object, int]:
    m = _TOKEN.match(text, i)
    if m is None:
        raise _At(i, "expected a canonical scalar (quoted string, number, true, false, null)")
    token = m.group()
    kind = m.lastgroup
    if kind == "s":
        body = token[1:-1]
        if "\\" in body:
            body = _UNESCAPE.sub(_unescape, body)
        return body, m.end()
    if kind == "f":
        value = float(token)
        if not math.isfinite(value) or canonical_float(value) != token:
            raise _At(i, f"float {token[:40]!r} is not in canonical form")
        return value, m.end()
    if kind == "i":
        digits = token.lstrip("-")
        if len(digits) > _MAX_INT_DIGITS or (digits[0] == "0" and token != "0"):
            raise _At(i, f"integer {token[:40]!r} is not canonical or outside int64")
        value = int(token)
        if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
            raise _At(i, f"integer {token[:40]!r} is outside int64")
        return value, m.end()
    return _KEYWORDS[token], m.end()


def _unescape(m: re.Match[str]) -> str:
    esc = m.group(1)
    return esc if len(esc) == 1 else chr(int(esc[1:], 16))
