"""ONNX export: the model as an ONNX graph with its weights as initializers.

``ONNX`` (in :mod:`.lower`) holds each kind's lowering as data; :func:`to_onnx` builds
the ``onnx.ModelProto`` (importing ``onnx`` only then), with the IR version set to the
lowest the opset needs so that older runtimes load it. The graph input ``input`` and the
output are channels-first (NCHW / NCL / (N, features)), batch dimension ``N``. Node names
come from the source; each node's ``doc_string`` carries its source line.
"""

from __future__ import annotations

import os
from typing import Any

from ...ir import Model
from ..params import Param
from .lower import ACTIVATIONS, ONNX, Ctx, Lowered, Op

__all__ = ["ACTIVATIONS", "DEFAULT_OPSET", "ONNX", "lower_all", "to_onnx", "weight_map"]

#: LayerNormalization needs 17; what every current runtime loads
DEFAULT_OPSET = 17
MIN_OPSET = 17


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


def _nchw(shape: tuple[int, ...]) -> list[int | str]:
    dims = (shape[-1], *shape[:-1]) if len(shape) > 1 else shape
    return ["N", *dims]


def _node_proto(helper: Any, o: Op, name: str, doc: str) -> Any:
    return helper.make_node(
        o.op, list(o.inputs), list(o.outputs), name=name, doc_string=doc, **dict(o.attrs)
    )


def to_onnx(model: Model, weights: Any, opset: int = DEFAULT_OPSET) -> Any:
    """The ``onnx.ModelProto`` of ``model`` with canonical ``weights`` as initializers."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from ...convert import export

    lowered = lower_all(model)
    where = {n.name: low.params for n, low in zip(model.nodes, lowered) if low.params}
    arrays = export(model, weights, where, order=True)
    inits = [numpy_helper.from_array(a, p.key) for p, a in arrays.items()]
    consts: dict[str, tuple[tuple[float, ...], str]] = {}
    nodes = []
    base = os.path.basename(model.filename)
    for node, low in zip(model.nodes, lowered):
        consts.update(low.consts)
        doc = f"{base}:{node.span.line}: {node.keyword}"
        for i, o in enumerate(low.ops):
            nodes.append(
                _node_proto(
                    helper, o, node.name if i == len(low.ops) - 1 else f"{node.name}/{i}", doc
                )
            )
    for name, (values, kind) in sorted(consts.items()):
        dtype = np.int64 if kind == "int64" else np.float32
        inits.append(numpy_helper.from_array(np.asarray(values, dtype), name))
    float32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        model.name,
        [helper.make_tensor_value_info(model.inputs[0], float32, _nchw(model.input_shape))],
        [helper.make_tensor_value_info(model.outputs[-1], float32, _nchw(model.output_shape))],
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
