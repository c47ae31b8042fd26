"""PyTorch code generation: an ``nn.Module`` subclass, NCHW, read as a person would write it.

``PYTORCH`` (in :mod:`.lower`) holds each kind's lowering; :func:`emit` lays the
modules and ``forward`` steps out with the template, :func:`weight_map` returns where
each canonical weight lands in the module's state_dict (used by ``cnndsl.convert``).
"""

from __future__ import annotations

from ...ir import Model
from ..codegen import (
    Call,
    Code,
    check_variables,
    class_name,
    header,
    layout,
    layout_literal,
    py,
    refuse_names,
    render,
    variables,
)
from ..params import Param
from . import conv as _conv  # noqa: F401  (registers the convolution kinds)
from .lower import ACTIVATIONS, PYTORCH, Ctx, Lowered
from .names import FILE_NAMES, MODULE_ATTRIBUTES

__all__ = ["ACTIVATIONS", "FILE_NAMES", "MODULE_ATTRIBUTES", "PYTORCH", "emit", "weight_map"]


def _why_taken(name: str) -> str:
    return "an nn.Module attribute" if name in MODULE_ATTRIBUTES else "a name the file uses"


def _check_names(model: Model) -> None:
    clashes = [
        (n, _why_taken(n.name))
        for n in model.nodes
        if n.name in MODULE_ATTRIBUTES or n.name in FILE_NAMES
    ]
    refuse_names(model, clashes, "PyTorch")


def _nchw(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, (shape[-1], *shape[:-1]) if len(shape) > 1 else shape))


def _lower_all(model: Model, var: dict[str, str]) -> tuple[Ctx, list[tuple[str, Lowered]]]:
    ctx = Ctx(model)
    out = []
    for node in model.nodes:
        ctx.ins = [Code(var[i]) for i in node.inputs] or [Code("x")]
        out.append((node.name, PYTORCH(node.layer, node, ctx)))
    return ctx, out


def weight_map(model: Model) -> dict[str, list[Param]]:
    """Node name -> where its canonical weights live in the generated module's state_dict."""
    _, lowered = _lower_all(model, {n.name: n.name for n in model.nodes})
    return {name: low.params for name, low in lowered if low.params}


def _forward_lines(
    model: Model, var: dict[str, str], lowered: list[tuple[str, Lowered]]
) -> list[str]:
    lines: list[str] = []
    for node, (_, low) in zip(model.nodes, lowered):
        if not node.inputs:
            continue
        target = var[node.name]
        source = var[node.inputs[0]]
        if not low.steps and target != source:
            lines.append(f"        {target} = {source}")
        for expr, comment in low.steps:
            if comment:
                lines.append(f"        # {comment}")
            if isinstance(expr, Call):
                lines += layout(expr, 8, prefix=f"{target} = ")
            else:
                lines.append(f"        {target} = {py(expr)}")
    return lines


def emit(model: Model) -> str:
    """The PyTorch source of ``model``: an nn.Module subclass named after the model."""
    _check_names(model)
    first = model.input_node.name
    chain_input = model.consumers(first) == tuple(n.name for n in model.nodes[1:2])
    var = variables(model, "x" if chain_input else "inputs")
    check_variables(model, var, FILE_NAMES | {"self", "x", "inputs"}, "PyTorch")
    ctx, lowered = _lower_all(model, var)
    init_lines: list[str] = []
    for _, low in lowered:
        for attr, call in low.modules:
            init_lines += layout(call, 8, prefix=f"self.{attr} = ")
    forward_lines = [] if chain_input else ["        inputs = x"]
    forward_lines += _forward_lines(model, var, lowered)
    name = class_name(model.name, reserved=tuple(sorted(FILE_NAMES)))
    return render(
        "pytorch.py.j2",
        header=header(model, "PyTorch"),
        name=model.name,
        class_name=name,
        functional=ctx.functional,
        helpers=[ctx.helpers[k] for k in sorted(ctx.helpers)],
        init_lines=init_lines,
        fixed=list(ctx.fixed),
        fixed_lines=layout_literal(ctx.fixed, 0, "FIXED_WEIGHTS = ") if ctx.fixed else [],
        forward_lines=forward_lines,
        output=var[model.outputs[-1]],
        input_nchw=_nchw(model.input_shape),
        output_nchw=_nchw(model.output_shape),
    )
