"""Activations as statements of their own (``relu``, ``leaky_relu alpha=0.1``), and the
learned one, ``prelu``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..options import BoolT, FloatT
from .base import (
    REGISTRY,
    Entry,
    Init,
    Layer,
    LayerError,
    Shape,
    Trait,
    Weight,
    evolve,
    opt,
    register,
)
from .rules import ACTIVATION, ACTIVATIONS, ELU_ALPHA, LEAKY_RELU_ALPHA

#: prelu's initial slope: PyTorch's default (Keras' is 0; its generated code says 0.25)
PRELU_INIT = 0.25


@register("activation")
@dataclass(frozen=True, eq=False, repr=False)
class Activation(Layer):
    """An activation as its own statement: ``relu``, ``leaky_relu alpha=0.1``..."""

    KIND: ClassVar[str] = "activation"
    EXAMPLE: ClassVar[str] = "leaky_relu alpha=0.1"
    SUMMARY: ClassVar[str] = "an element-wise activation (softmax: over the channel axis)"
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.ELEMENTWISE})

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


@register("prelu")
@dataclass(frozen=True, eq=False, repr=False)
class PReLU(Layer):
    """A leaky relu whose slope for x < 0 is learned, one per channel (the last axis)."""

    KIND: ClassVar[str] = "prelu"
    EXAMPLE: ClassVar[str] = "prelu"
    SUMMARY: ClassVar[str] = (
        f"a learned leaky relu: x if x >= 0, else alpha[c] * x with one slope per channel "
        f"(the last axis), initially {PRELU_INIT}"
    )
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.PER_CHANNEL})

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        c = inputs[0][-1]
        return (Weight("alpha", (c,), "c", Init("const", PRELU_INIT), (0.05, 0.6)),)
