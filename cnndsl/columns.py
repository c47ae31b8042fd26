"""``summary --columns``: the layer table with the window and activation of each layer.

The extra columns come from :mod:`cnndsl.lessons` (one entry per layer kind): kernel,
stride and padding for the kinds that slide a window, the activation a layer applies.
Folded rows (``--depth``) leave them empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .arith import Lesson
from .ir import Model, Node
from .lessons import lesson


def _pads(ls: Lesson) -> str:
    pads = [(a.before, a.after) for a in ls.window]
    if not pads:
        return ""
    if all(b == a == pads[0][0] for b, a in pads):
        return str(pads[0][0])
    return "(" + ", ".join(f"{b}, {a}" for b, a in pads) + ")"


#: column name -> (header, cell of a node's lesson)
COLUMNS: dict[str, tuple[str, Callable[[Lesson], str]]] = {
    "kernel": ("Kernel", lambda ls: "x".join(str(a.k) for a in ls.window)),
    "stride": ("Stride", lambda ls: "x".join(str(a.s) for a in ls.window)),
    "padding": ("Padding", _pads),
    "activation": ("Activation", lambda ls: ls.activation or ""),
}


def cells(node: Node, columns: Sequence[str]) -> tuple[str, ...]:
    """A node's cells of ``columns`` (keys of COLUMNS)."""
    if not columns:
        return ()
    ls = lesson(node)
    return tuple(COLUMNS[c][1](ls) for c in columns)


def summary(model: Model, columns: Sequence[str], depth: int | None = None) -> str:
    """The summary table with ``columns`` after the output shape (cnndsl.summary)."""
    from .summary import summary as table

    return table(model, depth, columns)
