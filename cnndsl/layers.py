"""The layer registry: every layer kind defined once, in one place.

A kind is a frozen dataclass whose fields are its options (type, default, doc and
whether it may be written positionally live in the field's metadata). The class
carries the kind's shape rule (:meth:`Layer.bind` + :meth:`Layer.output_shape`),
its weights (which give the parameter count) and its multiply-accumulate count.
Backends key their tables on these classes; nothing here knows a framework.

Shapes exclude the batch and are channels-last: ``(features,)``, ``(length,
channels)`` or ``(height, width, channels)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from .options import (
    BoolT,
    ChoiceT,
    FloatT,
    IntT,
    OptType,
    PadT,
    ShapeT,
    SizeT,
    Tensor,
    TensorT,
)

Shape = tuple[int, ...]

ACTIVATIONS: tuple[str, ...] = (
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "softmax",
)
PADDINGS: tuple[str, ...] = ("valid", "same", "full")
#: Defaults the language picks (documented in docs/language.md, spelled out by every backend).
LEAKY_RELU_ALPHA = 0.01
ELU_ALPHA = 1.0
BATCHNORM_EPS = 1e-5
BATCHNORM_MOMENTUM = 0.1

ACTIVATION = ChoiceT(ACTIVATIONS, "activation")
PADDING = ChoiceT(PADDINGS, "padding")


class LayerError(Exception):
    """A problem with one layer; ``field`` names the option whose source span to show."""

    def __init__(self, message: str, field: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint


@dataclass(frozen=True)
class OptSpec:
    name: str
    type: OptType
    doc: str
    positional: bool
    required: bool
    default: Any


@dataclass(frozen=True)
class Weight:
    """One weight array of a layer, in the canonical channels-last layout."""

    name: str
    shape: Shape
    trainable: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def opt(
    type: OptType,
    default: Any = dataclasses.MISSING,
    doc: str = "",
    positional: bool = False,
) -> Any:
    """Declare an option: a dataclass field whose metadata the checker reads."""
    meta = {"type": type, "doc": doc, "positional": positional}
    return field(default=default, metadata=meta)


L_ = TypeVar("L_", bound="Layer")


def evolve(layer: L_, **changes: Any) -> L_:
    """``dataclasses.replace`` without re-running ``__init__``: the checker's hot path
    (the fields were validated when the layer was first built)."""
    new = object.__new__(type(layer))
    new.__dict__.update(layer.__dict__)
    new.__dict__.update(changes)
    return new


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


@dataclass(frozen=True)
class Layer:
    """Base of every kind. Subclasses are frozen dataclasses registered by keyword."""

    KIND: ClassVar[str] = ""
    ARITY: ClassVar[int] = 1
    EXAMPLE: ClassVar[str] = ""
    SUMMARY: ClassVar[str] = ""

    @classmethod
    def options(cls) -> dict[str, OptSpec]:
        return _options(cls)

    def check_options(self) -> None:
        """Rules between options that need no shape (``pad`` with ``padding``...)."""

    def bind(self, inputs: tuple[Shape, ...]) -> Layer:
        """Resolve shape-dependent options (a kernel ``3`` on an image is ``3x3``)."""
        return self

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return inputs[0]

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        return ()

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        """Multiply-accumulates of one forward pass of one sample (conv and dense only)."""
        return 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.KIND}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor):
                v = {"shape": list(v.shape), "values": v.to_nested()}
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out


_OPTIONS_CACHE: dict[type, dict[str, OptSpec]] = {}


def _options(cls: type) -> dict[str, OptSpec]:
    got = _OPTIONS_CACHE.get(cls)
    if got is None:
        got = {}
        for f in dataclasses.fields(cls):
            if "type" not in f.metadata:
                continue
            required = f.default is dataclasses.MISSING
            got[f.name] = OptSpec(
                f.name,
                f.metadata["type"],
                f.metadata["doc"],
                f.metadata["positional"],
                required,
                None if required else f.default,
            )
        _OPTIONS_CACHE[cls] = got
    return got


@dataclass(frozen=True)
class Entry:
    """A keyword of the language: the kind it builds and the options it presets."""

    keyword: str
    cls: type[Layer]
    preset: tuple[tuple[str, Any], ...] = ()

    @property
    def positional(self) -> tuple[OptSpec, ...]:
        """Options this keyword takes by form, in declaration order (presets excluded)."""
        preset = dict(self.preset)
        return tuple(
            s for s in self.cls.options().values() if s.positional and s.name not in preset
        )


REGISTRY: dict[str, Entry] = {}
L = TypeVar("L", bound=type[Layer])


def register(*keywords: str, **preset: Any) -> Callable[[L], L]:
    def deco(cls: L) -> L:
        for kw in keywords:
            assert kw not in REGISTRY, kw
            REGISTRY[kw] = Entry(kw, cls, tuple(preset.items()))
        return cls

    return deco


def kinds() -> list[type[Layer]]:
    """Every layer class, once each, in registration order."""
    seen: dict[type[Layer], None] = {}
    for e in REGISTRY.values():
        seen.setdefault(e.cls)
    return list(seen)


# ---------------------------------------------------------------- shared shape rules


def spatial_rank(kind: str, shape: Shape) -> int:
    """Conv and pool work on sequences (L x C) and images (H x W x C)."""
    if len(shape) not in (2, 3):
        raise LayerError(
            f"{kind} needs a sequence (length x channels) or an image "
            f"(height x width x channels), but its input is {_describe(shape)}",
            hint="a flattened tensor cannot be convolved; move flatten/dense after it",
        )
    return len(shape) - 1


def _describe(shape: Shape) -> str:
    names = {1: "a vector", 2: "a sequence", 3: "an image"}
    return f"{names.get(len(shape), 'a tensor')} of shape {fmt_shape(shape)}"


def fit_rank(kind: str, name: str, value: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """``3`` means ``3x3`` on an image and ``3`` on a sequence; ``3x3`` on a sequence is wrong."""
    if len(value) == rank:
        return value
    if len(value) == 1:
        return value * rank
    what = "an image (2 sizes)" if rank == 2 else "a sequence (1 size)"
    raise LayerError(
        f"{name} {fmt_shape(value)} has {len(value)} sizes, but the input is {what}",
        field=name,
        hint=f"write {name}={value[0]}" if rank == 1 else None,
    )


def resolve_pad(kind: str, pad: tuple[int, ...], rank: int) -> tuple[tuple[int, int], ...]:
    """Explicit padding as written -> one (before, after) pair per spatial axis."""
    if len(pad) == 1:
        return ((pad[0], pad[0]),) * rank
    if rank == 1 and len(pad) == 2:
        return ((pad[0], pad[1]),)
    if rank == 2 and len(pad) == 2:
        return ((pad[0], pad[0]), (pad[1], pad[1]))
    if rank == 2 and len(pad) == 4:
        return ((pad[0], pad[1]), (pad[2], pad[3]))
    raise LayerError(
        f"pad has {len(pad)} numbers, but a sequence is padded with 1 or (before, after)",
        field="pad",
    )


def auto_pads(
    mode: str, sizes: Shape, kernel: Shape, stride: Shape, dilation: Shape
) -> tuple[tuple[int, int], ...]:
    """valid: none; full: k_eff - 1 each side; same: TensorFlow's split, the extra
    row/column at the bottom/right, so that out = ceil(n / stride)."""
    pads = []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        keff = d * (k - 1) + 1
        if mode == "valid":
            pads.append((0, 0))
        elif mode == "full":
            pads.append((keff - 1, keff - 1))
        else:  # same
            out = -(-n // s)
            total = max((out - 1) * s + keff - n, 0)
            pads.append((total // 2, total - total // 2))
    return tuple(pads)


AXES = {1: ("length",), 2: ("height", "width")}


def window_out(
    kind: str,
    sizes: Shape,
    kernel: Shape,
    stride: Shape,
    dilation: Shape,
    pads: tuple[tuple[int, int], ...],
    kernel_field: str,
) -> Shape:
    """out = floor((n + pad_total - dilation*(k-1) - 1) / stride) + 1, per axis."""
    out = []
    for axis, n, k, s, d, (pb, pa) in zip(AXES[len(sizes)], sizes, kernel, stride, dilation, pads):
        o = (n + pb + pa - d * (k - 1) - 1) // s + 1
        if o < 1:
            sub = f"{k}" if d == 1 else f"{d * (k - 1) + 1}"
            arith = (
                f"({n} + {pb + pa} - {k}) // {s} + 1 = {o}"
                if d == 1
                else f"({n} + {pb + pa} - {d}*({k}-1) - 1) // {s} + 1 = {o}"
            )
            raise LayerError(
                f"{kernel_field} {fmt_shape(kernel)} does not fit the {axis} of the input: {arith}",
                field=kernel_field,
                hint=f"the {axis} is {n} with {pb + pa} padding, the window spans {sub}; "
                "use a smaller window, padding 'same', or fewer pooling layers before it",
            )
        out.append(o)
    return tuple(out)


# ---------------------------------------------------------------- layer kinds


class Windowed(Layer):
    """Shared by the kinds that slide a window over padded input (conv, pool, depthwise,
    separable): they have ``padding`` (a mode) and ``pad`` (explicit; after binding, the
    resolved (before, after) per axis, flattened)."""

    padding: str
    pad: tuple[int, ...] | None

    def check_options(self) -> None:
        _check_pad_mode(self.padding, self.pad)

    def pads(self) -> tuple[tuple[int, int], ...]:
        """(before, after) per spatial axis; only on a bound layer."""
        assert self.pad is not None
        return tuple(zip(self.pad[0::2], self.pad[1::2]))


@register("input")
@dataclass(frozen=True)
class Input(Layer):
    """The model's input, without the batch: H x W x C, L x C, or a feature vector."""

    KIND: ClassVar[str] = "input"
    ARITY: ClassVar[int] = 0
    EXAMPLE: ClassVar[str] = "input 28x28x1"
    SUMMARY: ClassVar[str] = "the model's input shape, channels last, batch implied"

    shape: Shape = opt(
        ShapeT(), doc="H x W x C (image), L x C (sequence) or N (vector)", positional=True
    )

    def check_options(self) -> None:
        if len(self.shape) > 3:
            raise LayerError(
                f"input {fmt_shape(self.shape)} has {len(self.shape)} dimensions; "
                "cnndsl takes H x W x C, L x C or N",
                field="shape",
            )

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.shape


