"""``cnndsl diagram``: a picture of a model without Graphviz.

SVG is laid out and written here (cnndsl.diagram.layout, .svg); Mermaid and DOT are
text for tools that lay out themselves. ``depth`` folds blocks (see
:func:`cnndsl.diagram.units.scope_path`, the one function that says where a layer's
block is).
"""

from __future__ import annotations

from ..errors import CnnDslError, Diagnostic
from ..ir import Model
from ..limits import MAX_BENDS
from .layout import bends, layout
from .svg import to_svg
from .text import to_dot, to_mermaid
from .units import ScopeKey, Unit, scope_path, units

__all__ = ["FORMATS", "ScopeKey", "Unit", "diagram", "scope_path", "units"]

FORMATS = ("svg", "mermaid", "dot")


def diagram(model: Model, fmt: str = "svg", depth: int = 0, key: ScopeKey = scope_path) -> str:
    """The model drawn as ``fmt`` (one of :data:`FORMATS`)."""
    boxes = units(model, depth, key)
    if fmt == "svg":
        _check_bends(model, boxes)
        return to_svg(layout(boxes), model.name)
    if fmt == "mermaid":
        return to_mermaid(boxes, model.name)
    if fmt == "dot":
        return to_dot(boxes, model.name)
    raise ValueError(f"unknown diagram format {fmt!r}: one of {', '.join(FORMATS)}")


def _check_bends(model: Model, boxes: list[Unit]) -> None:
    """A CnnDslError at the line of the edge that skips the most rows, when the SVG
    layout would make more than MAX_BENDS waypoints (Mermaid and DOT make none)."""
    total, longest = bends(boxes)
    if total <= MAX_BENDS or longest is None:
        return
    src, dst, rows = longest
    target = dst.first or dst.name
    span = model.node(target).span if target in model else None
    message = (
        f"the SVG diagram would need {total:,} waypoints to route its edges past the rows "
        f"they skip, over the limit of {MAX_BENDS:,}: {src.name} -> {dst.name} alone skips "
        f"{rows:,} rows"
    )
    hint = (
        "fold blocks into boxes with --depth 1 (or 2...), or draw it with --format mermaid or "
        "--format dot, which leave the layout to the viewer"
    )
    raise CnnDslError([Diagnostic(message, span, hint)], model.filename)
