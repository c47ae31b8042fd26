"""Kinds that change the spatial size only: zero padding, cropping and upsampling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..options import ChoiceT, CropT, PadT, SizeT
from .base import Layer, LayerError, Shape, evolve, opt, register
from .rules import AXES, fit_rank, resolve_pad, spatial_rank


@register("zeropad")
@dataclass(frozen=True, eq=False, repr=False)
class ZeroPad(Layer):
    """Pads the spatial axes with zeros."""

    NUMBERED: ClassVar[bool] = False

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


@register("crop")
@dataclass(frozen=True, eq=False, repr=False)
class Crop(Layer):
    """Removes rows/columns at the edges of the spatial axes (Keras' Cropping1D/2D)."""

    NUMBERED: ClassVar[bool] = False

    KIND: ClassVar[str] = "crop"
    EXAMPLE: ClassVar[str] = "crop 1"
    SUMMARY: ClassVar[str] = "remove rows and columns at the edges of the spatial axes"

    crop: tuple[int, ...] = opt(
        CropT(),
        doc="rows/columns removed: 1 (every side), 1x2 (height, width), (before, after) "
        "or (top, bottom, left, right)",
        positional=True,
    )

    def bind(self, inputs: tuple[Shape, ...]) -> Crop:
        r = spatial_rank("crop", inputs[0])
        crops = resolve_pad("crop", self.crop, r, field="crop")
        return evolve(self, crop=tuple(p for pair in crops for p in pair))

    def crops(self) -> tuple[tuple[int, int], ...]:
        """(before, after) per spatial axis; only on a bound layer."""
        return tuple(zip(self.crop[0::2], self.crop[1::2]))

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        (x,) = inputs
        sizes = []
        for axis, n, (a, b) in zip(AXES[len(x) - 1], x[:-1], self.crops()):
            left = n - a - b
            if left < 1:
                raise LayerError(
                    f"crop leaves nothing of the {axis} of the input: {n} - {a} - {b} = {left}",
                    field="crop",
                    hint=f"the {axis} is {n}; crop at most {n - 1} rows/columns in all",
                )
            sizes.append(left)
        return (*sizes, x[-1])


@register("upsample")
@dataclass(frozen=True, eq=False, repr=False)
class Upsample(Layer):
    """Enlarges the spatial axes by whole factors."""

    NUMBERED: ClassVar[bool] = False

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
