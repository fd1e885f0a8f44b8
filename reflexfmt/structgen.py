"""Generates ``reflexfmt/structs.py``: the schema's fixed-size records as struct formats.

``python -m reflexfmt.structgen`` rewrites the file from ``reflexfmt.schema`` (and, for the
node byte patterns, the rules of spec 4.1 in ``reflexfmt.limits``);
tests/fmt/test_fmt_fastpath.py fails when the file differs from a fresh generation. The
fast path of ``loads``, the checks, the JSON shape, the model and the writer read the layout
from there, so a change of a field in ``schema.py`` reaches them all.
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

from construct import Bytes, Const, FormatField, Struct

from reflexfmt import schema
from reflexfmt.layout import unwrap
from reflexfmt.limits import FEATURE_COUNT, INTERNAL_ZERO_FIELDS, LEAF, LEAF_ZERO_FIELDS

TARGET = Path(__file__).with_name("structs.py")


def leaf_fields(st: Struct) -> list[tuple[str, str]]:
    """(name, struct code) of each field of a fixed-size record, in order."""
    out = []
    for sub in st.subcons:
        name, _, inner = unwrap(sub)
        if isinstance(inner, Const):
            inner = inner.subcon
        if isinstance(inner, FormatField):
            if inner.fmtstr[0] != "<":
                raise TypeError(f"{name}: every field is little-endian (spec 1)")
            out.append((name, inner.fmtstr[1:]))
        elif isinstance(inner, Bytes) and isinstance(inner.length, int):
            out.append((name, f"{inner.length}s"))
        else:
            raise TypeError(f"{name}: not a fixed-size leaf field")
    return out


def _field(st: Struct, name: str) -> str:
    """The struct code of the fixed-size field ``name`` of a record with other fields."""
    for sub in st.subcons:
        field, _, inner = unwrap(sub)
        if field == name and isinstance(inner, FormatField):
            return inner.fmtstr[1:]
    raise KeyError(name)


def _node_pattern(fields: list[tuple[str, str]], leaf: bool) -> str:
    """A regular expression for one node's bytes under spec 4.1 rules 1-2: in a leaf the
    feature is LEAF and LEAF_ZERO_FIELDS are 0; in an internal node the feature is below
    FEATURE_COUNT and INTERNAL_ZERO_FIELDS are 0; any other field is free."""
    zero = LEAF_ZERO_FIELDS if leaf else INTERNAL_ZERO_FIELDS
    tokens: list[str] = []  # one per byte: "0" a zero byte, "." any byte, else a pattern
    for name, code in fields:
        size = struct.calcsize("<" + code)
        if name == "feature":
            if leaf:
                tokens += [f"\\x{b:02x}" if b else "0" for b in struct.pack("<" + code, LEAF)]
            else:  # little-endian and FEATURE_COUNT <= 256: the low byte, then zeros
                assert FEATURE_COUNT <= 256 and code in "BHIQ"
                tokens += [f"[\\x00-\\x{FEATURE_COUNT - 1:02x}]"] + ["0"] * (size - 1)
        else:
            tokens += ["0" if name in zero else "."] * size
    out = ""
    for token, group in itertools.groupby(tokens):
        count = len(list(group))
        if token in "0.":
            one = "\\x00" if token == "0" else "."
            out += one if count == 1 else f"{one}{{{count}}}"
        else:
            out += token * count
    return out


def source() -> str:
    """The text of ``reflexfmt/structs.py``."""
    records = {
        "HEADER": leaf_fields(schema.Header),
        "SCALING": leaf_fields(schema.Scaling),
        "NODE": leaf_fields(schema.Node),
        "BOUNDS": leaf_fields(schema.Bounds),
    }
    node = records["NODE"]
    always_zero = set(LEAF_ZERO_FIELDS) & set(INTERNAL_ZERO_FIELDS)
    values = [(n, c) for n, c in node if n not in always_zero]
    offsets, at = {}, 0
    for name, code in node:
        offsets[name] = at
        at += struct.calcsize("<" + code)
    lines = [
        '"""The NEM1 layout as struct formats: every fixed-size record of ``reflexfmt.schema``.',
        "",
        "Generated from reflexfmt.schema by ``python -m reflexfmt.structgen``; do not edit.",
        "tests/fmt/test_fmt_fastpath.py checks that it equals a fresh generation.",
        '"""',
        "",
        f"SECTIONS = {_tuple(unwrap(s)[0] for s in schema.NEM1.subcons)}",
    ]
    for prefix, fields in records.items():
        lines += [
            f'{prefix}_FORMAT = "<{"".join(c for _, c in fields)}"',
            f"{prefix}_FIELDS = {_tuple(n for n, _ in fields)}",
            f"{prefix}_CODES = {_tuple(c for _, c in fields)}",
        ]
    lines += [
        "# A node without the fields that are 0 in every node: unpacks to a model.Node.",
        f'NODE_VALUES_FORMAT = "<{"".join(_pad(c) if n in always_zero else c for n, c in node)}"',
        f"NODE_VALUE_FIELDS = {_tuple(n for n, _ in values)}",
        f"NODE_FEATURE_OFFSET = {offsets['feature']}",
        "# One leaf's and one internal node's bytes under spec 4.1 rules 1-2 (re.DOTALL).",
        f'NODE_LEAF_PATTERN = rb"{_node_pattern(node, True)}"',
        f'NODE_INTERNAL_PATTERN = rb"{_node_pattern(node, False)}"',
        f'NODE_COUNT_FORMAT = "<{_field(schema.Tree, "node_count")}"',
        f'METADATA_LENGTH_FORMAT = "<{_field(schema.Metadata, "length")}"',
        f'CRC32_FORMAT = "<{schema.CRC32.fmtstr[1:]}"',
        "",
    ]
    return "\n".join(lines)


def _pad(code: str) -> str:
    return f"{struct.calcsize('<' + code)}x"


def _tuple(names: object) -> str:
    return "(\n" + "".join(f'    "{n}",\n' for n in names) + ")"


if __name__ == "__main__":
    TARGET.write_text(source(), encoding="utf-8")
    print(f"wrote {TARGET}")