@register("conv")
@dataclass(frozen=True)
class Conv(Windowed):
    """Convolution, 1-D or 2-D by the input's rank; grouped when groups > 1."""

    KIND: ClassVar[str] = "conv"
    EXAMPLE: ClassVar[str] = "conv 64 3x3 relu same"
    SUMMARY: ClassVar[str] = "1-D or 2-D convolution (by the input's rank), grouped if groups > 1"

    filters: int = opt(IntT(1), doc="output channels", positional=True)
    kernel: tuple[int, ...] = opt(SizeT(), doc="window size: 3 (square) or 3x5", positional=True)
    activation: str = opt(ACTIVATION, "linear", "applied to the output", positional=True)
    padding: str = opt(PADDING, "valid", "valid, same or full (see padding rules)", positional=True)
    stride: tuple[int, ...] = opt(SizeT(), (1,), "step of the window: 2 or 2x1")
    dilation: tuple[int, ...] = opt(SizeT(), (1,), "spacing of the kernel taps")
    groups: int = opt(IntT(1), 1, "split channels into groups; must divide in and out channels")
    bias: bool = opt(BoolT(), True, "add a learned bias per filter")
    pad: tuple[int, ...] | None = opt(PadT(), None, "explicit zero padding instead of padding=")
    weights: Tensor | None = opt(
        TensorT(),
        None,
        "fixed kernel values: kh x kw (one filter on one channel), filters x kh x kw "
        "(one input channel each), or kh x kw x in x out",
    )

    def bind(self, inputs: tuple[Shape, ...]) -> Conv:
        (x,) = inputs
        r = spatial_rank("conv", x)
        k = fit_rank("conv", "kernel", self.kernel, r)
        s = fit_rank("conv", "stride", self.stride, r)
        d = fit_rank("conv", "dilation", self.dilation, r)
        cin = x[-1]
        if cin % self.groups or self.filters % self.groups:
            bad = "input channels" if cin % self.groups else "filters"
            raise LayerError(
                f"groups={self.groups} must divide both the input channels ({cin}) and "
                f"the filters ({self.filters}); it does not divide the {bad}",
                field="groups",
                hint=_divisor_hint(cin, self.filters),
            )
        if s != (1,) * r and d != (1,) * r:
            raise LayerError(
                "stride and dilation cannot both be greater than 1",
                field="dilation",
                hint="neither Keras nor TensorFlow supports the combination",
            )
        if self.pad is not None:
            pads = resolve_pad("conv", self.pad, r)
            mode = "explicit"
        else:
            pads = auto_pads(self.padding, x[:-1], k, s, d)
            mode = self.padding
        weights = self.weights
        if weights is not None:
            weights = _fit_weights(weights, k, cin // self.groups, self.filters)
        flat_pads = tuple(p for pair in pads for p in pair)
        return evolve(
            self, kernel=k, stride=s, dilation=d, padding=mode, pad=flat_pads, weights=weights
        )

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (x,) = inputs
        sizes = window_out(
            "conv", x[:-1], self.kernel, self.stride, self.dilation, self.pads(), "kernel"
        )
        return (*sizes, self.filters)

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        cin = inputs[0][-1]
        w = [Weight("kernel", (*self.kernel, cin // self.groups, self.filters))]
        if self.bias:
            w.append(Weight("bias", (self.filters,)))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        cin = inputs[0][-1]
        return math.prod(output[:-1]) * self.filters * math.prod(self.kernel) * (cin // self.groups)


def _divisor_hint(cin: int, filters: int) -> str:
    common = [g for g in range(1, min(cin, filters) + 1) if cin % g == 0 and filters % g == 0]
    return "groups that divide both: " + ", ".join(str(g) for g in common[-6:])


def _check_pad_mode(padding: str, pad: tuple[int, ...] | None) -> None:
    if pad is not None and padding != "valid":
        raise LayerError(
            f"give either padding ({padding}) or an explicit pad=, not both", field="pad"
        )


def _fit_weights(t: Tensor, k: Shape, cin: int, cout: int) -> Tensor:
    """Accept the full kernel (k..., in/groups, out), one kernel per filter (out, k...) when
    each filter sees one channel, or just (k...) for one filter on one channel."""
    full = (*k, cin, cout)
    if t.shape == full:
        return t
    if t.shape == k and cin == 1 and cout == 1:
        return Tensor(full, t.values)
    if t.shape == (cout, *k) and cin == 1:
        per = math.prod(k)  # filter-major -> (k..., 1, out)
        values = tuple(t.values[f * per + i] for i in range(per) for f in range(cout))
        return Tensor(full, values)
    forms = [f"{fmt_shape(full)} (kernel x in x out)"]
    if cin == 1:
        forms.insert(0, f"{fmt_shape((cout, *k))} (one kernel per filter)")
        if cout == 1:
            forms.insert(0, fmt_shape(k))
    raise LayerError(
        f"weights have shape {fmt_shape(t.shape)}, but this conv needs {' or '.join(forms)}",
        field="weights",
        hint=f"{len(t.values)} numbers given, {math.prod(full)} needed",
    )


@register("pool")
@dataclass(frozen=True)
class Pool(Windowed):
    """Max or average pooling; the stride defaults to the window size."""

    KIND: ClassVar[str] = "pool"
    EXAMPLE: ClassVar[str] = "pool max 2"
    SUMMARY: ClassVar[str] = "max or average pooling over a window, channels unchanged"

    op: str = opt(ChoiceT(("max", "avg"), "pooling"), doc="max or avg", positional=True)
    size: tuple[int, ...] = opt(SizeT(), doc="window size: 2 or 2x3", positional=True)
    padding: str = opt(PADDING, "valid", "valid, same or full", positional=True)
    stride: tuple[int, ...] | None = opt(SizeT(), None, "step; defaults to the window size")
    pad: tuple[int, ...] | None = opt(PadT(), None, "explicit padding, less than the window")

    def bind(self, inputs: tuple[Shape, ...]) -> Pool:
        (x,) = inputs
        r = spatial_rank("pool", x)
        k = fit_rank("pool", "size", self.size, r)
        s = fit_rank("pool", "stride", self.stride, r) if self.stride is not None else k
        if self.pad is not None:
            pads = resolve_pad("pool", self.pad, r)
            for (pb, pa), kk in zip(pads, k):
                if max(pb, pa) >= kk:
                    raise LayerError(
                        f"pool padding {max(pb, pa)} must be smaller than the window {kk}",
                        field="pad",
                        hint="otherwise some windows would hold only padding",
                    )
            mode = "explicit"
        else:
            pads = auto_pads(self.padding, x[:-1], k, s, (1,) * r)
            mode = self.padding
        flat = tuple(p for pair in pads for p in pair)
        return evolve(self, size=k, stride=s, padding=mode, pad=flat)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (x,) = inputs
        assert self.stride is not None
        sizes = window_out(
            "pool", x[:-1], self.size, self.stride, (1,) * len(self.size), self.pads(), "size"
        )
        return (*sizes, x[-1])


@register("flatten")
@dataclass(frozen=True)
class Flatten(Layer):
    """Flattens in channels-last (row-major H, W, C) order."""

    KIND: ClassVar[str] = "flatten"
    EXAMPLE: ClassVar[str] = "flatten"
    SUMMARY: ClassVar[str] = "reshape to a vector, in channels-last (H, W, C) order"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return (math.prod(inputs[0]),)


@register("dense")
@dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer on a vector."""

    KIND: ClassVar[str] = "dense"
    EXAMPLE: ClassVar[str] = "dense 10 softmax"
    SUMMARY: ClassVar[str] = "fully connected layer on a vector"

    units: int = opt(IntT(1), doc="output features", positional=True)
    activation: str = opt(ACTIVATION, "linear", "applied to the output", positional=True)
    bias: bool = opt(BoolT(), True, "add a learned bias per unit")

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (x,) = inputs
        if len(x) != 1:
            raise LayerError(
                f"dense needs a vector, but its input is {_describe(x)}",
                hint=f"add `flatten` before it (giving {math.prod(x)} features)",
            )
        return (self.units,)

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        w = [Weight("kernel", (inputs[0][0], self.units))]
        if self.bias:
            w.append(Weight("bias", (self.units,)))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        return inputs[0][0] * self.units


@register("dropout")
@dataclass(frozen=True)
class Dropout(Layer):
    """Randomly zeroes inputs while training; the identity at inference."""

    KIND: ClassVar[str] = "dropout"
    EXAMPLE: ClassVar[str] = "dropout 0.5"
    SUMMARY: ClassVar[str] = "zeroes a fraction of inputs in training; identity at inference"

    rate: float = opt(
        FloatT(0.0, 1.0, hi_open=True), doc="fraction dropped, in [0, 1)", positional=True
    )


@register("batchnorm")
@dataclass(frozen=True)
class BatchNorm(Layer):
    """Normalises each channel (the last axis) with learned scale and offset."""

    KIND: ClassVar[str] = "batchnorm"
    EXAMPLE: ClassVar[str] = "batchnorm"
    SUMMARY: ClassVar[str] = "per-channel normalisation: gamma, beta, moving mean and variance"

    eps: float = opt(
        FloatT(0.0, lo_open=True), BATCHNORM_EPS, "added to the variance before the square root"
    )
    momentum: float = opt(
        FloatT(0.0, 1.0),
        BATCHNORM_MOMENTUM,
        "weight of the new batch statistic in the moving average "
        "(PyTorch's convention; Keras' momentum is 1 - this)",
    )

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        c = inputs[0][-1]
        return (
            Weight("gamma", (c,)),
            Weight("beta", (c,)),
            Weight("moving_mean", (c,), trainable=False),
            Weight("moving_variance", (c,), trainable=False),
        )


@register("layernorm")
@dataclass(frozen=True)
class LayerNorm(Layer):
    """Normalises each position over its channels (the last axis), with scale and offset."""

    KIND: ClassVar[str] = "layernorm"
    EXAMPLE: ClassVar[str] = "layernorm"
    SUMMARY: ClassVar[str] = "per-position normalisation over the channels: gamma and beta"

    eps: float = opt(
        FloatT(0.0, lo_open=True),
        1e-5,
        "added to the variance before the square root (PyTorch's default; Keras' is 1e-3)",
    )

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        c = inputs[0][-1]
        return (Weight("gamma", (c,)), Weight("beta", (c,)))


@register("zeropad")
@dataclass(frozen=True)
class ZeroPad(Layer):
    """Pads the spatial axes with zeros."""

    KIND: ClassVar[str] = "zeropad"
    EXAMPLE: ClassVar[str] = "zeropad 1"
    SUMMARY: ClassVar[str] = "zero padding of the spatial axes"

    pad: tuple[int, ...] = opt(
        PadT(), doc="1, 1x2, (before, after) or (top, bottom, left, right)", positional=True
    )

    def bind(self, inputs: tuple[Shape, ...]) -> ZeroPad:
        r = spatial_rank("zeropad", inputs[0])
        pads = resolve_pad("zeropad", self.pad, r)
        return evolve(self, pad=tuple(p for pair in pads for p in pair))

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (x,) = inputs
        sizes = tuple(n + self.pad[2 * i] + self.pad[2 * i + 1] for i, n in enumerate(x[:-1]))
        return (*sizes, x[-1])


G = TypeVar("G", "Depthwise", "Separable")


def _grouped_conv(layer: Depthwise | Separable, channels: int, bias: bool, activation: str) -> Conv:
    """The depthwise part of depthwise and separable convs: groups = channels."""
    return Conv(
        filters=channels * layer.multiplier,
        kernel=layer.kernel,
        activation=activation,
        padding=layer.padding,
        stride=layer.stride,
        dilation=layer.dilation,
        groups=channels,
        bias=bias,
        pad=layer.pad,
    )


def _bind_grouped(layer: G, conv: Conv, inputs: tuple[Shape, ...]) -> G:
    """Resolve ``layer``'s window options as its grouped conv resolves them."""
    spatial_rank(layer.KIND, inputs[0])
    bound = conv.bind(inputs)
    return evolve(
        layer,
        kernel=bound.kernel,
        stride=bound.stride,
        dilation=bound.dilation,
        padding=bound.padding,
        pad=bound.pad,
    )


@register("depthwise")
@dataclass(frozen=True)
class Depthwise(Windowed):
    """Depthwise convolution: each input channel convolved with its own `multiplier` filters
    (a conv with groups = channels and filters = channels * multiplier)."""

    KIND: ClassVar[str] = "depthwise"
    EXAMPLE: ClassVar[str] = "depthwise 3x3 relu6 same stride=2"
    SUMMARY: ClassVar[str] = "depthwise convolution: one filter set per input channel"

    kernel: tuple[int, ...] = opt(SizeT(), doc="window size: 3 or 3x3", positional=True)
    activation: str = opt(ACTIVATION, "linear", "applied to the output", positional=True)
    padding: str = opt(PADDING, "valid", "valid, same or full", positional=True)
    multiplier: int = opt(IntT(1), 1, "filters per input channel")
    stride: tuple[int, ...] = opt(SizeT(), (1,), "step of the window")
    dilation: tuple[int, ...] = opt(SizeT(), (1,), "spacing of the kernel taps")
    bias: bool = opt(BoolT(), True, "add a learned bias per output channel")
    pad: tuple[int, ...] | None = opt(PadT(), None, "explicit zero padding instead of padding=")

    def as_conv(self, channels: int) -> Conv:
        """The equivalent grouped convolution (shape rule, weights and semantics)."""
        return _grouped_conv(self, channels, self.bias, self.activation)

    def bind(self, inputs: tuple[Shape, ...]) -> Depthwise:
        return _bind_grouped(self, self.as_conv(inputs[0][-1]), inputs)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return self.as_conv(inputs[0][-1]).output_shape(inputs)

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        return self.as_conv(inputs[0][-1]).weight_specs(inputs)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        return self.as_conv(inputs[0][-1]).macs(inputs, output)


@register("separable")
@dataclass(frozen=True)
class Separable(Windowed):
    """Depthwise-separable convolution: a depthwise conv (no bias) then a 1x1 conv."""

    KIND: ClassVar[str] = "separable"
    EXAMPLE: ClassVar[str] = "separable 64 3x3 relu same"
    SUMMARY: ClassVar[str] = "depthwise conv (no bias) then a pointwise 1x1 conv, as in Xception"

    filters: int = opt(IntT(1), doc="output channels of the pointwise conv", positional=True)
    kernel: tuple[int, ...] = opt(SizeT(), doc="depthwise window: 3 or 3x3", positional=True)
    activation: str = opt(ACTIVATION, "linear", "applied to the output", positional=True)
    padding: str = opt(PADDING, "valid", "valid, same or full", positional=True)
    multiplier: int = opt(IntT(1), 1, "depthwise filters per input channel")
    stride: tuple[int, ...] = opt(SizeT(), (1,), "step of the depthwise window")
    dilation: tuple[int, ...] = opt(SizeT(), (1,), "spacing of the depthwise taps")
    bias: bool = opt(BoolT(), True, "a learned bias after the pointwise conv")
    pad: tuple[int, ...] | None = opt(PadT(), None, "explicit zero padding instead of padding=")

    def depthwise(self, channels: int) -> Conv:
        """The first half, as the grouped convolution it is (no bias, no activation)."""
        return _grouped_conv(self, channels, False, "linear")

    def bind(self, inputs: tuple[Shape, ...]) -> Separable:
        return _bind_grouped(self, self.depthwise(inputs[0][-1]), inputs)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        mid = self.depthwise(inputs[0][-1]).output_shape(inputs)
        return (*mid[:-1], self.filters)

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        c = inputs[0][-1]
        r = len(inputs[0]) - 1
        w = [
            Weight("depthwise_kernel", (*self.kernel, 1, c * self.multiplier)),
            Weight("pointwise_kernel", (*(1,) * r, c * self.multiplier, self.filters)),
        ]
        if self.bias:
            w.append(Weight("bias", (self.filters,)))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        c = inputs[0][-1] * self.multiplier
        positions = math.prod(output[:-1])
        return positions * c * math.prod(self.kernel) + positions * c * self.filters


@register("deconv")
@dataclass(frozen=True)
class Deconv(Layer):
    """Transposed convolution ("deconvolution", "up-convolution"), as TensorFlow defines it:
    each input position scatters kernel x value into the output, stride apart."""

    KIND: ClassVar[str] = "deconv"
    EXAMPLE: ClassVar[str] = "deconv 32 3x3 same stride=2"
    SUMMARY: ClassVar[str] = (
        "transposed convolution: out = n * stride ('same') or "
        "n * stride + max(k - stride, 0) ('valid')"
    )

    filters: int = opt(IntT(1), doc="output channels", positional=True)
    kernel: tuple[int, ...] = opt(SizeT(), doc="window size: 3 or 3x3", positional=True)
    activation: str = opt(ACTIVATION, "linear", "applied to the output", positional=True)
    padding: str = opt(
        ChoiceT(("valid", "same"), "padding"),
        "valid",
        "valid or same (TensorFlow's meaning)",
        positional=True,
    )
    stride: tuple[int, ...] = opt(SizeT(), (1,), "spacing of the scattered windows")
    bias: bool = opt(BoolT(), True, "add a learned bias per filter")

    def bind(self, inputs: tuple[Shape, ...]) -> Deconv:
        r = spatial_rank("deconv", inputs[0])
        return evolve(
            self,
            kernel=fit_rank("deconv", "kernel", self.kernel, r),
            stride=fit_rank("deconv", "stride", self.stride, r),
        )

    def crops(self, inputs: tuple[Shape, ...]) -> tuple[tuple[int, int], ...]:
        """Per axis: where the output starts in the full scatter, and its length."""
        out = []
        for n, k, s in zip(inputs[0][:-1], self.kernel, self.stride):
            if self.padding == "same":
                out.append((max(k - s, 0) // 2, n * s))
            else:
                out.append((0, n * s + max(k - s, 0)))
        return tuple(out)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return (*(length for _, length in self.crops(inputs)), self.filters)

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        # (k..., out, in): Keras' Conv2DTranspose layout, the canonical one
        w = [Weight("kernel", (*self.kernel, self.filters, inputs[0][-1]))]
        if self.bias:
            w.append(Weight("bias", (self.filters,)))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        x = inputs[0]
        return math.prod(x[:-1]) * x[-1] * self.filters * math.prod(self.kernel)


@register("globalpool")
@dataclass(frozen=True)
class GlobalPool(Layer):
    """Max or average over every spatial position: one value per channel."""

    KIND: ClassVar[str] = "globalpool"
    EXAMPLE: ClassVar[str] = "globalpool avg"
    SUMMARY: ClassVar[str] = "max or average over all positions, giving a vector of channels"

    op: str = opt(ChoiceT(("max", "avg"), "pooling"), doc="max or avg", positional=True)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        spatial_rank("globalpool", inputs[0])
        return (inputs[0][-1],)


@register("upsample")
@dataclass(frozen=True)
class Upsample(Layer):
    """Enlarges the spatial axes by whole factors."""

    KIND: ClassVar[str] = "upsample"
    EXAMPLE: ClassVar[str] = "upsample 2"
    SUMMARY: ClassVar[str] = "enlarge the spatial axes: nearest or bilinear (half-pixel centres)"

    size: tuple[int, ...] = opt(SizeT(), doc="factor per axis: 2 or 2x1", positional=True)
    mode: str = opt(
        ChoiceT(("nearest", "bilinear"), "upsampling"),
        "nearest",
        "nearest (repeat) or bilinear (half-pixel centres, like "
        "TensorFlow and align_corners=False)",
        positional=True,
    )

    def bind(self, inputs: tuple[Shape, ...]) -> Upsample:
        r = spatial_rank("upsample", inputs[0])
        if self.mode == "bilinear" and r != 2:
            raise LayerError(
                "bilinear upsampling needs an image (height x width x channels)", field="mode"
            )
        return evolve(self, size=fit_rank("upsample", "size", self.size, r))

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (x,) = inputs
        return (*(n * f for n, f in zip(x[:-1], self.size)), x[-1])


@register("add")
@dataclass(frozen=True)
class Add(Layer):
    """Element-wise sum: `add NAME` adds a named earlier tensor; `add { branch ... }`."""

    KIND: ClassVar[str] = "add"
    ARITY: ClassVar[int] = -1  # a merge: any number of inputs
    EXAMPLE: ClassVar[str] = "add stem"
    SUMMARY: ClassVar[str] = "element-wise sum of tensors of one shape"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if other != first:
                raise LayerError(
                    f"add needs tensors of one shape, but got {fmt_shape(first)} and "
                    f"{fmt_shape(other)}"
                )
        return first


@register("concat")
@dataclass(frozen=True)
class Concat(Layer):
    """Joins tensors along the channel (last) axis."""

    KIND: ClassVar[str] = "concat"
    ARITY: ClassVar[int] = -1
    EXAMPLE: ClassVar[str] = "concat skip1"
    SUMMARY: ClassVar[str] = "join tensors along the channel axis; other axes must match"

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if len(other) != len(first) or other[:-1] != first[:-1]:
                raise LayerError(
                    f"concat joins channels, so every other axis must match, but got "
                    f"{fmt_shape(first)} and {fmt_shape(other)}"
                )
        return (*first[:-1], sum(s[-1] for s in inputs))


@register("activation")
@dataclass(frozen=True)
class Activation(Layer):
    """An activation as its own statement: ``relu``, ``leaky_relu alpha=0.1``..."""

    KIND: ClassVar[str] = "activation"
    EXAMPLE: ClassVar[str] = "leaky_relu alpha=0.1"
    SUMMARY: ClassVar[str] = "an element-wise activation (softmax: over the channel axis)"

    fn: str = opt(ACTIVATION, doc="the function", positional=True)
    alpha: float | None = opt(
        FloatT(),
        None,
        f"leaky_relu slope for x < 0 (default {LEAKY_RELU_ALPHA}) or elu "
        f"scale (default {ELU_ALPHA})",
        positional=True,
    )
    approximate: bool | None = opt(
        BoolT(), None, "gelu: tanh approximation instead of erf (default false)"
    )

    def check_options(self) -> None:
        if self.alpha is not None and self.fn not in ("leaky_relu", "elu"):
            raise LayerError(f"{self.fn} has no alpha; only leaky_relu and elu do", field="alpha")
        if self.approximate is not None and self.fn != "gelu":
            raise LayerError(
                f"{self.fn} has no approximate option; only gelu does", field="approximate"
            )

    def bind(self, inputs: tuple[Shape, ...]) -> Activation:
        alpha = self.alpha
        if alpha is None and self.fn in ("leaky_relu", "elu"):
            alpha = LEAKY_RELU_ALPHA if self.fn == "leaky_relu" else ELU_ALPHA
        approximate = self.approximate
        if self.fn == "gelu" and approximate is None:
            approximate = False
        return evolve(self, alpha=alpha, approximate=approximate)


# The activation keywords preset fn to their own name.
for _a in ACTIVATIONS:
    REGISTRY[_a] = Entry(_a, Activation, (("fn", _a),))
del _a
