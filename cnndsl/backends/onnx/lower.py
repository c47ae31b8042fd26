"""``ONNX``: each layer kind's lowering to ONNX operators, as data (no ``onnx`` import).

The graph is channels-first (NCHW / NCL), as ONNX Runtime and every ONNX tool expect.
What the language means is written out: every pad explicit (``pads=[begins..., ends...]``,
never ``auto_pad``), ``count_include_pad=0`` for average pooling, batchnorm's momentum in
ONNX's convention (the weight of the old value), gelu and silu composed from opset-17
operators. Flattens follow the flatten plan (``cnndsl.backends.order``), exactly as in
PyTorch: one mechanism for both channels-first targets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ... import layers as L
from ...ir import Model, Node
from ..order import plan
from ..params import SAME, Layout, Param, channels_first_kernel
from ..table import Table


@dataclass(frozen=True)
class Op:
    """One ONNX node: operator, input and output value names, attributes."""

    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: tuple[tuple[str, object], ...] = ()


@dataclass
class Lowered:
    ops: list[Op] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    #: constants the ops read (pads, slice bounds, scales): name -> (values, "int64"|"float")
    consts: dict[str, tuple[tuple[float, ...], str]] = field(default_factory=dict)


class Ctx:
    def __init__(self, model: Model):
        self.model = model
        self.plan = plan(model)
        self.ins: list[str] = []

    @property
    def x(self) -> str:
        return self.ins[0]


ONNX: Table[[Node, Ctx], Lowered] = Table("onnx")


def op(kind: str, inputs: list[str], output: str, **attrs: object) -> Op:
    return Op(kind, tuple(inputs), (output,), tuple(sorted(attrs.items())))


def params(node: Node, where: dict[str, Layout]) -> list[Param]:
    """Initializers named ``<node>.<weight>``, one per declared weight."""
    return [Param(w.name, f"{node.name}.{w.name}", 0, where[w.name]) for w in node.weights]


# ---------------------------------------------------------------- activations


def _gelu(x: str, out: str, approx: bool | None, low: Lowered) -> list[Op]:
    """0.5 x (1 + erf(x / sqrt 2)), or the tanh form: Gelu is an operator from opset 20."""
    low.consts["half"] = ((0.5,), "float")
    low.consts["one"] = ((1.0,), "float")
    if approx:
        low.consts["gelu_c"] = ((math.sqrt(2 / math.pi),), "float")
        low.consts["gelu_k"] = ((0.044715,), "float")
        inner = [
            op("Mul", [x, x], f"{out}/x2"),
            op("Mul", [f"{out}/x2", x], f"{out}/x3"),
            op("Mul", [f"{out}/x3", "gelu_k"], f"{out}/kx3"),
            op("Add", [x, f"{out}/kx3"], f"{out}/s"),
            op("Mul", [f"{out}/s", "gelu_c"], f"{out}/cs"),
            op("Tanh", [f"{out}/cs"], f"{out}/t"),
        ]
    else:
        low.consts["inv_sqrt2"] = ((1 / math.sqrt(2),), "float")
        inner = [op("Mul", [x, "inv_sqrt2"], f"{out}/s"), op("Erf", [f"{out}/s"], f"{out}/t")]
    return [
        *inner,
        op("Add", [f"{out}/t", "one"], f"{out}/u"),
        op("Mul", [x, f"{out}/u"], f"{out}/xu"),
        op("Mul", [f"{out}/xu", "half"], out),
    ]


def _relu6(x: str, out: str, alpha: float | None, approx: bool | None, low: Lowered) -> list[Op]:
    low.consts["zero"] = ((0.0,), "float")
    low.consts["six"] = ((6.0,), "float")
    return [Op("Clip", (x, "zero", "six"), (out,))]


def _one_op(kind: str, **attrs: object) -> ActivationOps:
    return lambda x, out, alpha, approx, low: [op(kind, [x], out, **attrs)]


ActivationOps = Callable[[str, str, "float | None", "bool | None", Lowered], list[Op]]

#: Each activation of the language as ONNX ops ending in ``out``; a test fails when a name
#: of ``cnndsl.layers.ACTIVATIONS`` is missing. Softmax is over the channels (axis 1).
ACTIVATIONS: dict[str, ActivationOps] = {
    "linear": _one_op("Identity"),
    "relu": _one_op("Relu"),
    "sigmoid": _one_op("Sigmoid"),
    "tanh": _one_op("Tanh"),
    "softmax": _one_op("Softmax", axis=1),
    "relu6": _relu6,
    "leaky_relu": lambda x, out, alpha, approx, low: [
        op("LeakyRelu", [x], out, alpha=float(alpha or 0.0))
    ],
    "elu": lambda x, out, alpha, approx, low: [op("Elu", [x], out, alpha=float(alpha or 0.0))],
    "silu": lambda x, out, alpha, approx, low: [
        op("Sigmoid", [x], f"{out}/sig"),
        op("Mul", [x, f"{out}/sig"], out),
    ],
    "gelu": lambda x, out, alpha, approx, low: _gelu(x, out, approx, low),
}


def activation(
    fn: str, alpha: float | None, approx: bool | None, x: str, out: str, low: Lowered
) -> list[Op]:
    """The ops that apply ``fn`` to ``x``, ending in ``out``."""
    return ACTIVATIONS[fn](x, out, alpha, approx, low)


def inline_act(fn: str, pre: str, node: Node, low: Lowered) -> None:
    """The layer's own activation after its last op; none for ``linear`` (the last op then
    writes the node's output itself, so the source's name stays on the real op)."""
    if fn == "linear":
        last = low.ops[-1]
        low.ops[-1] = Op(last.op, last.inputs, (node.name,), last.attrs)
        return
    bound = L.Activation(fn=fn).bind(())
    low.ops += activation(fn, bound.alpha, bound.approximate, pre, node.name, low)


def onnx_pads(pads: tuple[tuple[int, int], ...]) -> list[int]:
    """[x1_begin, x2_begin, ..., x1_end, x2_end]."""
    return [a for a, _ in pads] + [b for _, b in pads]


# ---------------------------------------------------------------- kinds


@ONNX.register(L.Input)
def _input(layer: L.Input, node: Node, ctx: Ctx) -> Lowered:
    return Lowered()


def _conv_op(layer: L.Conv, x: str, w: str, b: str | None, out: str) -> Op:
    ins = [x, w] if b is None else [x, w, b]
    return op(
        "Conv",
        ins,
        out,
        kernel_shape=list(layer.kernel),
        strides=list(layer.stride),
        dilations=list(layer.dilation),
        pads=onnx_pads(layer.pads()),
        group=layer.groups,
    )


def _lower_conv(layer: L.Conv, node: Node, ctx: Ctx) -> Lowered:
    low = Lowered()
    bias = f"{node.name}.bias" if layer.bias else None
    low.ops.append(_conv_op(layer, ctx.x, f"{node.name}.kernel", bias, f"{node.name}/pre"))
    inline_act(layer.activation, f"{node.name}/pre", node, low)
    r = len(layer.kernel)
    low.params = params(node, {"kernel": channels_first_kernel(r), "bias": SAME})
    return low


@ONNX.register(L.Conv)
def _conv(layer: L.Conv, node: Node, ctx: Ctx) -> Lowered:
    return _lower_conv(layer, node, ctx)


@ONNX.register(L.Depthwise)
def _depthwise(layer: L.Depthwise, node: Node, ctx: Ctx) -> Lowered:
    return _lower_conv(layer.as_conv(node.input_shapes[0][-1]), node, ctx)


@ONNX.register(L.Separable)
def _separable(layer: L.Separable, node: Node, ctx: Ctx) -> Lowered:
    low = Lowered()
    dw = layer.depthwise(node.input_shapes[0][-1])
    name = node.name
    low.ops.append(_conv_op(dw, ctx.x, f"{name}.depthwise_kernel", None, f"{name}/dw"))
    r = len(layer.kernel)
    ones = (1,) * r
    pointwise = L.Conv(
        filters=layer.filters, kernel=ones, stride=ones, dilation=ones, pad=(0,) * 2 * r
    )
    bias = f"{name}.bias" if layer.bias else None
    low.ops.append(
        _conv_op(pointwise, f"{name}/dw", f"{name}.pointwise_kernel", bias, f"{name}/pre")
    )
    inline_act(layer.activation, f"{name}/pre", node, low)
    k = channels_first_kernel(r)
    low.params = params(node, {"depthwise_kernel": k, "pointwise_kernel": k, "bias": SAME})
    return low


@ONNX.register(L.Deconv)
def _deconv(layer: L.Deconv, node: Node, ctx: Ctx) -> Lowered:
    """ConvTranspose: pads cut TensorFlow's window out of the full scatter; output_padding
    adds the zero rows it has beyond the scatter (a kernel shorter than the stride)."""
    shape = node.input_shapes[0]
    begin, end, extra = [], [], []
    for n, k, s, (start, length) in zip(
        shape[:-1], layer.kernel, layer.stride, layer.crops((shape,))
    ):
        full = (n - 1) * s + k
        begin.append(start)
        end.append(max(full - start - length, 0))
        extra.append(max(length - (full - start), 0))
    low = Lowered()
    ins = [ctx.x, f"{node.name}.kernel"] + ([f"{node.name}.bias"] if layer.bias else [])
    attrs: dict[str, object] = {"kernel_shape": list(layer.kernel), "strides": list(layer.stride)}
    attrs["pads"] = begin + end
    if any(extra):
        attrs["output_padding"] = extra
    low.ops.append(op("ConvTranspose", ins, f"{node.name}/pre", **attrs))
    inline_act(layer.activation, f"{node.name}/pre", node, low)
    low.params = params(node, {"kernel": channels_first_kernel(len(layer.kernel)), "bias": SAME})
    return low


@ONNX.register(L.Pool)
def _pool(layer: L.Pool, node: Node, ctx: Ctx) -> Lowered:
    """MaxPool ignores its padding (as -inf); AveragePool counts real elements only."""
    assert layer.stride is not None  # bound
    attrs: dict[str, object] = {
        "kernel_shape": list(layer.size),
        "strides": list(layer.stride),
        "pads": onnx_pads(layer.pads()),
    }
    if layer.op == "avg":
        attrs["count_include_pad"] = 0
    kind = "MaxPool" if layer.op == "max" else "AveragePool"
    return Lowered([op(kind, [ctx.x], node.name, **attrs)])


@ONNX.register(L.GlobalPool)
def _globalpool(layer: L.GlobalPool, node: Node, ctx: Ctx) -> Lowered:
    kind = "GlobalMaxPool" if layer.op == "max" else "GlobalAveragePool"
    pooled = f"{node.name}/pooled"
    return Lowered([op(kind, [ctx.x], pooled), op("Flatten", [pooled], node.name, axis=1)])


def _to_last(rank: int) -> list[int]:
    """NCHW -> NHWC (or NCL -> NLC)."""
    return [0, *range(2, rank + 1), 1]


@ONNX.register(L.Flatten)
def _flatten(layer: L.Flatten, node: Node, ctx: Ctx) -> Lowered:
    shape = node.input_shapes[0]
    if node.name not in ctx.plan.canonical or len(shape) == 1:
        return Lowered([op("Flatten", [ctx.x], node.name, axis=1)])
    last = f"{node.name}/channels_last"
    return Lowered(
        [
            op("Transpose", [ctx.x], last, perm=_to_last(len(shape))),
            op("Flatten", [last], node.name, axis=1),
        ]
    )


@ONNX.register(L.Dense)
def _dense(layer: L.Dense, node: Node, ctx: Ctx) -> Lowered:
    low = Lowered()
    ins = [ctx.x, f"{node.name}.kernel"] + ([f"{node.name}.bias"] if layer.bias else [])
    low.ops.append(op("Gemm", ins, f"{node.name}/pre", transB=1))
    inline_act(layer.activation, f"{node.name}/pre", node, low)
    low.params = params(node, {"kernel": channels_first_kernel(0), "bias": SAME})
    return low


@ONNX.register(L.Dropout)
def _dropout(layer: L.Dropout, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([op("Identity", [ctx.x], node.name)])  # inference


@ONNX.register(L.BatchNorm)
def _batchnorm(layer: L.BatchNorm, node: Node, ctx: Ctx) -> Lowered:
    names = ("gamma", "beta", "moving_mean", "moving_variance")
    ins = [ctx.x, *(f"{node.name}.{n}" for n in names)]
    momentum = round(1.0 - layer.momentum, 12)  # ONNX weighs the old value
    bn = op("BatchNormalization", ins, node.name, epsilon=layer.eps, momentum=momentum)
    return Lowered([bn], params(node, dict.fromkeys(names, SAME)))


@ONNX.register(L.LayerNorm)
def _layernorm(layer: L.LayerNorm, node: Node, ctx: Ctx) -> Lowered:
    """LayerNormalization over the last axis: channels moved last and back."""
    rank = len(node.input_shapes[0])
    weights = params(node, {"gamma": SAME, "beta": SAME})
    ins = [f"{node.name}.gamma", f"{node.name}.beta"]
    if rank == 1:
        return Lowered(
            [op("LayerNormalization", [ctx.x, *ins], node.name, axis=-1, epsilon=layer.eps)],
            weights,
        )
    to_last = _to_last(rank)
    back = [to_last.index(i) for i in range(rank + 1)]
    n = node.name
    return Lowered(
        [
            op("Transpose", [ctx.x], f"{n}/last", perm=to_last),
            op("LayerNormalization", [f"{n}/last", *ins], f"{n}/norm", axis=-1, epsilon=layer.eps),
            op("Transpose", [f"{n}/norm"], n, perm=back),
        ],
        weights,
    )


@ONNX.register(L.ZeroPad)
def _zeropad(layer: L.ZeroPad, node: Node, ctx: Ctx) -> Lowered:
    pads = tuple(zip(layer.pad[0::2], layer.pad[1::2]))
    full = [0, 0, *(a for a, _ in pads), 0, 0, *(b for _, b in pads)]
    low = Lowered([op("Pad", [ctx.x, f"{node.name}/pads"], node.name, mode="constant")])
    low.consts[f"{node.name}/pads"] = (tuple(float(p) for p in full), "int64")
    return low


@ONNX.register(L.Crop)
def _crop(layer: L.Crop, node: Node, ctx: Ctx) -> Lowered:
    shape = node.input_shapes[0]
    crops = layer.crops()
    starts = [a for a, _ in crops]
    ends = [n - b for n, (_, b) in zip(shape[:-1], crops)]
    axes = list(range(2, len(shape) + 1))
    n = node.name
    low = Lowered([op("Slice", [ctx.x, f"{n}/starts", f"{n}/ends", f"{n}/axes"], n)])
    for key, values in (("starts", starts), ("ends", ends), ("axes", axes)):
        low.consts[f"{n}/{key}"] = (tuple(float(v) for v in values), "int64")
    return low


@ONNX.register(L.Upsample)
def _upsample(layer: L.Upsample, node: Node, ctx: Ctx) -> Lowered:
    """Resize: nearest repeats (asymmetric, floor); bilinear uses half-pixel centres."""
    n = node.name
    scales = (1.0, 1.0, *(float(f) for f in layer.size))
    if layer.mode == "nearest":
        attrs: dict[str, object] = {
            "mode": "nearest",
            "coordinate_transformation_mode": "asymmetric",
            "nearest_mode": "floor",
        }
    else:
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    low = Lowered([op("Resize", [ctx.x, "", f"{n}/scales"], n, **attrs)])
    low.consts[f"{n}/scales"] = (scales, "float")
    return low


@ONNX.register(L.Add)
def _add(layer: L.Add, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([Op("Sum", tuple(ctx.ins), (node.name,))])


@ONNX.register(L.Concat)
def _concat(layer: L.Concat, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([op("Concat", list(ctx.ins), node.name, axis=1)])


@ONNX.register(L.Activation)
def _activation(layer: L.Activation, node: Node, ctx: Ctx) -> Lowered:
    low = Lowered()
    low.ops += activation(layer.fn, layer.alpha, layer.approximate, ctx.x, node.name, low)
    return low


@ONNX.register(L.PReLU)
def _prelu(layer: L.PReLU, node: Node, ctx: Ctx) -> Lowered:
    """PRelu's slope broadcasts from the right: (C, 1, 1) on NCHW, (C,) on (N, C)."""
    shape = node.input_shapes[0]
    slope = Layout(shape=(shape[-1], *(1 for _ in shape[:-1])))
    ins = [ctx.x, f"{node.name}.alpha"]
    return Lowered([op("PRelu", ins, node.name)], params(node, {"alpha": slope}))
