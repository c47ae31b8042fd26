"""``cnndsl explain``: the arithmetic of a checked model, layer by layer.

For each node: the statement, the output shape worked out axis by axis, the parameter
count, the multiply-accumulates, and the receptive field with its jump (the distance, in
input pixels, between the centres of two neighbouring outputs). The numbers come from
:mod:`cnndsl.lessons`, one entry per layer kind.
"""

from __future__ import annotations

from fractions import Fraction

from .arith import MINUS, Field, Lesson, Step
from .ir import Model, Node
from .layers import fmt_shape
from .lessons import lesson

__all__ = ["explain", "fields"]

#: a receptive field or jump stays an exact fraction while its numerator and denominator
#: stay below this, and becomes a float (printed with ≈) beyond: upsampling divides the
#: jump, and 9,000 times upsample 3 then pool 2 made fractions of thousands of digits
#: (explain took 39 s and 2.2 GB, then failed past Python's 4,300 digits)
EXACT = 10**12
HUGE = 1e300


def fields(model: Model) -> dict[str, Field]:
    """Each node's receptive field and jump per spatial axis (None: the whole input).

    Where paths meet (add, concat), the widest field of the inputs is kept."""
    out: dict[str, Field] = {}
    for node in model.nodes:
        if not node.inputs:
            spatial = len(node.shape) - 1
            one = Fraction(1)
            out[node.name] = ((one, one),) * spatial if spatial else None
            continue
        out[node.name] = _bounded(lesson(node).grow(_widest([out[i] for i in node.inputs])))
    return out


def _bounded(f: Field) -> Field:
    """``f`` with every fraction whose terms pass EXACT made a float."""
    if f is None:
        return None
    return tuple((_cap(rf), _cap(j)) for rf, j in f)


def _cap(x: Fraction | float) -> Fraction | float:
    """Floats stay at most HUGE: 1,030 strides of 2 overflowed to inf, and 0 * inf is nan."""
    if isinstance(x, Fraction) and max(abs(x.numerator), x.denominator) > EXACT:
        x = float(x)
    return min(x, HUGE) if isinstance(x, float) else x


def _widest(inputs: list[Field]) -> Field:
    if any(f is None for f in inputs):
        return None
    known = [f for f in inputs if f is not None]
    return tuple(max(axes) for axes in zip(*known))


def _num(x: Fraction | float) -> str:
    if isinstance(x, float):
        return f"\N{ALMOST EQUAL TO}{x:.6g}"
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _field_line(before: Field, after: Field, ls: Lesson) -> str:
    if after is None:
        return "the whole input" if before is not None else "the whole input (as before)"
    size = "x".join(_num(rf) for rf, _ in after)
    jump = "x".join(_num(j) for _, j in after)
    grew = [
        f"{_num(rf0)} + ({a.span} {MINUS} 1){'·'}{_num(j0)} = {_num(rf1)}"
        for (rf0, j0), (rf1, _), a in zip(before or (), after, ls.window)
        if a.span > 1
    ]
    how = f"   ({'; '.join(dict.fromkeys(grew))})" if grew else ""
    return f"{size} pixels, jump {jump}{how}"


def _statement(node: Node, lines: list[str]) -> str:
    n = node.span.line
    if 1 <= n <= len(lines):
        return lines[n - 1].split("#", 1)[0].strip()
    return node.keyword


def explain_node(node: Node, before: Field, after: Field, lines: list[str]) -> list[str]:
    """The lines of one node: header, shape, params, MACs, receptive field."""
    ls = lesson(node)
    ins = " + ".join(fmt_shape(s) for s in node.input_shapes) or "—"
    out = [
        f"{node.name}  ({node.keyword}, line {node.span.line})  {_statement(node, lines)}",
        f"  shape     {ins} -> {fmt_shape(ls.out)}",
    ]
    out += [
        f"    {s.label:<9} {s}" if _is_sum(s) else f"    {s.label:<9} {s.expr}" for s in ls.shape
    ]
    out.append(f"  params    {ls.params}" if ls.params else "  params    0")
    out.append(f"  MACs      {ls.macs}" if ls.macs else "  MACs      0")
    out.append(f"  field     {_field_line(before, after, ls)}")
    if ls.note:
        out.append(f"  note      {ls.note}")
    return out


def _is_sum(s: Step) -> bool:
    return any(ch.isdigit() for ch in s.expr) and not any(ch.isalpha() for ch in s.expr)


def explain(model: Model, source: str = "", layer: str | None = None) -> str:
    """The whole model (or the one ``layer``), as ``cnndsl explain`` prints it.

    Raises KeyError naming the layer when there is none of that name."""
    lines = source.splitlines()
    fs = fields(model)
    nodes = [model.node(layer)] if layer is not None else list(model.nodes)
    blocks = []
    for node in nodes:
        before = _widest([fs[i] for i in node.inputs]) if node.inputs else fs[node.name]
        blocks.append("\n".join(explain_node(node, before, fs[node.name], lines)))
    if layer is None:
        blocks.append(
            f"total     {model.total_params:,} params, {model.total_macs:,} MACs per sample"
        )
    return "\n\n".join(blocks)
