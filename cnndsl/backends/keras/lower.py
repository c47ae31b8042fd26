"""``KERAS``: each layer kind's whole lowering to Keras 3 — the layer calls it emits and
where each canonical weight lands (layer name, position in ``get_weights()``).

Keras is channels-last like the language, so shapes and most weight layouts carry
over as they are. What needs care is spelled out: ``same`` is Keras' own
(TensorFlow's split), ``full`` and explicit padding become a ZeroPadding layer (for
convolution) or a small padded-pooling layer (max pads with -inf, average counts real
elements only); leaky_relu's slope, elu's alpha and gelu's form are written out, and
batchnorm's momentum is converted to Keras' convention (1 - ours); batchnorm is a small
subclass of Keras' layer that updates the moving variance with the unbiased batch
variance in training (the language's rule, PyTorch's). TensorFlow's depthwise kernel on
the CPU takes equal strides only: a depthwise (or separable) layer with unequal strides
becomes the grouped convolution it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ... import layers as L
from ...ir import Model, Node
from ...layers import PRELU_INIT, Windowed, auto_pads
from ..codegen import Call, Code, fresh
from ..params import SAME, Layout, Param
from ..table import Table
from .helpers import BATCH_NORM, GELU_TANH, PADDED_POOLING

#: activations Keras names with exactly the language's meaning and default parameters
_EXACT = {"relu", "relu6", "sigmoid", "tanh", "softmax", "silu", "gelu", "elu"}


@dataclass
class Lowered:
    """One node in Keras: the layers it becomes (applied in order) and the Keras home
    of each of its canonical weights."""

    calls: list[Call] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)


class Ctx:
    """Per-model state: helper code needed, and names for auxiliary layers."""

    def __init__(self, model: Model):
        self.model = model
        self.helpers: dict[str, str] = {}
        self.taken = {n.name for n in model.nodes}
        self.fixed: dict[str, object] = {}  # layer -> kernel literal (Keras' layout is ours)

    def aux(self, name: str, suffix: str) -> str:
        cand = fresh(f"{name}_{suffix}", self.taken)
        self.taken.add(cand)
        return cand


KERAS: Table[[Node, Ctx], Lowered] = Table("keras")


def params(node: Node, where: dict[str, tuple[str, int, Layout]]) -> list[Param]:
    """One Param per weight the node has: canonical name -> (layer, index, layout)."""
    return [Param(w.name, *where[w.name]) for w in node.weights]


def in_order(node: Node, layer: str) -> list[Param]:
    """Weights that are one layer's get_weights() in the canonical order and layout."""
    return [Param(w.name, layer, i, SAME) for i, w in enumerate(node.weights)]


def dim(rank: int) -> str:
    return f"{rank}D"


def pads_arg(pads: tuple[tuple[int, int], ...]) -> object:
    return pads[0] if len(pads) == 1 else pads


def _named(fn: str) -> ActivationCode:
    return lambda alpha, approx, name, ctx: Call.of("layers.Activation", fn, name=name)


def _elu(alpha: float | None, approx: bool | None, name: str, ctx: Ctx) -> Call:
    if alpha != 1.0:
        return Call.of("layers.ELU", alpha=alpha, name=name)
    return Call.of("layers.Activation", "elu", name=name)


def _gelu(alpha: float | None, approx: bool | None, name: str, ctx: Ctx) -> Call:
    if approx:
        ctx.helpers["gelu_tanh"] = GELU_TANH
        return Call.of("layers.Activation", Code("gelu_tanh"), name=name)
    return Call.of("layers.Activation", "gelu", name=name)


ActivationCode = Callable[["float | None", "bool | None", str, Ctx], Call]

#: Each activation of the language as a Keras layer, its parameters written out; a test
#: fails when a name of ``cnndsl.layers.ACTIVATIONS`` is missing.
ACTIVATIONS: dict[str, ActivationCode] = {
    **{fn: _named(fn) for fn in ("linear", "relu", "relu6", "silu", "sigmoid", "tanh")},
    "softmax": _named("softmax"),  # over the last (channel) axis, as the language's
    "leaky_relu": lambda alpha, approx, name, ctx: Call.of(
        "layers.LeakyReLU", negative_slope=alpha, name=name
    ),
    "elu": _elu,
    "gelu": _gelu,
}


def activation(fn: str, alpha: float | None, approximate: bool | None, name: str, ctx: Ctx) -> Call:
    return ACTIVATIONS[fn](alpha, approximate, name, ctx)


def inline_act(fn: str, node: Node, ctx: Ctx) -> tuple[dict[str, object], list[Call]]:
    """An inline activation as Keras' ``activation=`` when exact, else a layer after."""
    if fn == "linear":
        return {}, []
    if fn in _EXACT:
        return {"activation": fn}, []
    bound = L.Activation(fn=fn).bind(())
    return {}, [activation(fn, bound.alpha, bound.approximate, ctx.aux(node.name, "act"), ctx)]


