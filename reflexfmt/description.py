"""Reading a ``reflex-build`` description's text (spec/NEM1.md appendix A): JSON or YAML.

A text whose first character (after an optional UTF-8 byte-order mark and white space) is
``{`` or ``[`` is JSON and only JSON; any other text is YAML, read with the YAML 1.2 core
schema's plain-scalar forms narrowed to JSON's numbers (``_yaml_loader``). A duplicate key,
in either, is an error naming the key. Errors are ``DescriptionError`` (a ValueError).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

BOM = "\ufeff"


class DescriptionError(ValueError):
    """A description that does not have the --json shape; ``path`` is a JSON path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def parse_description(text: str) -> dict[str, Any]:
    """The mapping a description's text holds; DescriptionError (one line, naming the place:
    a ``$.`` path or a line and column) if it is not JSON or YAML by the rules above."""
    if text.startswith(BOM):
        text = text[1:]
    if text.lstrip(" \t\r\n")[:1] in ("{", "["):
        doc = _parse_json(text)
    else:
        doc = _parse_yaml(text)
    if not isinstance(doc, dict):
        raise DescriptionError("$", "the description must be a mapping")
    return doc


class _Duplicate(dict):  # type: ignore[type-arg]
    """A JSON object that had a key twice (``key``, the first repeated one)."""

    key: str


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    marked = _Duplicate(result)
    marked.key = key
    return marked


def _constant(name: str) -> float:
    raise DescriptionError("$", f"{name} is not JSON (write a finite number)")


def _big_int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:
        raise DescriptionError("$", f"an integer of {len(digits)} digits is too long") from None


def _parse_json(text: str) -> Any:
    try:
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant,
                         parse_int=_big_int)
    except json.JSONDecodeError as exc:
        raise DescriptionError(
            "$", f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise DescriptionError("$", "JSON nested too deeply") from None
    path = _first_duplicate(doc, "$")
    if path is not None:
        raise DescriptionError(path[0], f"duplicate key {path[1]!r}")
    return doc


def _first_duplicate(node: Any, path: str) -> tuple[str, str] | None:
    """(path of the object, key) of the first object in document order with a repeated key."""
    stack = [(node, path)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Duplicate):
            return path, node.key
        if isinstance(node, dict):
            children = [(v, f"{path}.{k}" if _SIMPLE_KEY.fullmatch(k) else f"{path}[{k!r}]")
                        for k, v in node.items()]
        elif isinstance(node, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(node)]
        else:
            continue
        stack.extend(reversed(children))
    return None


_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def _parse_yaml(text: str) -> Any:
    import yaml

    loader = _yaml_loader()
    try:
        # An alias can make a small document expand exponentially (a "billion laughs"
        # mapping); the --json shape never needs one.
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                where = _at(event.start_mark)
                raise DescriptionError("$", f"YAML aliases are not allowed ({where})")
        return yaml.load(text, Loader=loader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _at(mark) if mark else "?"
        raise DescriptionError("$", f"not valid YAML ({where}): {_first_line(exc)}") from None
    except RecursionError:
        raise DescriptionError("$", "YAML nested too deeply") from None
    except DescriptionError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # from a YAML constructor
        raise DescriptionError("$", f"YAML that cannot be read ({_first_line(exc)})") from None


def _at(mark: Any) -> str:
    return f"line {mark.line + 1} column {mark.column + 1}"


# The plain (unquoted) scalars that are not strings: YAML 1.2 core schema's null and
# booleans, and its numbers narrowed to JSON's spellings plus .inf/.nan. Every other plain
# scalar (0644, 0x7fff, 0o17, 12:30, 1_000, yes, 2025-10-06) is the string as written.
_RESOLVERS = (
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", "~nN"),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?(?:0|[1-9][0-9]*)", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
     "-+0123456789."),
)


@functools.cache
def _yaml_loader() -> type:
    """pyyaml's safe loader (the C parser when built) with the plain-scalar resolution of
    ``_RESOLVERS`` and duplicate keys refused."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def construct_mapping(self: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        mapping = base.construct_mapping(self, node, deep)
        if len(mapping) != len(node.value):
            seen: list[Any] = []
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise DescriptionError(
                        "$", f"duplicate key {key!r} ({_at(key_node.start_mark)})")
                seen.append(key)
        return mapping

    loader = type("DescriptionLoader", (base,), {
        "yaml_implicit_resolvers": {}, "construct_mapping": construct_mapping})
    for tag, pattern, first in _RESOLVERS:
        # The empty plain scalar is null: pyyaml looks it up under the first character "".
        starts = [*first, ""] if tag.endswith("null") else list(first)
        loader.add_implicit_resolver(tag, re.compile(f"^(?:{pattern})$", re.ASCII), starts)
    return loader


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
