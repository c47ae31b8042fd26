"""Activations as statements of their own (``relu``, ``leaky_relu alpha=0.1``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..options import BoolT, FloatT
from .base import REGISTRY, Entry, Layer, LayerError, Shape, Trait, evolve, opt, register
from .rules import ACTIVATION, ACTIVATIONS, ELU_ALPHA, LEAKY_RELU_ALPHA


@register("activation")
@dataclass(frozen=True)
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