def keras_mode(
    layer: Windowed,
    node: Node,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> str | None:
    """'valid' or 'same' when the layer's resolved pads are exactly what Keras would pad
    (an explicit `pad=1` on a 3x3 stride-1 conv is 'same'); None when Keras has no mode."""
    pads = layer.pads()
    if not any(a or b for a, b in pads):
        return "valid"
    if pads == auto_pads("same", node.input_shapes[0][:-1], kernel, stride, dilation):
        return "same"
    return None


def use_bias(kw: dict[str, object], bias: bool) -> dict[str, object]:
    return kw if bias else {**kw, "use_bias": False}


@KERAS.register(L.GlobalPool)
def _globalpool(layer: L.GlobalPool, node: Node, ctx: Ctx) -> Lowered:
    r = len(node.input_shapes[0]) - 1
    kind = "Max" if layer.op == "max" else "Average"
    return Lowered([Call.of(f"layers.Global{kind}Pooling{dim(r)}", name=node.name)])


@KERAS.register(L.Upsample)
def _upsample(layer: L.Upsample, node: Node, ctx: Ctx) -> Lowered:
    if len(layer.size) == 1:
        return Lowered([Call.of("layers.UpSampling1D", layer.size[0], name=node.name)])
    call = Call.of("layers.UpSampling2D", layer.size, interpolation=layer.mode, name=node.name)
    return Lowered([call])


@KERAS.register(L.Pool)
def _pool(layer: L.Pool, node: Node, ctx: Ctx) -> Lowered:
    assert layer.stride is not None  # bound
    r = len(layer.size)
    size = layer.size[0] if r == 1 else layer.size
    stride = layer.stride[0] if r == 1 else layer.stride
    mode = keras_mode(layer, node, layer.size, layer.stride, (1,) * r)
    if mode is not None:
        cls = f"layers.{'Max' if layer.op == 'max' else 'Average'}Pooling{dim(r)}"
        kw: dict[str, object] = {}
        if layer.stride != layer.size:
            kw["strides"] = stride
        if mode == "same":
            kw["padding"] = "same"
        return Lowered([Call.of(cls, size, **kw, name=node.name)])
    ctx.helpers["PaddedPooling"] = PADDED_POOLING
    call = Call.of(
        "PaddedPooling", layer.op, layer.size, layer.stride, layer.pads(), name=node.name
    )
    return Lowered([call])


@KERAS.register(L.Dense)
def _dense(layer: L.Dense, node: Node, ctx: Ctx) -> Lowered:
    act_kw, after = inline_act(layer.activation, node, ctx)
    kw = use_bias({}, layer.bias)
    call = Call.of("layers.Dense", layer.units, **kw, **act_kw, name=node.name)
    return Lowered([call, *after], in_order(node, node.name))


@KERAS.register(L.BatchNorm)
def _batchnorm(layer: L.BatchNorm, node: Node, ctx: Ctx) -> Lowered:
    # Keras' momentum weighs the old value: 1 - the language's (rounded: 1 - 0.1 is 0.9);
    # the helper subclass updates the moving variance with the unbiased batch variance
    ctx.helpers["BatchNorm"] = BATCH_NORM
    call = Call.of(
        "BatchNorm",
        epsilon=layer.eps,
        momentum=round(1.0 - layer.momentum, 12),
        name=node.name,
    )
    return Lowered([call], in_order(node, node.name))


@KERAS.register(L.LayerNorm)
def _layernorm(layer: L.LayerNorm, node: Node, ctx: Ctx) -> Lowered:
    call = Call.of("layers.LayerNormalization", epsilon=layer.eps, name=node.name)
    return Lowered([call], in_order(node, node.name))


@KERAS.register(L.ZeroPad)
def _zeropad(layer: L.ZeroPad, node: Node, ctx: Ctx) -> Lowered:
    pads = tuple(zip(layer.pad[0::2], layer.pad[1::2]))
    call = Call.of(f"layers.ZeroPadding{dim(len(pads))}", padding=pads_arg(pads), name=node.name)
    return Lowered([call])


@KERAS.register(L.Crop)
def _crop(layer: L.Crop, node: Node, ctx: Ctx) -> Lowered:
    crops = layer.crops()
    call = Call.of(f"layers.Cropping{dim(len(crops))}", cropping=pads_arg(crops), name=node.name)
    return Lowered([call])


@KERAS.register(L.PReLU)
def _prelu(layer: L.PReLU, node: Node, ctx: Ctx) -> Lowered:
    """One slope per channel: shared over the spatial axes, so Keras' alpha is (1, ..., C).
    Keras initialises alpha to 0; the language's (and PyTorch's) initial slope is spelled
    out so that the generated model's own initialisation matches ``init-weights``."""
    shape = node.input_shapes[0]
    spatial = list(range(1, len(shape)))
    kw: dict[str, object] = {"shared_axes": spatial} if spatial else {}
    init = Call.of("keras.initializers.Constant", PRELU_INIT)
    call = Call.of("layers.PReLU", alpha_initializer=init, **kw, name=node.name)
    alpha = Layout(shape=(*(1 for _ in spatial), shape[-1]))
    return Lowered([call], params(node, {"alpha": (node.name, 0, alpha)}))


@KERAS.register(L.Activation)
def _activation(layer: L.Activation, node: Node, ctx: Ctx) -> Lowered:
    if layer.fn == "linear":
        return Lowered([Call.of("layers.Identity", name=node.name)])
    return Lowered([activation(layer.fn, layer.alpha, layer.approximate, node.name, ctx)])


@KERAS.register(L.Input)
def _input(layer: L.Input, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([Call.of("keras.Input", shape=node.shape, name=node.name)])


@KERAS.register(L.Flatten)
def _flatten(layer: L.Flatten, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([Call.of("layers.Flatten", name=node.name)])


@KERAS.register(L.Dropout)
def _dropout(layer: L.Dropout, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([Call.of("layers.Dropout", layer.rate, name=node.name)])


@KERAS.register(L.Add)
def _add(layer: L.Add, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([Call.of("layers.Add", name=node.name)])


@KERAS.register(L.Concat)
def _concat(layer: L.Concat, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([Call.of("layers.Concatenate", name=node.name)])
