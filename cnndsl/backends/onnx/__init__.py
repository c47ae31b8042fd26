"""ONNX export: the model as an ONNX graph with its weights as initializers.

``ONNX`` (in :mod:`.lower`) holds each kind's lowering as data; :func:`to_onnx` builds
the ``onnx.ModelProto`` (importing ``onnx`` only then), with the IR version set to the
lowest the opset needs so that older runtimes load it. The graph input ``input`` and the
output are channels-first (NCHW / NCL / (N, features)), batch dimension ``N``; with
``layout="nhwc"`` a Transpose at each end makes them channels-last, as in the language.
Node names come from the source; each node's ``doc_string`` carries its source line.
"""

from __future__ import annotations

import os
from typing import Any

from ...ir import Model
from ..params import Param
from .lower import ACTIVATIONS, ONNX, Ctx, Lowered, Op, op

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_OPSET",
    "LAYOUTS",
    "ONNX",
    "lower_all",
    "to_onnx",
    "weight_map",
]

#: LayerNormalization needs 17; what every current runtime loads
DEFAULT_OPSET = 17
MIN_OPSET = 17
#: the graph's input and output layout: ONNX's channels-first, or the language's
LAYOUTS = ("nchw", "nhwc")


def lower_all(model: Model) -> list[Lowered]:
    ctx = Ctx(model)
    out = []
    for node in model.nodes:
        ctx.ins = list(node.inputs)
        out.append(ONNX(node.layer, node, ctx))
    return out


def weight_map(model: Model) -> dict[str, list[Param]]:
    """Node name -> the initializers that hold its canonical weights."""
    return {n.name: low.params for n, low in zip(model.nodes, lower_all(model)) if low.params}


def _dims(shape: tuple[int, ...], layout: str) -> list[int | str]:
    dims = (shape[-1], *shape[:-1]) if len(shape) > 1 and layout == "nchw" else shape
    return ["N", *dims]


def _layout_ends(model: Model, layout: str) -> tuple[dict[str, str], list[Op], list[Op]]:
    """For ``nhwc``: a Transpose from the channels-last input and one to a channels-last
    output (vectors need none), and the renaming that makes the graph's own ops read and
    write the channels-first values between them."""
    rename: dict[str, str] = {}
    into: list[Op] = []
    out: list[Op] = []
    x, y = model.inputs[0], model.outputs[-1]
    rx, ry = len(model.input_shape), len(model.output_shape)
    if layout == "nchw" or x == y:
        return rename, into, out
    if rx > 1:
        rename[x] = f"{x}/nchw"
        into.append(op("Transpose", [x], rename[x], perm=[0, rx, *range(1, rx)]))
    if ry > 1:
        rename[y] = f"{y}/nchw"
        out.append(op("Transpose", [rename[y]], y, perm=[0, *range(2, ry + 1), 1]))
    return rename, into, out


def _renamed(o: Op, rename: dict[str, str]) -> Op:
    def names(ns: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(rename.get(n, n) for n in ns)

    return Op(o.op, names(o.inputs), names(o.outputs), o.attrs)


def _node_proto(helper: Any, o: Op, name: str, doc: str) -> Any:
    return helper.make_node(
        o.op, list(o.inputs), list(o.outputs), name=name, doc_string=doc, **dict(o.attrs)
    )


def _node_protos(helper: Any, model: Model, lowered: list[Lowered], layout: str) -> list[Any]:
    """Every layer's ops, named after it and documented with its source line; with the
    layout's Transposes at the ends."""
    base = os.path.basename(model.filename)
    rename, into, out = _layout_ends(model, layout)
    ends = f"{base}: --layout {layout}"
    nodes = [_node_proto(helper, o, f"{o.inputs[0]}/to_nchw", ends) for o in into]
    for node, low in zip(model.nodes, lowered):
        doc = f"{base}:{node.span.line}: {node.keyword}"
        for i, o in enumerate(low.ops):
            name = node.name if i == len(low.ops) - 1 else f"{node.name}/{i}"
            nodes.append(_node_proto(helper, _renamed(o, rename), name, doc))
    return nodes + [_node_proto(helper, o, f"{o.outputs[0]}/to_nhwc", ends) for o in out]


def to_onnx(model: Model, weights: Any, opset: int = DEFAULT_OPSET, layout: str = "nchw") -> Any:
    """The ``onnx.ModelProto`` of ``model`` with canonical ``weights`` as initializers;
    ``layout`` (:data:`LAYOUTS`) is the graph's input and output layout."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from ...convert import export

    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: one of {', '.join(LAYOUTS)}")
    lowered = lower_all(model)
    where = {n.name: low.params for n, low in zip(model.nodes, lowered) if low.params}
    arrays = export(model, weights, where, order=True)
    inits = [numpy_helper.from_array(a, p.key) for p, a in arrays.items()]
    base = os.path.basename(model.filename)
    nodes = _node_protos(helper, model, lowered, layout)
    consts = {k: v for low in lowered for k, v in low.consts.items()}
    for name, (values, kind) in sorted(consts.items()):
        dtype = np.int64 if kind == "int64" else np.float32
        inits.append(numpy_helper.from_array(np.asarray(values, dtype), name))
    float32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        model.name,
        [helper.make_tensor_value_info(model.inputs[0], float32, _dims(model.input_shape, layout))],
        [
            helper.make_tensor_value_info(
                model.outputs[-1], float32, _dims(model.output_shape, layout)
            )
        ],
        initializer=inits,
        doc_string=f"cnndsl model {model.name} from {base}",
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="cnndsl",
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto
