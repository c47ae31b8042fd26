"""Keras 3 code generation: ``build_model()`` returning a keras.Sequential for a chain of
layers, a functional keras.Model for a graph.

``KERAS`` (in :mod:`.lower`) holds each kind's lowering; :func:`emit` lays the calls out
with the template, :func:`weight_map` returns where each canonical weight lands (layer
name and position in ``get_weights()``), used by ``cnndsl.convert``.
"""

from __future__ import annotations

from ...ir import Model
from ..codegen import (
    check_model_name,
    check_variables,
    header,
    is_linear,
    layout,
    layout_literal,
    render,
    variables,
)
from ..params import Param
from . import conv as _conv  # noqa: F401  (registers the convolution kinds)
from .lower import ACTIVATIONS, KERAS, Ctx, Lowered

__all__ = ["ACTIVATIONS", "FILE_NAMES", "KERAS", "emit", "weight_map"]

#: names the generated file uses as variables or definitions
FILE_NAMES = frozenset(
    {
        "keras",
        "layers",
        "inputs",
        "x",
        "model",
        "build_model",
        "FIXED_WEIGHTS",
        "gelu_tanh",
        "PaddedPooling",
        "BatchNorm",
    }
)


def _lower_all(model: Model) -> tuple[Ctx, list[Lowered]]:
    ctx = Ctx(model)
    return ctx, [KERAS(node.layer, node, ctx) for node in model.nodes]


def weight_map(model: Model) -> dict[str, list[Param]]:
    """Node name -> the Keras layers (and positions) that hold its canonical weights."""
    _, lowered = _lower_all(model)
    return {n.name: low.params for n, low in zip(model.nodes, lowered) if low.params}


def _functional_lines(model: Model, lowered: list[Lowered]) -> list[str]:
    var = variables(model, "inputs")
    check_variables(model, var, FILE_NAMES, "Keras")
    lines: list[str] = []
    for node, low in zip(model.nodes, lowered):
        if not node.inputs:
            lines += layout(low.calls[0], 4, prefix="inputs = ")
            continue
        ins = [var[i] for i in node.inputs]
        arg = ins[0] if len(ins) == 1 else f"[{', '.join(ins)}]"
        for call in low.calls:
            lines += layout(call, 4, prefix=f"{var[node.name]} = ", applied_to=arg)
            arg = var[node.name]
    return lines


def emit(model: Model) -> str:
    """The Keras 3 source of ``model``."""
    check_model_name(model.name)
    ctx, lowered = _lower_all(model)
    sequential = is_linear(model)
    if sequential:
        lines = [line for low in lowered for c in low.calls for line in layout(c, 12, suffix=",")]
    else:
        lines = _functional_lines(model, lowered)
    return render(
        "keras.py.j2",
        header=header(model, "Keras 3"),
        name=model.name,
        sequential=sequential,
        output_var=None if sequential else variables(model, "inputs")[model.outputs[-1]],
        helpers=[ctx.helpers[k] for k in sorted(ctx.helpers)],
        lines=lines,
        fixed=list(ctx.fixed),
        fixed_lines=layout_literal(ctx.fixed, 0, "FIXED_WEIGHTS = ") if ctx.fixed else [],
        input_shape="x".join(map(str, model.input_shape)),
        output_shape="x".join(map(str, model.output_shape)),
    )
