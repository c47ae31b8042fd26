"""Keras 3 code generation: ``KERAS`` maps each layer class to the layer calls it lowers to.

Keras is channels-last like the language, so shapes and weight layouts carry over
as they are. What needs care is spelled out: ``same`` is Keras' own (TensorFlow's
split), ``full`` and explicit padding become a ZeroPadding layer (for convolution)
or a small padded-pooling layer (max pads with -inf, average counts real elements
only); leaky_relu's slope, elu's alpha and gelu's form are written out, and
batchnorm's momentum is converted to Keras' convention (1 - ours).
"""

from __future__ import annotations

from collections.abc import Callable

from ..ir import Model, Node
from ..layers import (
    Activation,
    Add,
    BatchNorm,
    Concat,
    Conv,
    Deconv,
    Dense,
    Depthwise,
    Dropout,
    Flatten,
    GlobalPool,
    Input,
    Layer,
    LayerNorm,
    Pool,
    Separable,
    Upsample,
    ZeroPad,
    auto_pads,
)
from .codegen import (
    Call,
    Code,
    check_identifier,
    check_variables,
    header,
    is_linear,
    layout,
    layout_literal,
    nested,
    render,
    variables,
)

#: activations Keras names with exactly the language's meaning and default parameters
_EXACT = {"relu", "relu6", "sigmoid", "tanh", "softmax", "silu", "gelu", "elu"}

GELU_TANH = '''\
def gelu_tanh(x):
    """gelu, tanh approximation (the language's `gelu approximate=true`)."""
    return keras.activations.gelu(x, approximate=True)'''

PADDED_POOLING = '''\
class PaddedPooling(layers.Layer):
    """Pooling over explicit padding: max pads with -inf, avg counts real elements only."""

    def __init__(self, op, pool_size, strides, padding, **kwargs):
        super().__init__(**kwargs)
        self.op = op
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides)
        self.padding = tuple(tuple(p) for p in padding)

    def call(self, x):
        pads = [(0, 0), *self.padding, (0, 0)]
        if self.op == "max":
            x = keras.ops.pad(x, pads, constant_values=float("-inf"))
            return keras.ops.max_pool(x, self.pool_size, self.strides, padding="valid")
        total = keras.ops.pad(x, pads)
        count = keras.ops.pad(keras.ops.ones_like(x[..., :1]), pads)
        total = keras.ops.average_pool(
            total, self.pool_size, self.strides, padding="valid"
        )
        count = keras.ops.average_pool(
            count, self.pool_size, self.strides, padding="valid"
        )
        return total / count

    def get_config(self):
        return {
            **super().get_config(),
            "op": self.op,
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }'''


class _Ctx:
    """Per-model state: helper code needed, and names for auxiliary layers."""

    def __init__(self, model: Model):
        self.model = model
        self.helpers: dict[str, str] = {}
        self.taken = {n.name for n in model.nodes}
        self.fixed: dict[str, object] = {}  # layer -> kernel literal (Keras' layout is ours)

    def aux(self, name: str, suffix: str) -> str:
        cand, i = f"{name}_{suffix}", 1
        while cand in self.taken:
            i += 1
            cand = f"{name}_{suffix}{i}"
        self.taken.add(cand)
        return cand

    def input_shape(self, node: Node) -> tuple[int, ...]:
        return self.model.node(node.inputs[0]).shape


Lowering = Callable[[Node, _Ctx], list[Call]]


def _dim(rank: int) -> str:
    return f"{rank}D"


def _pads_arg(pads: tuple[tuple[int, int], ...]) -> object:
    return pads[0] if len(pads) == 1 else pads


def _activation(
    fn: str, alpha: float | None, approximate: bool | None, name: str, ctx: _Ctx
) -> Call:
    if fn == "leaky_relu":
        return Call.of("layers.LeakyReLU", negative_slope=alpha, name=name)
    if fn == "elu" and alpha != 1.0:
        return Call.of("layers.ELU", alpha=alpha, name=name)
    if fn == "gelu" and approximate:
        ctx.helpers["gelu_tanh"] = GELU_TANH
        return Call.of("layers.Activation", Code("gelu_tanh"), name=name)
    return Call.of("layers.Activation", fn, name=name)


def _inline_act(fn: str, node: Node, ctx: _Ctx) -> tuple[dict[str, object], list[Call]]:
    """An inline activation as Keras' ``activation=`` when exact, else a layer after."""
    if fn == "linear":
        return {}, []
    if fn in _EXACT:
        return {"activation": fn}, []
    bound = Activation(fn=fn).bind(())
    return {}, [_activation(fn, bound.alpha, bound.approximate, ctx.aux(node.name, "act"), ctx)]


