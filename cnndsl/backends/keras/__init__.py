"""Keras 3 code generation: ``build_model()`` returning a keras.Sequential for a chain of
layers, a functional keras.Model for a graph.

``KERAS`` (in :mod:`.lower`) holds each kind's lowering; :func:`emit` lays the calls out
with the template, :func:`weight_map` returns where each canonical weight lands (layer
name and position in ``get_weights()``), used by ``cnndsl.convert``.
"""

from __future__ import annotations

from ...ir import Model, Node
from ..codegen import (
    check_model_name,
    header,
    is_linear,
    layout,
    layout_literal,
    refuse_names,
    render,
)
from ..params import Param
from ..tree import without_defaults
from . import conv as _conv  # noqa: F401  (registers the convolution kinds)
from .functions import DEFAULTS, Body, Functions, body_lines, function_lines, keras_name
from .lower import ACTIVATIONS, KERAS

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


def _generate(model: Model) -> tuple[Functions, Body]:
    gen = Functions(model)
    labels = {part for n in model.nodes for part in n.path}
    return gen, gen.generate(FILE_NAMES | labels)


def weight_map(model: Model) -> dict[str, list[Param]]:
    """Node name -> the Keras layers (and positions) that hold its canonical weights."""
    gen, _ = _generate(model)
    return {name: params for name, params in gen.weights.items() if params}


def emit(model: Model) -> str:
    """The Keras 3 source of ``model``: keras.Sequential for a chain of layers, else a
    functional model, with a function per block."""
    check_model_name(model.name)
    _check_names(model)
    gen, root = _generate(model)
    sequential = is_linear(model) and not gen.functions
    if sequential:
        calls = [without_defaults(s.call, DEFAULTS) for s in root.steps]
        lines = [line for c in calls for line in layout(c, 12, suffix=",")]
    else:
        lines = body_lines(root.steps, 4)
    ctx = gen.ctx
    return render(
        "keras.py.j2",
        header=header(model, "Keras 3"),
        name=model.name,
        sequential=sequential,
        output_var=root.results[0],
        functions=[function_lines(f) for f in gen.functions],
        helpers=[ctx.helpers[k] for k in sorted(ctx.helpers)],
        lines=lines,
        fixed=list(ctx.fixed),
        fixed_lines=layout_literal(ctx.fixed, 0, "FIXED_WEIGHTS = ") if ctx.fixed else [],
        input_shape="x".join(map(str, model.input_shape)),
        output_shape="x".join(map(str, model.output_shape)),
    )


def _check_names(model: Model) -> None:
    """A tensor kept under a layer's name may not shadow a name the file uses, and two
    layers may not get one Keras name."""
    seen: dict[str, Node] = {}
    clashes = []
    for n in model.nodes:
        name = keras_name(n)
        if name in seen and seen[name] is not n:
            clashes.append((n, "another layer's Keras name"))
        seen[name] = n
        if n.path[-1] in FILE_NAMES and n.inputs:
            clashes.append((n, "a name the file uses"))
    refuse_names(model, clashes, "Keras")
