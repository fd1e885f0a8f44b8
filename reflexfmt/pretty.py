"""The rich view of a file for ``reflex-inspect``: header, features, trees, bounds, metadata, CRC.

User-controlled text (metadata, file names) is shown through ``rich.text.Text`` (never parsed
as markup) after ``escape_control``.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from reflexfmt.checksum import computed_crc, stored_crc
from reflexfmt.describe import format_split
from reflexfmt.layout import Field, walk
from reflexfmt.limits import FEATURE_NAMES, FEATURE_UNITS, LEAF, OUTPUT_NAMES, OUTPUT_UNITS
from reflexfmt.model import Reflex
from reflexfmt.terminal import escape_control


def render(console: Console, name: str, data: bytes, reflex: Reflex) -> None:
    """Print the full view of a valid file."""
    stored = stored_crc(data)
    crc_ok = computed_crc(data) == stored
    title = Text(escape_control(name), style="bold")
    # Size and CRC status go in the body, which wraps: a long path must not
    # push them out of a truncated panel title.
    summary = Text(f"{len(data)} bytes  CRC-32 0x{stored:08x} ", style="dim")
    summary.append("good" if crc_ok else "BAD", style="green" if crc_ok else "bold red")
    fields = walk(data).fields
    parts = [
        summary,
        _header(fields),
        _features(reflex),
        *(_tree(reflex, o) for o in range(len(reflex.trees))),
        _bounds(reflex),
        _metadata(fields),
    ]
    console.print(Panel(Group(*parts), title=title, title_align="left", box=box.ROUNDED))


def _header(fields: list[Field]) -> Table:
    table = Table(title="Header (spec 2)", box=box.SIMPLE, title_justify="left")
    for column in ("offset", "field", "value", "meaning"):
        table.add_column(column)
    for f in fields:
        if f.path.startswith("header."):
            value = repr(f.value) if isinstance(f.value, bytes) else str(f.value)
            table.add_row(str(f.offset), f.path.removeprefix("header."), value, f.doc)
    return table


def _features(reflex: Reflex) -> Table:
    table = Table(title="Features and scaling (spec 3, 12)", box=box.SIMPLE, title_justify="left")
    for column in ("#", "feature", "unit", "lo (q = 0)", f"hi (q = {reflex.q_scale})"):
        table.add_column(column, justify="right" if column[0] in "#lh" else "left")
    for i, s in enumerate(reflex.scaling):
        table.add_row(str(i), FEATURE_NAMES[i], FEATURE_UNITS[i], repr(s.lo), repr(s.hi))
    return table


def _tree(reflex: Reflex, o: int) -> Tree:
    nodes = reflex.trees[o]
    b = reflex.bounds[o]
    unit = OUTPUT_UNITS[o]
    root = Tree(
        Text(f"Tree {o}: {OUTPUT_NAMES[o]} ({unit}), {len(nodes)} node(s)", style="bold"),
        guide_style="dim",
    )

    def label(i: int, prefix: str) -> Text:
        n = nodes[i]
        if n.feature == LEAF:
            clamped = min(max(n.value, b.min), b.max)
            text = Text(f"{prefix}[{i}] leaf: {OUTPUT_NAMES[o]} = {clamped} {unit}")
            if clamped != n.value:
                text.append(f"  (stored {n.value}, clamped to {b.min}..{b.max})", style="yellow")
            return text
        s = reflex.scaling[n.feature]
        split = format_split(
            FEATURE_NAMES[n.feature],
            FEATURE_UNITS[n.feature],
            s.lo,
            s.hi,
            reflex.q_scale,
            n.threshold,
        )
        return Text(f"{prefix}[{i}] {split}")

    stack = [(root, 0, "")]
    while stack:
        parent, i, prefix = stack.pop()
        branch = parent.add(label(i, prefix))
        n = nodes[i]
        if n.feature != LEAF:
            stack.append((branch, n.right, "no:  "))
            stack.append((branch, n.left, "yes: "))
    return root


def _bounds(reflex: Reflex) -> Table:
    table = Table(title="Bounds (spec 5)", box=box.SIMPLE, title_justify="left")
    for column in ("#", "output", "unit", "min", "max"):
        table.add_column(column)
    for o, b in enumerate(reflex.bounds):
        table.add_row(str(o), OUTPUT_NAMES[o], OUTPUT_UNITS[o], str(b.min), str(b.max))
    return table


def _metadata(fields: list[Field]) -> Group:
    (yaml,) = [f.value for f in fields if f.path == "metadata.yaml"]
    lines = yaml.decode("utf-8").split("\n")
    text = "\n".join(escape_control(line) for line in lines)
    return Group(Text("Metadata (spec 6)", style="italic"), Text(text))
