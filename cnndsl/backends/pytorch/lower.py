"""``PYTORCH``: each layer kind's whole lowering to PyTorch — the modules it creates, the
``forward`` steps, and where each canonical weight lands in the state_dict.

The generated module is channels-first (NCHW), as PyTorch code is written. What the
language means is kept exactly: symmetric padding uses the layers' own ``padding=``;
TensorFlow's asymmetric ``same`` split becomes an explicit ``F.pad`` (extra row/column
at the bottom/right); max pooling pads with -inf and average pooling leaves padding out
of the count; activations are functional calls with their parameters spelled out.
``torch.flatten`` flattens in NCHW order: the weight converter, not the generated code,
reorders the rows of the dense layer that follows (see ``cnndsl.convert``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ... import layers as L
from ...ir import Model, Node
from ...layers import PRELU_INIT
from ..codegen import Call, Code
from ..order import permuted, plan
from ..params import SAME, Layout, Param, channels_first_kernel
from ..table import Table

X = Code("x")

AVG_POOL_REAL_COUNT = '''\
def avg_pool_real_count(pool: nn.Module, x: torch.Tensor, pad: tuple) -> torch.Tensor:
    """Average pooling over zero padding, dividing by the real elements only."""
    ones = torch.ones_like(x[:, :1])
    return pool(F.pad(x, pad)) / pool(F.pad(ones, pad))'''


@dataclass
class Lowered:
    """One node in PyTorch: modules for ``__init__``, steps for ``forward``, and the
    state_dict entries of its canonical weights."""

    modules: list[tuple[str, Call]] = field(default_factory=list)
    steps: list[tuple[object, str | None]] = field(default_factory=list)  # (expr, comment)
    params: list[Param] = field(default_factory=list)
    #: an activation fused into the layer: inline after the steps, or a module of its own
    activation: str = "linear"


class Ctx:
    """Per-model state while lowering: the variables holding the current node's inputs,
    helper code the file needs, fixed kernels from the source."""

    def __init__(self, model: Model):
        self.model = model
        self.ins: list[Code] = [X]
        self.helpers: dict[str, str] = {}
        self.functional = False
        self.fixed: dict[str, object] = {}  # layer -> kernel literal, PyTorch layout
        self.plan = plan(model)  # which flattens keep the language's order
        self.node = ""  # the model-wide name of the node being lowered
        self.module_path = ""  # its module's dotted path from the model

    @property
    def x(self) -> Code:
        """The variable holding the node's (first) input."""
        return self.ins[0]

    def F(self, name: str, *args: object, **kwargs: object) -> Call:
        self.functional = True
        return Call.of(f"F.{name}", *args, **kwargs)


PYTORCH: Table[[Node, Ctx], Lowered] = Table("pytorch")


def params(node: Node, attr: str, where: dict[str, tuple[str, Layout]]) -> list[Param]:
    """One Param per weight the node has: ``where`` maps canonical name -> (the module's
    parameter name, layout). A weight missing from ``where`` is a KeyError, not a skip."""
    return [Param(w.name, f"{attr}.{where[w.name][0]}", 0, where[w.name][1]) for w in node.weights]


def one(v: tuple[int, ...]) -> object:
    """``(3, 3)`` reads as ``3``, as PyTorch code is written: one number for every axis."""
    return v[0] if all(x == v[0] for x in v) else v


