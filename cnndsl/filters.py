"""Learned filters as pictures: one PNG per convolution kernel, a grid of small tiles —
a row per filter (output channel), a column per input channel — in the style of the
feature-map pictures (:mod:`cnndsl.viz`; needs Pillow).

Every weight with spatial axes (``k`` in its declared axes) is a kernel. One grey scale per
picture, symmetric about zero: mid-grey is 0, white the largest positive weight, black the
most negative, so that tiles compare (an edge detector shows as a light and a dark side).
A 1-D kernel (k, i, o) shows as a strip 1 pixel high per filter.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import numpy as np

from .ir import Model, Node
from .layers import Weight, fmt_shape
from .safeio import write_output
from .viz import GAP, LABEL_H, TITLE_H, _require_pillow, _save_png, check_drawing
from .weights import Weights

MAX_ROWS, MAX_COLS = 32, 16  # filters and input channels shown
MIN_TILE = 40  # pixels: a 5x5 kernel is enlarged (nearest neighbour) to at least this
#: pixels: a larger kernel shows every n-th tap, to at most this (a 3000x3000 kernel drawn
#: whole made a 96,000 x 48,000 picture)
MAX_TILE = 200


def kernels(model: Model) -> list[tuple[Node, Weight]]:
    """The model's spatial kernels, in model order."""
    return [(n, w) for n in model.nodes for w in n.weights if "k" in w.axes and "o" in w.axes]


def _grid(arr: np.ndarray, axes: str) -> np.ndarray:
    """A kernel as (filters, input channels, kh, kw): channel axes first, a 1-D kernel 1 high."""
    spatial = [i for i, a in enumerate(axes) if a == "k"]
    out, inp = axes.index("o"), axes.index("i") if "i" in axes else None
    order = [out, *([inp] if inp is not None else []), *spatial]
    g: np.ndarray = arr.transpose(order)
    if inp is None:
        g = g[:, None]
    return g[:, :, None, :] if len(spatial) == 1 else g


def write_filters(model: Model, weights: Weights, outdir: str) -> list[str]:
    """Write ``NN_<layer>_<weight>.png`` per kernel into ``outdir`` (which must exist)."""
    pil = _require_pillow()
    font = pil[2].load_default()
    paths = []
    for i, (node, w) in enumerate(kernels(model)):
        grid = _grid(np.asarray(weights[node.name][w.name], np.float64), w.axes)
        canvas = _picture(pil, font, node, w, grid)
        path = os.path.join(outdir, f"{i:02d}_{node.name}_{w.name}.png")
        write_output(path, functools.partial(_save_png, canvas))
        paths.append(path)
    return paths


def to_grey(grid: np.ndarray) -> np.ndarray:
    """Symmetric grey scale: 0 -> 128, +max|w| -> 255, -max|w| -> 1."""
    top = float(np.max(np.abs(grid), initial=0.0))
    if not math.isfinite(top) or top == 0:
        return np.full(grid.shape, 128, np.uint8)
    return np.round(128 + 127 * grid / top).astype(np.uint8)


def _grid_size(n: int, ci: int) -> tuple[int, int]:
    """(rows, columns) of tiles for ``n`` filters of ``ci`` input channels."""
    if ci == 1:
        shown = min(n, MAX_ROWS * MAX_COLS)
        cols = min(shown, math.ceil(math.sqrt(shown)) if shown > 8 else shown)
        return math.ceil(shown / cols), cols
    return min(n, MAX_ROWS), min(ci, MAX_COLS)