def _conv(node: Node, ctx: _Ctx) -> list[Call]:
    """Conv and depthwise conv: Keras pads 'same' itself; other padding comes first."""
    layer = node.layer
    assert isinstance(layer, (Conv, Depthwise, Separable))
    r = len(layer.kernel)
    calls: list[Call] = []
    pads = layer.pads()
    padding_mode = _keras_mode(node, ctx, layer.kernel, layer.stride, layer.dilation)
    if padding_mode is not None:
        padding = padding_mode
    else:  # full or explicit: no Keras conv pads this way, so pad first
        padding = "valid"
        if any(a or b for a, b in pads):
            calls.append(
                Call.of(
                    f"layers.ZeroPadding{_dim(r)}",
                    padding=_pads_arg(pads),
                    name=ctx.aux(node.name, "pad"),
                )
            )
    kw: dict[str, object] = {}
    if layer.stride != (1,) * r:
        kw["strides"] = layer.stride
    if padding != "valid":
        kw["padding"] = padding
    if isinstance(layer, (Depthwise, Separable)) and layer.multiplier != 1:
        kw["depth_multiplier"] = layer.multiplier
    if layer.dilation != (1,) * r:
        kw["dilation_rate"] = layer.dilation
    if isinstance(layer, Conv) and layer.groups != 1:
        kw["groups"] = layer.groups
    if not layer.bias:
        kw["use_bias"] = False
    act_kw, after = _inline_act(layer.activation, node, ctx)
    kernel = layer.kernel[0] if r == 1 else layer.kernel
    if isinstance(layer, Depthwise):
        calls.append(
            Call.of(f"layers.DepthwiseConv{_dim(r)}", kernel, **kw, **act_kw, name=node.name)
        )
        return calls + after
    if isinstance(layer, Separable):
        calls.append(
            Call.of(
                f"layers.SeparableConv{_dim(r)}",
                layer.filters,
                kernel,
                **kw,
                **act_kw,
                name=node.name,
            )
        )
        return calls + after
    if layer.weights is not None:
        t = layer.weights
        ctx.fixed[node.name] = nested(t.values, t.shape, range(len(t.shape)))
    calls.append(
        Call.of(f"layers.Conv{_dim(r)}", layer.filters, kernel, **kw, **act_kw, name=node.name)
    )
    return calls + after


def _deconv(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, Deconv)
    r = len(layer.kernel)
    kw: dict[str, object] = {}
    if layer.stride != (1,) * r:
        kw["strides"] = layer.stride[0] if r == 1 else layer.stride
    if layer.padding == "same":
        kw["padding"] = "same"
    if not layer.bias:
        kw["use_bias"] = False
    act_kw, after = _inline_act(layer.activation, node, ctx)
    kernel = layer.kernel[0] if r == 1 else layer.kernel
    return [
        Call.of(
            f"layers.Conv{_dim(r)}Transpose", layer.filters, kernel, **kw, **act_kw, name=node.name
        ),
        *after,
    ]


def _globalpool(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, GlobalPool)
    r = len(ctx.input_shape(node)) - 1
    kind = "Max" if layer.op == "max" else "Average"
    return [Call.of(f"layers.Global{kind}Pooling{_dim(r)}", name=node.name)]


def _upsample(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, Upsample)
    if len(layer.size) == 1:
        return [Call.of("layers.UpSampling1D", layer.size[0], name=node.name)]
    return [Call.of("layers.UpSampling2D", layer.size, interpolation=layer.mode, name=node.name)]


