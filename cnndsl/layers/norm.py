"""Normalisation: batch norm (per channel, over the batch) and layer norm (per position)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..options import FloatT
from .base import ONES, ZEROS, Layer, Shape, Trait, Weight, opt, register

#: Defaults the language picks (docs/language.md), spelled out by every backend.
BATCHNORM_EPS = 1e-5
BATCHNORM_MOMENTUM = 0.1


def gamma(c: int) -> Weight:
    """A learned per-channel scale: ones at initialisation, probed in [0.5, 1.5]."""
    return Weight("gamma", (c,), "c", ONES, (0.5, 1.5))


def beta(c: int) -> Weight:
    return Weight("beta", (c,), "c", ZEROS, (-0.5, 0.5))


@register("batchnorm")
@dataclass(frozen=True, eq=False, repr=False)
class BatchNorm(Layer):
    """Normalises each channel (the last axis) with learned scale and offset."""

    KIND: ClassVar[str] = "batchnorm"
    EXAMPLE: ClassVar[str] = "batchnorm"
    SUMMARY: ClassVar[str] = "per-channel normalisation: gamma, beta, moving mean and variance"
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.PER_CHANNEL})

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
            gamma(c),
            beta(c),
            Weight("moving_mean", (c,), "c", ZEROS, (-0.5, 0.5), trainable=False),
            Weight("moving_variance", (c,), "c", ONES, (0.5, 2.0), trainable=False),
        )


@register("layernorm")
@dataclass(frozen=True, eq=False, repr=False)
class LayerNorm(Layer):
    """Normalises each position over its channels (the last axis), with scale and offset."""

    KIND: ClassVar[str] = "layernorm"
    EXAMPLE: ClassVar[str] = "layernorm"
    SUMMARY: ClassVar[str] = "per-position normalisation over the channels: gamma and beta"
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.PER_CHANNEL})

    eps: float = opt(
        FloatT(0.0, lo_open=True),
        1e-5,
        "added to the variance before the square root (PyTorch's default; Keras' is 1e-3)",
    )

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        c = inputs[0][-1]
        return (gamma(c), beta(c))
