"""PyTorch code generation: ``PYTORCH`` maps each layer class to its modules and forward steps.

The generated module is channels-first (NCHW), as PyTorch code is written. What
the language means is kept exactly: symmetric padding uses the layers' own
``padding=``; TensorFlow's asymmetric ``same`` split becomes an explicit
``F.pad`` (extra row/column at the bottom/right); max pooling pads with -inf and
average pooling leaves padding out of the count; activations are functional
calls with their parameters spelled out. ``torch.flatten`` flattens in NCHW order:
the weight converter, not the generated code, reorders the rows of the dense
layer that follows, so the module reads as a person would write it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
)
from .codegen import (
    Call,
    Code,
    check_variables,
    class_name,
    header,
    layout,
    layout_literal,
    nested,
    py,
    refuse_names,
    render,
    variables,
)

X = Code("x")

#: attribute names of torch.nn.Module (2.x); a layer may not be named like one of them
MODULE_ATTRIBUTES = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)
#: names the generated file itself defines or imports
FILE_NAMES = frozenset({"torch", "nn", "F", "avg_pool_real_count", "FIXED_WEIGHTS"})

AVG_POOL_REAL_COUNT = '''\
def avg_pool_real_count(pool: nn.Module, x: torch.Tensor, pad: tuple) -> torch.Tensor:
    """Average pooling over zero padding, dividing by the real elements only."""
    ones = torch.ones_like(x[:, :1])
    return pool(F.pad(x, pad)) / pool(F.pad(ones, pad))'''


@dataclass
class Lowered:
    """One node in PyTorch: modules for ``__init__``, steps for ``forward``."""

    modules: list[tuple[str, Call]] = field(default_factory=list)
    steps: list[tuple[object, str | None]] = field(default_factory=list)  # (expr, comment)


class _Ctx:
    def __init__(self, model: Model):
        self.model = model
        self.ins: list[Code] = [X]  # the variables holding the current node's inputs
        self.helpers: dict[str, str] = {}
        self.functional = False
        self.fixed: dict[str, object] = {}  # layer -> kernel literal, PyTorch layout

    def input_shape(self, node: Node) -> tuple[int, ...]:
        return self.model.node(node.inputs[0]).shape

    @property
    def x(self) -> Code:
        """The variable holding the node's (first) input."""
        return self.ins[0]

    def F(self, name: str, *args: object, **kwargs: object) -> Call:
        self.functional = True
        return Call.of(f"F.{name}", *args, **kwargs)


def _one(v: tuple[int, ...]) -> object:
    """``(3,)`` reads as ``3`` in a 1-D layer."""
    return v[0] if len(v) == 1 else v


