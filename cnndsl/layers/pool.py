"""Pooling over windows and over every position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..options import ChoiceT, PadT, SizeT
from .base import Layer, LayerError, Shape, evolve, opt, register
from .rules import PADDING, Windowed, auto_pads, fit_rank, resolve_pad, spatial_rank, window_out


@register("pool")
@dataclass(frozen=True, eq=False, repr=False)
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


@register("globalpool")
@dataclass(frozen=True, eq=False, repr=False)
class GlobalPool(Layer):
    """Max or average over every spatial position: one value per channel."""

    NUMBERED: ClassVar[bool] = False

    KIND: ClassVar[str] = "globalpool"
    EXAMPLE: ClassVar[str] = "globalpool avg"
    SUMMARY: ClassVar[str] = "max or average over all positions, giving a vector of channels"

    op: str = opt(ChoiceT(("max", "avg"), "pooling"), doc="max or avg", positional=True)

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        spatial_rank("globalpool", inputs[0])
        return (inputs[0][-1],)
