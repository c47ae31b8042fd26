"""``cnndsl summary``: the table of a model's layers, flat or folded by scope.

Flat, each node is a row, as Keras' ``summary()`` lists layers. With a depth, the
block instances and stages nested deeper than it fold into one row each — their
output shape is their last layer's, their parameters and MACs are summed — as
torchinfo's ``depth`` folds modules. Rows are named by their path (``layer1.0``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import printable
from .ir import BYTES_PER_PARAM, Model, Node
from .layers import fmt_shape


@dataclass
class Row:
    name: str
    kind: str
    shape: str
    params: int
    macs: int
    line: int
    inputs: str
    extra: tuple[str, ...] = ()


# complex: a row per node or per folded scope, each with its name, kind and extra cells
def rows(model: Model, depth: int | None, columns: Sequence[str] = ()) -> list[Row]:
    """One row per node, or per scope folded at ``depth``; ``columns`` of cnndsl.columns."""
    from .columns import cells

    out: list[Row] = []
    keys: list[tuple[str, ...]] = []
    for i, n in enumerate(model.nodes):
        key = _key(n, depth)
        if keys and keys[-1] == key and len(key) < len(n.path):
            row = out[-1]
            row.shape, row.params, row.macs = (
                fmt_shape(n.shape),
                row.params + n.params,
                row.macs + n.macs,
            )
            continue
        chained = n.inputs == ((model.nodes[i - 1].name,) if i else ())
        inputs = "" if chained or depth is not None else " + ".join(n.inputs)
        extra = cells(n, columns)
        if len(key) < len(n.path):  # a folded scope
            frame = n.scope[len(key) - 1]
            name, kind = "  " * (len(key) - 1) + ".".join(key), frame.block or "stage"
            extra = ("",) * len(columns)
        else:
            name = n.name if depth is None else "  " * (len(key) - 1) + ".".join(key)
            kind = n.keyword
        shape = fmt_shape(n.shape)
        out.append(Row(name, kind, shape, n.params, n.macs, n.span.line, inputs, extra))
        keys.append(key)
    return out


def _key(n: Node, depth: int | None) -> tuple[str, ...]:
    if depth is None:
        return (n.name,)
    return n.path[: max(depth, 1)] if len(n.path) > depth else n.path


# complex: one table: widths, alignment, the totals under it
def summary(model: Model, depth: int | None = None, columns: Sequence[str] = ()) -> str:
    from .columns import COLUMNS

    extra = tuple(COLUMNS[c][0] for c in columns)
    header: tuple[str, ...] = ("Layer", "Kind", "Output shape", *extra, "Params", "MACs", "Line")
    header = (*header, "Inputs")
    table = [
        (r.name, r.kind, r.shape, *r.extra, f"{r.params:,}", f"{r.macs:,}", str(r.line), r.inputs)
        for r in rows(model, depth, columns)
    ]
    if all(not r[-1] for r in table):  # a chain: no Inputs column at all
        header = header[:-1]
        table = [r[:-1] for r in table]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    first = 3 + len(columns)
    right = {first, first + 1, first + 2}

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(header))
    total_bytes = model.total_params * BYTES_PER_PARAM
    out = [
        f'Model "{model.name}" ({printable(model.filename)})',
        rule,
        line(header),
        rule,
        *(line(r) for r in table),
        rule,
        f"Total params:         {model.total_params:,} ({_human_bytes(total_bytes)} as float32)",
        f"Trainable params:     {model.trainable_params:,}",
        f"Non-trainable params: {model.non_trainable_params:,}",
        f"MACs per sample:      {model.total_macs:,} ({_human_count(model.total_macs)})",
        f"Input: {fmt_shape(model.input_shape)}   Output: {fmt_shape(model.output_shape)}"
        "   (batch implied, channels last)",
    ]
    return "\n".join(out)


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.2f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    raise AssertionError  # pragma: no cover


def _human_count(n: int) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return str(n)