def _torch_pad(pads: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """F.pad lists the last axis first: (left, right, top, bottom)."""
    return tuple(p for pair in reversed(pads) for p in pair)


def activation(
    fn: str, alpha: float | None, approximate: bool | None, x: object, ctx: _Ctx
) -> object:
    """The functional form of an activation, its parameters written out."""
    if fn == "linear":
        return x
    if fn in ("sigmoid", "tanh"):
        return Call.of(f"torch.{fn}", x)
    if fn == "leaky_relu":
        return ctx.F("leaky_relu", x, negative_slope=alpha)
    if fn == "elu":
        return ctx.F("elu", x, alpha=alpha)
    if fn == "gelu":
        return ctx.F("gelu", x, approximate="tanh" if approximate else "none")
    if fn == "softmax":
        return ctx.F("softmax", x, dim=1)  # the channel axis in NCHW, the features of (N, F)
    return ctx.F(fn, x)  # relu, relu6, silu


def _inline(fn: str, x: object, ctx: _Ctx) -> object:
    bound = Activation(fn=fn).bind(())
    return activation(fn, bound.alpha, bound.approximate, x, ctx)


def _conv(node: Node, ctx: _Ctx) -> Lowered:
    """Conv, and depthwise conv as the grouped conv it is (groups = input channels)."""
    cin = ctx.input_shape(node)[-1]
    layer = node.layer
    if isinstance(layer, Depthwise):
        layer = layer.as_conv(cin)
    assert isinstance(layer, Conv)
    module, x, comment = _conv_parts(layer, cin, ctx)
    if layer.weights is not None:  # canonical (k..., in, out) -> PyTorch (out, in, k...)
        t = layer.weights
        r = len(layer.kernel)
        ctx.fixed[node.name] = nested(t.values, t.shape, (r + 1, r, *range(r)))
    expr = _inline(layer.activation, Call.of(f"self.{node.name}", x), ctx)
    return Lowered([(node.name, module)], [(expr, comment)])


def _separable(node: Node, ctx: _Ctx) -> Lowered:
    """nn.Sequential(depthwise conv without bias, 1x1 conv): state_dict keys .0 and .1."""
    layer = node.layer
    assert isinstance(layer, Separable)
    cin = ctx.input_shape(node)[-1]
    depthwise = layer.depthwise(cin)  # the bound layer's resolved kernel, stride and pads
    dw_module, x, comment = _conv_parts(depthwise, cin, ctx)
    r = len(layer.kernel)
    kw = {} if layer.bias else {"bias": False}
    pointwise = Call.of(f"nn.Conv{r}d", depthwise.filters, layer.filters, kernel_size=1, **kw)
    module = Call.of("nn.Sequential", dw_module, pointwise)
    expr = _inline(layer.activation, Call.of(f"self.{node.name}", x), ctx)
    return Lowered([(node.name, module)], [(expr, comment)])


def _deconv(node: Node, ctx: _Ctx) -> Lowered:
    """ConvTranspose with padding = where TensorFlow's output starts in the full scatter,
    output_padding for the zero rows it adds at the end, a slice for a row it drops."""
    layer = node.layer
    assert isinstance(layer, Deconv)
    shape = ctx.input_shape(node)
    r = len(layer.kernel)
    starts, cut = [], []
    extra = []
    for n, k, s_, (start, length) in zip(
        shape[:-1], layer.kernel, layer.stride, layer.crops((shape,))
    ):
        full = (n - 1) * s_ + k
        op = length - full + 2 * start
        starts.append(start)
        extra.append(max(op, 0))
        cut.append(-op if op < 0 else 0)
    kw: dict[str, object] = {"kernel_size": _one(layer.kernel)}
    if layer.stride != (1,) * r:
        kw["stride"] = _one(layer.stride)
    if any(starts):
        kw["padding"] = _one(tuple(starts))
    if any(extra):
        kw["output_padding"] = _one(tuple(extra))
    if not layer.bias:
        kw["bias"] = False
    module = Call.of(f"nn.ConvTranspose{r}d", shape[-1], layer.filters, **kw)
    x: object = Call.of(f"self.{node.name}", ctx.x)
    comment = None
    if any(cut):
        index = ", ".join([":", ":", *(f":-{c}" if c else ":" for c in cut)])
        x = Code(f"{py(x)}[{index}]")
        comment = "'same' as TensorFlow crops it: the extra row/column off the bottom/right"
    return Lowered([(node.name, module)], [(_inline(layer.activation, x, ctx), comment)])


def _conv_parts(layer: Conv, cin: int, ctx: _Ctx) -> tuple[Call, object, str | None]:
    """The nn.ConvNd call, the (maybe padded) input expression and a comment."""
    r = len(layer.kernel)
    pads = layer.pads()
    kw: dict[str, object] = {"kernel_size": _one(layer.kernel)}
    if layer.stride != (1,) * r:
        kw["stride"] = _one(layer.stride)
    x: object = ctx.x
    comment = None
    if all(a == b for a, b in pads):
        if any(a for a, _ in pads):
            kw["padding"] = _one(tuple(a for a, _ in pads))
    else:
        x = ctx.F("pad", ctx.x, _torch_pad(pads))
        if layer.padding == "same":
            comment = "'same' as TensorFlow pads it: the extra row/column at the bottom/right"
    if layer.dilation != (1,) * r:
        kw["dilation"] = _one(layer.dilation)
    if layer.groups != 1:
        kw["groups"] = layer.groups
    if not layer.bias:
        kw["bias"] = False
    return Call.of(f"nn.Conv{r}d", cin, layer.filters, **kw), x, comment


def _pool(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, Pool) and layer.stride is not None
    r = len(layer.size)
    pads = layer.pads()
    kw: dict[str, object] = {"kernel_size": _one(layer.size)}
    if layer.stride != layer.size:
        kw["stride"] = _one(layer.stride)
    native = all(a == b and 2 * a <= k for (a, b), k in zip(pads, layer.size))
    padded = any(a or b for a, b in pads)
    cls = f"nn.{'Max' if layer.op == 'max' else 'Avg'}Pool{r}d"
    call_self = Call.of(f"self.{node.name}", ctx.x)
    if not padded or native:
        if padded:
            kw["padding"] = _one(tuple(a for a, _ in pads))
            if layer.op == "avg":
                kw["count_include_pad"] = False
        return Lowered([(node.name, Call.of(cls, **kw))], [(call_self, None)])
    pad = _torch_pad(pads)
    if layer.op == "max":
        expr = Call.of(f"self.{node.name}", ctx.F("pad", ctx.x, pad, value=float("-inf")))
        return Lowered([(node.name, Call.of(cls, **kw))], [(expr, "max pooling pads with -inf")])
    ctx.helpers["avg_pool_real_count"] = AVG_POOL_REAL_COUNT
    ctx.functional = True
    expr = Call.of("avg_pool_real_count", Code(f"self.{node.name}"), ctx.x, pad)
    return Lowered([(node.name, Call.of(cls, **kw))], [(expr, None)])


def _flatten(node: Node, ctx: _Ctx) -> Lowered:
    rank = len(ctx.input_shape(node))
    comment = None
    if rank > 1:
        comment = "NCHW order; the weight converter reorders the next dense layer's rows"
    return Lowered([], [(Call.of("torch.flatten", ctx.x, 1), comment)])


def _dense(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, Dense)
    kw = {} if layer.bias else {"bias": False}
    module = Call.of("nn.Linear", ctx.input_shape(node)[0], layer.units, **kw)
    expr = _inline(layer.activation, Call.of(f"self.{node.name}", ctx.x), ctx)
    return Lowered([(node.name, module)], [(expr, None)])


def _batchnorm(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, BatchNorm)
    shape = ctx.input_shape(node)
    dim = "2d" if len(shape) == 3 else "1d"
    module = Call.of(f"nn.BatchNorm{dim}", shape[-1], eps=layer.eps, momentum=layer.momentum)
    return Lowered([(node.name, module)], [(Call.of(f"self.{node.name}", ctx.x), None)])


def _zeropad(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, ZeroPad)
    pads = tuple(zip(layer.pad[0::2], layer.pad[1::2]))
    return Lowered([], [(ctx.F("pad", ctx.x, _torch_pad(pads)), None)])


def _activation(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, Activation)
    expr = activation(layer.fn, layer.alpha, layer.approximate, ctx.x, ctx)
    return Lowered([], [] if expr is ctx.x else [(expr, None)])


def _globalpool(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, GlobalPool)
    dims = tuple(range(2, len(ctx.input_shape(node)) + 1))
    method = "amax" if layer.op == "max" else "mean"
    dim = dims[0] if len(dims) == 1 else dims
    return Lowered([], [(Call.of(f"{ctx.x.text}.{method}", dim=dim), f"global {layer.op} pool")])


def _upsample(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, Upsample)
    kw: dict[str, object] = {"mode": layer.mode}
    if layer.mode == "bilinear":
        kw["align_corners"] = False  # half-pixel centres, as TensorFlow resizes
    factor = layer.size[0] if len(layer.size) == 1 else tuple(float(f) for f in layer.size)
    return Lowered([], [(ctx.F("interpolate", ctx.x, scale_factor=factor, **kw), None)])


def _layernorm(node: Node, ctx: _Ctx) -> Lowered:
    """nn.LayerNorm normalises the last axis: move channels there and back."""
    layer = node.layer
    assert isinstance(layer, LayerNorm)
    shape = ctx.input_shape(node)
    module = Call.of("nn.LayerNorm", shape[-1], eps=layer.eps)
    call = Call.of(f"self.{node.name}", ctx.x)
    if len(shape) == 1:
        return Lowered([(node.name, module)], [(call, None)])
    to_last = "(0, 2, 1)" if len(shape) == 2 else "(0, 2, 3, 1)"
    back = "(0, 2, 1)" if len(shape) == 2 else "(0, 3, 1, 2)"
    expr = Code(f"self.{node.name}({ctx.x.text}.permute{to_last}).permute{back}")
    return Lowered([(node.name, module)], [(expr, "layer norm over the channels")])


def _add(node: Node, ctx: _Ctx) -> Lowered:
    return Lowered([], [(Code(" + ".join(v.text for v in ctx.ins)), None)])


def _concat(node: Node, ctx: _Ctx) -> Lowered:
    return Lowered([], [(Call.of("torch.cat", list(ctx.ins), dim=1), None)])


def _dropout(node: Node, ctx: _Ctx) -> Lowered:
    layer = node.layer
    assert isinstance(layer, Dropout)
    module = Call.of("nn.Dropout", p=layer.rate)
    return Lowered([(node.name, module)], [(Call.of(f"self.{node.name}", ctx.x), None)])


PYTORCH: dict[type[Layer], Callable[[Node, _Ctx], Lowered]] = {
    Input: lambda node, ctx: Lowered(),
    Conv: _conv,
    Pool: _pool,
    Flatten: _flatten,
    Dense: _dense,
    Dropout: _dropout,
    BatchNorm: _batchnorm,
    ZeroPad: _zeropad,
    Activation: _activation,
    Depthwise: _conv,
    Separable: _separable,
    Deconv: _deconv,
    GlobalPool: _globalpool,
    Upsample: _upsample,
    Add: _add,
    LayerNorm: _layernorm,
    Concat: _concat,
}


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


def emit(model: Model) -> str:
    """The PyTorch source of ``model``: an nn.Module subclass named after the model."""
    _check_names(model)
    ctx = _Ctx(model)
    readers_of_input = [n.name for n in model.nodes if model.nodes[0].name in n.inputs]
    chain_input = readers_of_input == [n.name for n in model.nodes[1:2]]
    var = variables(model, "x" if chain_input else "inputs")
    check_variables(model, var, FILE_NAMES | {"self", "x", "inputs"}, "PyTorch")
    init_lines: list[str] = []
    forward_lines: list[str] = [] if chain_input else ["        inputs = x"]
    for node in model.nodes:
        ctx.ins = [Code(var[i]) for i in node.inputs] or [X]
        low = PYTORCH[type(node.layer)](node, ctx)
        for attr, call in low.modules:
            init_lines += layout(call, 8, prefix=f"self.{attr} = ")
        if not node.inputs:
            continue
        target = var[node.name]
        if not low.steps and target != ctx.x.text:
            forward_lines.append(f"        {target} = {ctx.x.text}")
        for expr, comment in low.steps:
            if comment:
                forward_lines.append(f"        # {comment}")
            if isinstance(expr, Call):
                forward_lines += layout(expr, 8, prefix=f"{target} = ")
            else:
                forward_lines.append(f"        {target} = {py(expr)}")
    output = var[model.outputs[-1].name]
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
        output=output,
        input_nchw=_nchw(model.input_shape),
        output_nchw=_nchw(model.output_shape),
    )
