"""Convolutions: conv (1-D/2-D, grouped), depthwise, separable and transposed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from ..options import BoolT, ChoiceT, IntT, PadT, SizeT, Tensor, TensorT
from .base import Layer, LayerError, Shape, Weight, bias, evolve, fmt_shape, kernel, opt, register
from .rules import (
    ACTIVATION,
    PADDING,
    Windowed,
    auto_pads,
    fit_rank,
    resolve_pad,
    spatial_rank,
    window_out,
)


@register("conv")
@dataclass(frozen=True, eq=False, repr=False)
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
        shape = (*self.kernel, cin // self.groups, self.filters)
        w = [kernel("kernel", shape, "k" * len(self.kernel) + "io", self.weights)]
        if self.bias:
            w.append(bias(self.filters))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        cin = inputs[0][-1]
        return math.prod(output[:-1]) * self.filters * math.prod(self.kernel) * (cin // self.groups)


def _divisor_hint(cin: int, filters: int) -> str:
    common = [g for g in range(1, min(cin, filters) + 1) if cin % g == 0 and filters % g == 0]
    return "groups that divide both: " + ", ".join(str(g) for g in common[-6:])


# complex: one branch per accepted form of the literal, and the message listing them
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
@dataclass(frozen=True, eq=False, repr=False)
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
@dataclass(frozen=True, eq=False, repr=False)
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
        k = "k" * r
        w = [
            kernel("depthwise_kernel", (*self.kernel, 1, c * self.multiplier), k + "io"),
            kernel("pointwise_kernel", (*(1,) * r, c * self.multiplier, self.filters), k + "io"),
        ]
        if self.bias:
            w.append(bias(self.filters))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        c = inputs[0][-1] * self.multiplier
        positions = math.prod(output[:-1])
        return positions * c * math.prod(self.kernel) + positions * c * self.filters


@register("deconv")
@dataclass(frozen=True, eq=False, repr=False)
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
        shape = (*self.kernel, self.filters, inputs[0][-1])
        w = [kernel("kernel", shape, "k" * len(self.kernel) + "oi")]
        if self.bias:
            w.append(bias(self.filters))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        x = inputs[0]
        return math.prod(x[:-1]) * x[-1] * self.filters * math.prod(self.kernel)