def _cells(kh: int, kw: int) -> tuple[int, int, int]:
    """(taps step, cell height, cell width) in pixels of a kh x kw kernel's tile."""
    step = math.ceil(max(kh, kw) / MAX_TILE)
    kh, kw = -(-kh // step), -(-kw // step)
    scale = max(1, math.ceil(MIN_TILE / max(kh, kw)))
    return step, max(kh * scale, 8), kw * scale


#: pixels a title character takes in Pillow's default font, for the count: digits take 6,
#: most letters 4-5, W and m 9-10 (an estimate: the count bounds work, it is not drawn)
CHAR_PX = 6


def pixels(model: Model) -> int:
    """The pixels of the kernels' pictures, from the shapes alone, as _picture makes them
    (a title's width by CHAR_PX a character: it widens a narrow grid)."""
    total = 0
    for node, w in kernels(model):
        n, ci = w.shape[w.axes.index("o")], w.shape[w.axes.index("i")] if "i" in w.axes else 1
        taps = [size for size, axis in zip(w.shape, w.axes) if axis == "k"]
        rows, cols = _grid_size(n, ci)
        step, cell_h, cell_w = _cells(*([1, *taps] if len(taps) == 1 else taps))
        title = _title(node, w, _note(n, ci, rows, step))
        *_, width, height = _size(rows, cols, cell_h, cell_w, ci > 1, CHAR_PX * len(title))
        total += width * height
    return total


def _size(
    rows: int, cols: int, cell_h: int, cell_w: int, labelled: bool, title_px: int
) -> tuple[int, int, int, int]:
    """(left margin, label height, width, height) of a picture of rows x cols cells: row
    and column labels when ``labelled`` (several input channels), at least the title wide."""
    left, label_h = (28, LABEL_H) if labelled else (GAP, 0)
    width = max(left + cols * (cell_w + GAP) + GAP, title_px + 2 * GAP)
    return left, label_h, width, TITLE_H + label_h + rows * (cell_h + GAP) + GAP


def _note(n: int, ci: int, rows: int, step: int) -> str:
    """What a picture shows of ``n`` filters of ``ci`` inputs (its title's end)."""
    if ci == 1:
        shown = min(n, MAX_ROWS * MAX_COLS)
        note = f"{shown} of {n} filters" if shown < n else f"{n} filters"
    else:
        note = f"rows: {rows} of {n} filters" if rows < n else "rows: filters"
        note += ", columns: inputs"
    return note + (f"; one tap in {step} shown" if step > 1 else "")


def _title(node: Node, w: Weight, note: str) -> str:
    return f"{node.name} {w.name} {fmt_shape(w.shape)}, line {node.span.line}: {note}; grey 0"


def check_filters(model: Model, source: str | None = None) -> None:
    """Refuse kernels whose pictures would take minutes to draw (viz.MAX_PIXELS)."""
    n = len(kernels(model))
    hint = "draw a model cut after the convolutions to look at"
    check_drawing(model, f"the pictures of {n:,} kernels", n, pixels(model), hint, source)


def _layout(grid: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(tiles as rows x cols x kh x kw, column labels). One input channel: the filters
    themselves fill a square-ish grid; else a row per filter."""
    n, ci = grid.shape[:2]
    rows, cols = _grid_size(n, ci)
    if ci == 1:
        shown = min(n, MAX_ROWS * MAX_COLS)
        tiles = np.full((rows * cols, *grid.shape[2:]), np.nan)
        tiles[:shown] = grid[:shown, 0]
        return tiles.reshape(rows, cols, *grid.shape[2:]), []
    return grid[:rows, :cols], [f"i{c}" for c in range(cols)]


def _picture(pil: tuple[Any, Any, Any], font: Any, node: Node, w: Weight, grid: np.ndarray) -> Any:
    Image, ImageDraw, _ = pil
    tiles, heads = _layout(grid)
    step, cell_h, cell_w = _cells(*tiles.shape[2:])
    rows, cols = tiles.shape[:2]
    n, ci = grid.shape[:2]
    title = _title(node, w, _note(n, ci, rows, step))
    tiles = tiles[:, :, ::step, ::step]
    title_px = int(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(title, font=font))
    left, label_h, width, height = _size(rows, cols, cell_h, cell_w, bool(heads), title_px)
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    draw.text((GAP, 3), title, fill=0, font=font)
    grey = to_grey(np.nan_to_num(tiles))
    for c, text in enumerate(heads):
        draw.text((left + c * (cell_w + GAP), TITLE_H), text, fill=0, font=font)
    for r in range(rows):
        y0 = TITLE_H + label_h + r * (cell_h + GAP)
        if heads:
            draw.text((GAP, y0), f"f{r}", fill=0, font=font)
        for c in range(cols):
            if np.isnan(tiles[r, c]).all():
                continue
            tile = Image.fromarray(grey[r, c]).resize((cell_w, cell_h), Image.Resampling.NEAREST)
            canvas.paste(tile, (left + c * (cell_w + GAP), y0))
    return canvas
