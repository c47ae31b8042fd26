"""The input, fully connected layers, flatten and dropout."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..options import BoolT, FloatT, IntT, ShapeT
from .base import Layer, LayerError, Shape, Trait, Weight, bias, fmt_shape, kernel, opt, register
from .rules import ACTIVATION, describe


@register("input")
@dataclass(frozen=True, eq=False, repr=False)
class Input(Layer):
    """The model's input, without the batch: H x W x C, L x C, or a feature vector."""

    NUMBERED: ClassVar[bool] = False

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


@register("flatten")
@dataclass(frozen=True, eq=False, repr=False)
class Flatten(Layer):
    """Flattens in channels-last (row-major H, W, C) order."""

    NUMBERED: ClassVar[bool] = False

    KIND: ClassVar[str] = "flatten"
    EXAMPLE: ClassVar[str] = "flatten"
    SUMMARY: ClassVar[str] = "reshape to a vector, in channels-last (H, W, C) order"
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.FLATTENS})

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return (math.prod(inputs[0]),)


@register("dense")
@dataclass(frozen=True, eq=False, repr=False)
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
                f"dense needs a vector, but its input is {describe(x)}",
                hint=f"add `flatten` before it (giving {math.prod(x)} features)",
            )
        return (self.units,)

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        w = [kernel("kernel", (inputs[0][0], self.units), "io")]
        if self.bias:
            w.append(bias(self.units))
        return tuple(w)

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        return inputs[0][0] * self.units


@register("dropout")
@dataclass(frozen=True, eq=False, repr=False)
class Dropout(Layer):
    """Randomly zeroes inputs while training; the identity at inference."""

    KIND: ClassVar[str] = "dropout"
    EXAMPLE: ClassVar[str] = "dropout 0.5"
    SUMMARY: ClassVar[str] = "zeroes a fraction of inputs in training; identity at inference"
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.ELEMENTWISE})

    rate: float = opt(
        FloatT(0.0, 1.0, hi_open=True), doc="fraction dropped, in [0, 1)", positional=True
    )