def _keras_mode(
    node: Node,
    ctx: _Ctx,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> str | None:
    """'valid' or 'same' when the layer's resolved pads are exactly what Keras would pad
    (an explicit `pad=1` on a 3x3 stride-1 conv is 'same'); None when Keras has no mode."""
    pads = node.layer.pads()  # type: ignore[attr-defined]
    if not any(a or b for a, b in pads):
        return "valid"
    sizes = ctx.input_shape(node)[:-1]
    if pads == auto_pads("same", sizes, kernel, stride, dilation):
        return "same"
    return None


def _pool(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, Pool) and layer.stride is not None
    r = len(layer.size)
    size = layer.size[0] if r == 1 else layer.size
    stride = layer.stride[0] if r == 1 else layer.stride
    mode = _keras_mode(node, ctx, layer.size, layer.stride, (1,) * r)
    if mode is not None:
        cls = f"layers.{'Max' if layer.op == 'max' else 'Average'}Pooling{_dim(r)}"
        kw: dict[str, object] = {}
        if layer.stride != layer.size:
            kw["strides"] = stride
        if mode == "same":
            kw["padding"] = "same"
        return [Call.of(cls, size, **kw, name=node.name)]
    ctx.helpers["PaddedPooling"] = PADDED_POOLING
    return [
        Call.of("PaddedPooling", layer.op, layer.size, layer.stride, layer.pads(), name=node.name)
    ]


def _dense(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, Dense)
    kw: dict[str, object] = {}
    if not layer.bias:
        kw["use_bias"] = False
    act_kw, after = _inline_act(layer.activation, node, ctx)
    return [Call.of("layers.Dense", layer.units, **kw, **act_kw, name=node.name), *after]


def _batchnorm(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, BatchNorm)
    # Keras' momentum weighs the old value: 1 - the language's (rounded: 1 - 0.1 is 0.9)
    return [
        Call.of(
            "layers.BatchNormalization",
            epsilon=layer.eps,
            momentum=round(1.0 - layer.momentum, 12),
            name=node.name,
        )
    ]


def _zeropad(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, ZeroPad)
    pads = tuple(zip(layer.pad[0::2], layer.pad[1::2]))
    return [
        Call.of(f"layers.ZeroPadding{_dim(len(pads))}", padding=_pads_arg(pads), name=node.name)
    ]


def _act_layer(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, Activation)
    if layer.fn == "linear":
        return [Call.of("layers.Identity", name=node.name)]
    return [_activation(layer.fn, layer.alpha, layer.approximate, node.name, ctx)]


def _dropout(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, Dropout)
    return [Call.of("layers.Dropout", layer.rate, name=node.name)]


def _layernorm(node: Node, ctx: _Ctx) -> list[Call]:
    layer = node.layer
    assert isinstance(layer, LayerNorm)
    return [Call.of("layers.LayerNormalization", epsilon=layer.eps, name=node.name)]


KERAS: dict[type[Layer], Lowering] = {
    Input: lambda node, ctx: [Call.of("keras.Input", shape=node.shape, name=node.name)],
    Conv: _conv,
    Pool: _pool,
    Flatten: lambda node, ctx: [Call.of("layers.Flatten", name=node.name)],
    Dense: _dense,
    Dropout: _dropout,
    BatchNorm: _batchnorm,
    ZeroPad: _zeropad,
    Activation: _act_layer,
    Depthwise: _conv,
    Separable: _conv,
    Deconv: _deconv,
    GlobalPool: _globalpool,
    Upsample: _upsample,
    Add: lambda node, ctx: [Call.of("layers.Add", name=node.name)],
    LayerNorm: _layernorm,
    Concat: lambda node, ctx: [Call.of("layers.Concatenate", name=node.name)],
}


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
    }
)


def emit(model: Model) -> str:
    """The Keras 3 source of ``model``: ``build_model()`` returning a keras.Sequential for a
    chain of layers, a functional keras.Model for a graph."""
    check_identifier(model.name)
    ctx = _Ctx(model)
    lines: list[str] = []
    sequential = is_linear(model)
    if sequential:
        for node in model.nodes:
            for call in KERAS[type(node.layer)](node, ctx):
                lines += layout(call, 12, suffix=",")
    else:
        var = variables(model, "inputs")
        check_variables(model, var, FILE_NAMES, "Keras")
        for node in model.nodes:
            calls = KERAS[type(node.layer)](node, ctx)
            if not node.inputs:
                lines += layout(calls[0], 4, prefix="inputs = ")
                continue
            ins = [var[i] for i in node.inputs]
            arg = ins[0] if len(ins) == 1 else f"[{', '.join(ins)}]"
            for call in calls:
                lines += layout(call, 4, prefix=f"{var[node.name]} = ", applied_to=arg)
                arg = var[node.name]
    return render(
        "keras.py.j2",
        header=header(model, "Keras 3"),
        name=model.name,
        sequential=sequential,
        output_var=None if sequential else variables(model, "inputs")[model.outputs[-1].name],
        helpers=[ctx.helpers[k] for k in sorted(ctx.helpers)],
        lines=lines,
        fixed=list(ctx.fixed),
        fixed_lines=layout_literal(ctx.fixed, 0, "FIXED_WEIGHTS = ") if ctx.fixed else [],
        input_shape="x".join(map(str, model.input_shape)),
        output_shape="x".join(map(str, model.output_shape)),
    )
