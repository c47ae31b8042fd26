"""The training curve as a PNG, drawn with Pillow (no plotting library): two panels, the
training loss per epoch, and training and test accuracy per epoch on 0..1."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from ..safeio import write_output
from ..viz import _require_pillow
from .common import Epoch

W, H = 360, 240  # one panel
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 44, 12, 24, 28
BLACK, GREY, BLUE, ORANGE = (0, 0, 0), (200, 200, 200), (31, 119, 180), (255, 127, 14)


def write_curve(history: Sequence[Epoch], title: str, path: str) -> None:
    """Write ``path``: loss on the left, accuracy (train solid blue, test orange) right."""
    Image, ImageDraw, ImageFont = _require_pillow()
    font = ImageFont.load_default()
    canvas = Image.new("RGB", (2 * W, H + 16), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.text((MARGIN_L, 2), title, fill=BLACK, font=font)
    epochs = [e.epoch for e in history]
    losses = [e.loss for e in history]
    top = max((v for v in losses if math.isfinite(v)), default=1.0) or 1.0
    _panel(draw, font, (0, 16), "loss", epochs, [(losses, BLUE)], (0.0, top))
    series = [([e.accuracy for e in history], BLUE), ([e.test_accuracy for e in history], ORANGE)]
    _panel(draw, font, (W, 16), "accuracy (blue: train, orange: test)", epochs, series, (0, 1))
    write_output(path, functools.partial(_save, canvas))


def _save(canvas: Any, path: str) -> None:
    canvas.save(path, format="PNG", optimize=True)


def _panel(
    draw: Any,
    font: Any,
    origin: tuple[int, int],
    label: str,
    epochs: list[int],
    series: list[tuple[list[float], tuple[int, int, int]]],
    yrange: tuple[float, float],
) -> None:
    """Axes with ticks at both ends, one polyline (with dots) per series."""
    ox, oy = origin
    x0, x1 = ox + MARGIN_L, ox + W - MARGIN_R
    y0, y1 = oy + MARGIN_T, oy + H - MARGIN_B
    lo, hi = yrange
    last = max(epochs, default=1)

    def at(epoch: int, value: float) -> tuple[float, float]:
        fx = (epoch - 1) / max(last - 1, 1)
        fy = (value - lo) / ((hi - lo) or 1.0)
        return x0 + fx * (x1 - x0), y1 - min(max(fy, 0.0), 1.0) * (y1 - y0)

    draw.rectangle((x0, y0, x1, y1), outline=BLACK)
    for frac in (0.25, 0.5, 0.75):
        y = y1 - frac * (y1 - y0)
        draw.line((x0 + 1, y, x1 - 1, y), fill=GREY)
    draw.text((x0, oy + 6), label, fill=BLACK, font=font)
    draw.text((ox + 4, y0 - 4), f"{hi:.3g}", fill=BLACK, font=font)
    draw.text((ox + 4, y1 - 8), f"{lo:.3g}", fill=BLACK, font=font)
    draw.text((x0, y1 + 4), "epoch 1", fill=BLACK, font=font)
    draw.text((x1 - 40, y1 + 4), f"epoch {last}", fill=BLACK, font=font)
    for values, color in series:
        points = [at(e, v) for e, v in zip(epochs, values) if math.isfinite(v)]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        for px, py in points:
            draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=color)
