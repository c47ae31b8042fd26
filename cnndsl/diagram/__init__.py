"""``cnndsl diagram``: a picture of a model without Graphviz.

SVG is laid out and written here (cnndsl.diagram.layout, .svg); Mermaid and DOT are
text for tools that lay out themselves. ``depth`` folds blocks (see
:func:`cnndsl.diagram.units.scope_path`, the one function that says where a layer's
block is).
"""

from __future__ import annotations

from ..ir import Model
from .layout import layout
from .svg import to_svg
from .text import to_dot, to_mermaid
from .units import ScopeKey, Unit, scope_path, units

__all__ = ["FORMATS", "ScopeKey", "Unit", "diagram", "scope_path", "units"]

FORMATS = ("svg", "mermaid", "dot")


def diagram(model: Model, fmt: str = "svg", depth: int = 0, key: ScopeKey = scope_path) -> str:
    """The model drawn as ``fmt`` (one of :data:`FORMATS`)."""
    boxes = units(model, depth, key)
    if fmt == "svg":
        return to_svg(layout(boxes), model.name)
    if fmt == "mermaid":
        return to_mermaid(boxes, model.name)
    if fmt == "dot":
        return to_dot(boxes, model.name)
    raise ValueError(f"unknown diagram format {fmt!r}: one of {', '.join(FORMATS)}")
