"""The same boxes and edges as Mermaid (GitHub renders it in Markdown) and as Graphviz
DOT (for those who have Graphviz; cnndsl does not need it)."""

from __future__ import annotations

from collections.abc import Sequence

from .layout import box_lines
from .svg import COLOURS, OTHER
from .units import Unit, edges


def _mermaid_text(text: str) -> str:
    """Mermaid's entity codes for what would end a quoted label."""
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def to_mermaid(units: Sequence[Unit], title: str) -> str:
    out = ["---", f"title: {_mermaid_text(title)}", "---", "flowchart TD"]
    for u in units:
        label = "<br/>".join(_mermaid_text(t) for t in box_lines(u))
        out.append(f'  {u.id}["{label}"]')
    out += [f"  {a} --> {b}" for a, b in edges(units)]
    for u in units:
        fill, stroke = COLOURS.get(u.family, OTHER)
        out.append(f"  style {u.id} fill:{fill},stroke:{stroke}")
    return "\n".join(out) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(units: Sequence[Unit], title: str) -> str:
    out = [
        f'digraph "{_dot_text(title)}" {{',
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];',
        '  edge [color="#546e7a"];',
    ]
    for u in units:
        fill, stroke = COLOURS.get(u.family, OTHER)
        label = "\\n".join(_dot_text(t) for t in box_lines(u))
        out.append(f'  {u.id} [label="{label}", fillcolor="{fill}", color="{stroke}"];')
    out += [f"  {a} -> {b};" for a, b in edges(units)]
    out.append("}")
    return "\n".join(out) + "\n"