def torch_pad(pads: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """F.pad lists the last axis first: (left, right, top, bottom)."""
    return tuple(p for pair in reversed(pads) for p in pair)


ActivationCode = Callable[[object, "float | None", "bool | None", Ctx], object]

#: Each activation of the language as PyTorch code, its parameters written out; a test
#: fails when a name of ``cnndsl.layers.ACTIVATIONS`` is missing.
ACTIVATIONS: dict[str, ActivationCode] = {
    "linear": lambda x, alpha, approx, ctx: x,
    "relu": lambda x, alpha, approx, ctx: ctx.F("relu", x),
    "relu6": lambda x, alpha, approx, ctx: ctx.F("relu6", x),
    "leaky_relu": lambda x, alpha, approx, ctx: ctx.F("leaky_relu", x, negative_slope=alpha),
    "elu": lambda x, alpha, approx, ctx: ctx.F("elu", x, alpha=alpha),
    "gelu": lambda x, alpha, approx, ctx: ctx.F(
        "gelu", x, approximate="tanh" if approx else "none"
    ),
    "silu": lambda x, alpha, approx, ctx: ctx.F("silu", x),
    "sigmoid": lambda x, alpha, approx, ctx: Call.of("torch.sigmoid", x),
    "tanh": lambda x, alpha, approx, ctx: Call.of("torch.tanh", x),
    # over the channel axis in NCHW, the features of (N, F)
    "softmax": lambda x, alpha, approx, ctx: ctx.F("softmax", x, dim=1),
}


def activation(
    fn: str, alpha: float | None, approximate: bool | None, x: object, ctx: Ctx
) -> object:
    """The functional form of an activation, its parameters written out."""
    return ACTIVATIONS[fn](x, alpha, approximate, ctx)


def inline_act(fn: str, x: object, ctx: Ctx) -> object:
    bound = L.Activation(fn=fn).bind(())
    return activation(fn, bound.alpha, bound.approximate, x, ctx)


@PYTORCH.register(L.Pool)
# complex: the window, stride and padding each decide one keyword of nn.*PoolNd
def _pool(layer: L.Pool, node: Node, ctx: Ctx) -> Lowered:
    assert layer.stride is not None  # bound
    r = len(layer.size)
    pads = layer.pads()
    kw: dict[str, object] = {"kernel_size": one(layer.size)}
    if layer.stride != layer.size:
        kw["stride"] = one(layer.stride)
    native = all(a == b and 2 * a <= k for (a, b), k in zip(pads, layer.size))
    padded = any(a or b for a, b in pads)
    cls = f"nn.{'Max' if layer.op == 'max' else 'Avg'}Pool{r}d"
    if not padded or native:
        if padded:  # PyTorch pads symmetrically, up to half the window
            kw["padding"] = one(tuple(a for a, _ in pads))
            if layer.op == "avg":
                kw["count_include_pad"] = False
        return Lowered(
            [(node.name, Call.of(cls, **kw))], [(Call.of(f"self.{node.name}", ctx.x), None)]
        )
    return _padded_pool(layer, node, ctx, Call.of(cls, **kw))


def _padded_pool(layer: L.Pool, node: Node, ctx: Ctx, module: Call) -> Lowered:
    """Padding PyTorch's pooling cannot express: pad first (max: -inf; avg: zeros, then
    divide by the real count)."""
    pad = torch_pad(layer.pads())
    if layer.op == "max":
        expr = Call.of(f"self.{node.name}", ctx.F("pad", ctx.x, pad, value=float("-inf")))
        return Lowered([(node.name, module)], [(expr, "max pooling pads with -inf")])
    ctx.helpers["avg_pool_real_count"] = AVG_POOL_REAL_COUNT
    ctx.functional = True
    expr = Call.of("avg_pool_real_count", Code(f"self.{node.name}"), ctx.x, pad)
    return Lowered([(node.name, module)], [(expr, None)])


@PYTORCH.register(L.Input)
def _input(layer: L.Input, node: Node, ctx: Ctx) -> Lowered:
    return Lowered()


@PYTORCH.register(L.Flatten)
def _flatten(layer: L.Flatten, node: Node, ctx: Ctx) -> Lowered:
    shape = node.input_shapes[0]
    if ctx.node in ctx.plan.canonical:  # these features meet others, or leave the model
        last = "(0, 2, 1)" if len(shape) == 2 else "(0, 2, 3, 1)"
        expr = Code(f"torch.flatten({ctx.x.text}.permute{last}, 1)")
        return Lowered([], [(expr, "channels-last order, the language's: (H, W, C)")])
    comment = None
    if permuted(shape):
        comment = "NCHW order: the weight converter permutes the next layers' weights to match"
    return Lowered([], [(Call.of("torch.flatten", ctx.x, 1), comment)])


@PYTORCH.register(L.Dense)
def _dense(layer: L.Dense, node: Node, ctx: Ctx) -> Lowered:
    kw = {} if layer.bias else {"bias": False}
    module = Call.of("nn.Linear", node.input_shapes[0][0], layer.units, **kw)
    expr = Call.of(f"self.{node.name}", ctx.x)
    where = {"kernel": ("weight", channels_first_kernel(0)), "bias": ("bias", SAME)}
    weights = params(node, node.name, where)
    return Lowered([(node.name, module)], [(expr, None)], weights, layer.activation)


_NORM = {"gamma": ("weight", SAME), "beta": ("bias", SAME)}
_NORM["moving_mean"] = ("running_mean", SAME)
_NORM["moving_variance"] = ("running_var", SAME)


@PYTORCH.register(L.BatchNorm)
def _batchnorm(layer: L.BatchNorm, node: Node, ctx: Ctx) -> Lowered:
    shape = node.input_shapes[0]
    dim = "2d" if len(shape) == 3 else "1d"
    kw: dict[str, object] = {}  # the language's defaults are PyTorch's: written only if not
    if layer.eps != L.BATCHNORM_EPS:
        kw["eps"] = layer.eps
    if layer.momentum != L.BATCHNORM_MOMENTUM:
        kw["momentum"] = layer.momentum
    module = Call.of(f"nn.BatchNorm{dim}", shape[-1], **kw)
    steps: list[tuple[object, str | None]] = [(Call.of(f"self.{node.name}", ctx.x), None)]
    return Lowered([(node.name, module)], steps, params(node, node.name, _NORM))


@PYTORCH.register(L.LayerNorm)
def _layernorm(layer: L.LayerNorm, node: Node, ctx: Ctx) -> Lowered:
    """nn.LayerNorm normalises the last axis: move channels there and back."""
    shape = node.input_shapes[0]
    module = Call.of("nn.LayerNorm", shape[-1], eps=layer.eps)
    weights = params(node, node.name, _NORM)
    if len(shape) == 1:
        return Lowered(
            [(node.name, module)], [(Call.of(f"self.{node.name}", ctx.x), None)], weights
        )
    to_last = "(0, 2, 1)" if len(shape) == 2 else "(0, 2, 3, 1)"
    back = "(0, 2, 1)" if len(shape) == 2 else "(0, 3, 1, 2)"
    expr = Code(f"self.{node.name}({ctx.x.text}.permute{to_last}).permute{back}")
    return Lowered([(node.name, module)], [(expr, "layer norm over the channels")], weights)


@PYTORCH.register(L.ZeroPad)
def _zeropad(layer: L.ZeroPad, node: Node, ctx: Ctx) -> Lowered:
    pads = tuple(zip(layer.pad[0::2], layer.pad[1::2]))
    return Lowered([], [(ctx.F("pad", ctx.x, torch_pad(pads)), None)])


def _crop_slice(before: int, after: int) -> str:
    """``1:-2``; an end crop of 0 keeps the end (``1:``, never ``1:-0``)."""
    return f"{before or ''}:{f'-{after}' if after else ''}"


@PYTORCH.register(L.Crop)
def _crop(layer: L.Crop, node: Node, ctx: Ctx) -> Lowered:
    index = ", ".join([":", ":", *(_crop_slice(a, b) for a, b in layer.crops())])
    return Lowered([], [(Code(f"{ctx.x.text}[{index}]"), None)])


@PYTORCH.register(L.PReLU)
def _prelu(layer: L.PReLU, node: Node, ctx: Ctx) -> Lowered:
    """nn.PReLU(C): one slope per channel, dim 1 of NCHW, (N, C, L) and (N, C) alike."""
    module = Call.of("nn.PReLU", node.input_shapes[0][-1], init=PRELU_INIT)
    steps: list[tuple[object, str | None]] = [(Call.of(f"self.{node.name}", ctx.x), None)]
    return Lowered(
        [(node.name, module)], steps, params(node, node.name, {"alpha": ("weight", SAME)})
    )


@PYTORCH.register(L.Activation)
def _activation(layer: L.Activation, node: Node, ctx: Ctx) -> Lowered:
    expr = activation(layer.fn, layer.alpha, layer.approximate, ctx.x, ctx)
    return Lowered([], [] if expr is ctx.x else [(expr, None)])


@PYTORCH.register(L.GlobalPool)
def _globalpool(layer: L.GlobalPool, node: Node, ctx: Ctx) -> Lowered:
    dims = tuple(range(2, len(node.input_shapes[0]) + 1))
    method = "amax" if layer.op == "max" else "mean"
    dim = dims[0] if len(dims) == 1 else dims
    return Lowered([], [(Call.of(f"{ctx.x.text}.{method}", dim=dim), f"global {layer.op} pool")])


@PYTORCH.register(L.Upsample)
def _upsample(layer: L.Upsample, node: Node, ctx: Ctx) -> Lowered:
    kw: dict[str, object] = {"mode": layer.mode}
    if layer.mode == "bilinear":
        kw["align_corners"] = False  # half-pixel centres, as TensorFlow resizes
    factor = layer.size[0] if len(layer.size) == 1 else tuple(float(f) for f in layer.size)
    return Lowered([], [(ctx.F("interpolate", ctx.x, scale_factor=factor, **kw), None)])


@PYTORCH.register(L.Add)
def _add(layer: L.Add, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([], [(Code(" + ".join(v.text for v in ctx.ins)), None)])


@PYTORCH.register(L.Concat)
def _concat(layer: L.Concat, node: Node, ctx: Ctx) -> Lowered:
    return Lowered([], [(Call.of("torch.cat", list(ctx.ins), dim=1), None)])


@PYTORCH.register(L.Dropout)
def _dropout(layer: L.Dropout, node: Node, ctx: Ctx) -> Lowered:
    module = Call.of("nn.Dropout", p=layer.rate)
    return Lowered([(node.name, module)], [(Call.of(f"self.{node.name}", ctx.x), None)])
