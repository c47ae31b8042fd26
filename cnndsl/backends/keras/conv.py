"""The convolution kinds in Keras: conv, depthwise, separable and transposed conv.

TensorFlow's depthwise kernel on the CPU takes equal strides only: a depthwise (or
separable) layer with unequal strides becomes the grouped convolution it is.
"""

from __future__ import annotations

from ...ir import Node
from ...layers import Conv, Deconv, Depthwise, Separable
from ..codegen import Call, nested
from ..params import SAME, Layout
from .lower import (
    KERAS,
    Ctx,
    Lowered,
    dim,
    in_order,
    inline_act,
    keras_mode,
    pads_arg,
    params,
    use_bias,
)


def _window_kw(
    layer: Conv | Depthwise | Separable, node: Node, ctx: Ctx
) -> tuple[list[Call], dict[str, object]]:
    """Keras pads 'same' itself; other padding is a ZeroPadding layer first."""
    r = len(layer.kernel)
    calls: list[Call] = []
    padding = keras_mode(layer, node, layer.kernel, layer.stride, layer.dilation)
    if padding is None:  # full or explicit: no Keras conv pads this way, so pad first
        padding = "valid"
        calls.append(
            Call.of(
                f"layers.ZeroPadding{dim(r)}",
                padding=pads_arg(layer.pads()),
                name=ctx.aux(node.name, "pad"),
            )
        )
    kw: dict[str, object] = {}
    if layer.stride != (1,) * r:
        kw["strides"] = layer.stride
    if padding != "valid":
        kw["padding"] = padding
    if layer.dilation != (1,) * r:
        kw["dilation_rate"] = layer.dilation
    return calls, kw


def _kernel(layer: Conv | Depthwise | Separable | Deconv) -> object:
    return layer.kernel[0] if len(layer.kernel) == 1 else layer.kernel


def _windowed(
    layer: Conv | Depthwise | Separable,
    node: Node,
    ctx: Ctx,
    cls: str,
    args: tuple[object, ...],
    extra: dict[str, object],
) -> list[Call]:
    """Padding first if Keras cannot express it, the layer, then an activation layer if
    Keras' own ``activation=`` would not mean the language's."""
    calls, kw = _window_kw(layer, node, ctx)
    act_kw, after = inline_act(layer.activation, node, ctx)
    main = Call.of(
        f"layers.{cls}{dim(len(layer.kernel))}",
        *args,
        _kernel(layer),
        **use_bias({**kw, **extra}, layer.bias),
        **act_kw,
        name=node.name,
    )
    return [*calls, main, *after]


def _multiplier(layer: Depthwise | Separable) -> dict[str, object]:
    return {"depth_multiplier": layer.multiplier} if layer.multiplier != 1 else {}


@KERAS.register(Conv)
def _conv(layer: Conv, node: Node, ctx: Ctx) -> Lowered:
    if layer.weights is not None:
        t = layer.weights
        ctx.fixed[node.name] = nested(t.values, t.shape, range(len(t.shape)))
    groups: dict[str, object] = {"groups": layer.groups} if layer.groups != 1 else {}
    calls = _windowed(layer, node, ctx, "Conv", (layer.filters,), groups)
    return Lowered(calls, in_order(node, node.name))


def _unequal_strides(layer: Depthwise | Separable) -> bool:
    return len(set(layer.stride)) > 1


@KERAS.register(Depthwise)
def _depthwise(layer: Depthwise, node: Node, ctx: Ctx) -> Lowered:
    """DepthwiseConv; its kernel is (k..., C, multiplier), ours (k..., 1, C * multiplier)."""
    if _unequal_strides(layer):
        return _conv(layer.as_conv(node.input_shapes[0][-1]), node, ctx)
    calls = _windowed(layer, node, ctx, "DepthwiseConv", (), _multiplier(layer))
    c = node.input_shapes[0][-1]
    kernel = Layout(shape=(*layer.kernel, c, layer.multiplier))
    where = {"kernel": (node.name, 0, kernel), "bias": (node.name, 1, SAME)}
    return Lowered(calls, params(node, where))


@KERAS.register(Separable)
def _separable(layer: Separable, node: Node, ctx: Ctx) -> Lowered:
    if _unequal_strides(layer):
        return _separable_grouped(layer, node, ctx)
    calls = _windowed(layer, node, ctx, "SeparableConv", (layer.filters,), _multiplier(layer))
    c = node.input_shapes[0][-1]
    depthwise = Layout(shape=(*layer.kernel, c, layer.multiplier))
    where = {"depthwise_kernel": (node.name, 0, depthwise)}
    where |= {"pointwise_kernel": (node.name, 1, SAME), "bias": (node.name, 2, SAME)}
    return Lowered(calls, params(node, where))


def _separable_grouped(layer: Separable, node: Node, ctx: Ctx) -> Lowered:
    """Unequal strides: the grouped conv it is (no bias), then the 1x1 conv."""
    dw_name = ctx.aux(node.name, "depthwise")
    depthwise = layer.depthwise(node.input_shapes[0][-1])
    calls, kw = _window_kw(depthwise, node, ctx)
    r = len(layer.kernel)
    grouped = Call.of(
        f"layers.Conv{dim(r)}",
        depthwise.filters,
        _kernel(layer),
        **kw,
        groups=depthwise.groups,
        use_bias=False,
        name=dw_name,
    )
    act_kw, after = inline_act(layer.activation, node, ctx)
    pointwise = Call.of(
        f"layers.Conv{dim(r)}", layer.filters, 1, **use_bias(act_kw, layer.bias), name=node.name
    )
    where = {"depthwise_kernel": (dw_name, 0, SAME), "pointwise_kernel": (node.name, 0, SAME)}
    where["bias"] = (node.name, 1, SAME)
    return Lowered([*calls, grouped, pointwise, *after], params(node, where))


@KERAS.register(Deconv)
def _deconv(layer: Deconv, node: Node, ctx: Ctx) -> Lowered:
    r = len(layer.kernel)
    kw: dict[str, object] = {}
    if layer.stride != (1,) * r:
        kw["strides"] = layer.stride[0] if r == 1 else layer.stride
    if layer.padding == "same":
        kw["padding"] = "same"
    act_kw, after = inline_act(layer.activation, node, ctx)
    call = Call.of(
        f"layers.Conv{dim(r)}Transpose",
        layer.filters,
        _kernel(layer),
        **use_bias(kw, layer.bias),
        **act_kw,
        name=node.name,
    )
    return Lowered([call, *after], in_order(node, node.name))
