"""``summary --columns``: the layer table with the window and activation of each layer.

The extra columns come from :mod:`cnndsl.lessons` (one entry per layer kind): kernel,
stride and padding for the kinds that slide a window, the activation a layer applies.
The title and the totals are :meth:`Model.summary`'s own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .arith import Lesson
from .ir import Model, Node
from .layers import fmt_shape
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


def _row(model: Model, i: int, node: Node, columns: Sequence[str]) -> tuple[str, ...]:
    ls = lesson(node)
    chained = node.inputs == ((model.nodes[i - 1].name,) if i else ())
    return (
        node.name,
        node.keyword,
        fmt_shape(node.shape),
        *(COLUMNS[c][1](ls) for c in columns),
        f"{node.params:,}",
        f"{node.macs:,}",
        str(node.span.line),
        "" if chained else " + ".join(node.inputs),
    )


def summary(model: Model, columns: Sequence[str]) -> str:
    """The summary table with ``columns`` (keys of COLUMNS) after the output shape."""
    if not columns:
        return model.summary()
    header = (
        "Layer",
        "Kind",
        "Output shape",
        *(COLUMNS[c][0] for c in columns),
        "Params",
        "MACs",
        "Line",
        "Inputs",
    )
    rows = [_row(model, i, n, columns) for i, n in enumerate(model.nodes)]
    if all(not r[-1] for r in rows):
        header, rows = header[:-1], [r[:-1] for r in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    first = 3 + len(columns)
    right = {first, first + 1, first + 2}

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(header))
    plain = model.summary().splitlines()
    body = [rule, line(header), rule, *(line(r) for r in rows), rule]
    return "\n".join([plain[0], *body, *plain[-5:]])
