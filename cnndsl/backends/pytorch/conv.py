"""The convolution kinds in PyTorch: conv, depthwise (the grouped conv it is), separable
(nn.Sequential of the two halves) and transposed conv (TensorFlow's output window)."""

from __future__ import annotations

from ... import layers as L
from ...ir import Node
from ..codegen import Call, Code, nested, py
from ..params import SAME, Param, channels_first_kernel
from .lower import PYTORCH, Ctx, Lowered, one, params, torch_pad


def _conv_weights(node: Node, attr: str) -> list[Param]:
    r = len(node.input_shapes[0]) - 1
    return params(
        node, attr, {"kernel": ("weight", channels_first_kernel(r)), "bias": ("bias", SAME)}
    )


def _lower_conv(layer: L.Conv, node: Node, ctx: Ctx) -> Lowered:
    cin = node.input_shapes[0][-1]
    module, x, comment = _conv_parts(layer, cin, ctx)
    if layer.weights is not None:  # canonical (k..., in, out) -> PyTorch (out, in, k...)
        t = layer.weights
        r = len(layer.kernel)
        ctx.fixed[ctx.module_path] = nested(t.values, t.shape, (r + 1, r, *range(r)))
    expr = Call.of(f"self.{node.name}", x)
    weights = _conv_weights(node, node.name)
    return Lowered([(node.name, module)], [(expr, comment)], weights, layer.activation)


@PYTORCH.register(L.Conv)
def _conv(layer: L.Conv, node: Node, ctx: Ctx) -> Lowered:
    return _lower_conv(layer, node, ctx)


@PYTORCH.register(L.Depthwise)
def _depthwise(layer: L.Depthwise, node: Node, ctx: Ctx) -> Lowered:
    """The grouped conv it is (groups = input channels)."""
    return _lower_conv(layer.as_conv(node.input_shapes[0][-1]), node, ctx)


@PYTORCH.register(L.Separable)
def _separable(layer: L.Separable, node: Node, ctx: Ctx) -> Lowered:
    """nn.Sequential(depthwise conv without bias, 1x1 conv): state_dict keys .0 and .1."""
    cin = node.input_shapes[0][-1]
    depthwise = layer.depthwise(cin)  # the bound layer's resolved kernel, stride and pads
    dw_module, x, comment = _conv_parts(depthwise, cin, ctx)
    r = len(layer.kernel)
    kw = {} if layer.bias else {"bias": False}
    pointwise = Call.of(f"nn.Conv{r}d", depthwise.filters, layer.filters, kernel_size=1, **kw)
    module = Call.of("nn.Sequential", dw_module, pointwise)
    expr = Call.of(f"self.{node.name}", x)
    k = channels_first_kernel(r)
    where = {"depthwise_kernel": ("0.weight", k), "pointwise_kernel": ("1.weight", k)}
    where["bias"] = ("1.bias", SAME)
    weights = params(node, node.name, where)
    return Lowered([(node.name, module)], [(expr, comment)], weights, layer.activation)


@PYTORCH.register(L.Deconv)
def _deconv(layer: L.Deconv, node: Node, ctx: Ctx) -> Lowered:
    """ConvTranspose with padding = where TensorFlow's output starts in the full scatter,
    output_padding for the zero rows it adds at the end, a slice for a row it drops."""
    shape = node.input_shapes[0]
    r = len(layer.kernel)
    starts, cut, extra = [], [], []
    for n, k, s_, (start, length) in zip(
        shape[:-1], layer.kernel, layer.stride, layer.crops((shape,))
    ):
        op = length - ((n - 1) * s_ + k) + 2 * start
        starts.append(start)
        extra.append(max(op, 0))
        cut.append(-op if op < 0 else 0)
    kw: dict[str, object] = {"kernel_size": one(layer.kernel)}
    if layer.stride != (1,) * r:
        kw["stride"] = one(layer.stride)
    if any(starts):
        kw["padding"] = one(tuple(starts))
    if any(extra):
        kw["output_padding"] = one(tuple(extra))
    if not layer.bias:
        kw["bias"] = False
    module = Call.of(f"nn.ConvTranspose{r}d", shape[-1], layer.filters, **kw)
    x: object = Call.of(f"self.{node.name}", ctx.x)
    comment = None
    if any(cut):
        index = ", ".join([":", ":", *(f":-{c}" if c else ":" for c in cut)])
        x = Code(f"{py(x)}[{index}]")
        comment = "'same' as TensorFlow crops it: the extra row/column off the bottom/right"
    # canonical (k..., out, in) -> ConvTranspose's (in, out, k...)
    weights = _conv_weights(node, node.name)
    return Lowered([(node.name, module)], [(x, comment)], weights, layer.activation)


# complex: one optional keyword per option of nn.ConvNd that differs from its default
def _conv_parts(layer: L.Conv, cin: int, ctx: Ctx) -> tuple[Call, object, str | None]:
    """The nn.ConvNd call, the (maybe padded) input expression and a comment."""
    r = len(layer.kernel)
    pads = layer.pads()
    kw: dict[str, object] = {"kernel_size": one(layer.kernel)}
    if layer.stride != (1,) * r:
        kw["stride"] = one(layer.stride)
    x: object = ctx.x
    comment = None
    if all(a == b for a, b in pads):
        if any(a for a, _ in pads):
            kw["padding"] = one(tuple(a for a, _ in pads))
    else:
        x = ctx.F("pad", ctx.x, torch_pad(pads))
        if layer.padding == "same":
            comment = "'same' as TensorFlow pads it: the extra row/column at the bottom/right"
    if layer.dilation != (1,) * r:
        kw["dilation"] = one(layer.dilation)
    if layer.groups != 1:
        kw["groups"] = layer.groups
    if not layer.bias:
        kw["bias"] = False
    return Call.of(f"nn.Conv{r}d", cin, layer.filters, **kw), x, comment
