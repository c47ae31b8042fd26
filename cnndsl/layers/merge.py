"""Merges of several tensors: element-wise sum and channel concatenation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Layer, LayerError, Shape, Trait, fmt_shape, register


@register("add")
@dataclass(frozen=True, eq=False, repr=False)
class Add(Layer):
    """Element-wise sum: `add NAME` adds a named earlier tensor; `add { branch ... }`."""

    NUMBERED: ClassVar[bool] = False

    KIND: ClassVar[str] = "add"
    ARITY: ClassVar[int] = -1  # a merge: any number of inputs
    EXAMPLE: ClassVar[str] = "add stem"
    SUMMARY: ClassVar[str] = "element-wise sum of tensors of one shape"
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.SUMS})

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
@dataclass(frozen=True, eq=False, repr=False)
class Concat(Layer):
    """Joins tensors along the channel (last) axis."""

    NUMBERED: ClassVar[bool] = False

    KIND: ClassVar[str] = "concat"
    ARITY: ClassVar[int] = -1
    EXAMPLE: ClassVar[str] = "concat skip1"
    SUMMARY: ClassVar[str] = "join tensors along the channel axis; other axes must match"
    TRAITS: ClassVar[frozenset[Trait]] = frozenset({Trait.JOINS_CHANNELS})

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if len(other) != len(first) or other[:-1] != first[:-1]:
                raise LayerError(
                    f"concat joins channels, so every other axis must match, but got "
                    f"{fmt_shape(first)} and {fmt_shape(other)}"
                )
        return (*first[:-1], sum(s[-1] for s in inputs))
