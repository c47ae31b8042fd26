"""Feature-map pictures: one PNG per layer, one labelled tile per channel (needs Pillow).

This is the picture first CNN lessons draw by hand: what each filter of each layer
sees in one input. Each tile is scaled to its own min..max, black to white.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import numpy as np

from .errors import CnnDslError, Diagnostic
from .ir import Model, Node
from .layers import fmt_shape
from .safeio import write_output

MAX_TILES = 64
MIN_TILE = 128  # pixels: small maps are enlarged (nearest neighbour) to at least this
GAP, LABEL_H, TITLE_H = 4, 12, 18
#: the drawing one run may do, in pixels, counted from the shapes before the run: about
#: 2 minutes here (8 pixels a microsecond); every example fits (DenseNet-121: 0.65 billion),
#: `repeat 10000 { relu }` on 16x16x64 asked for 12 billion (42 minutes)
MAX_PIXELS = 1_000_000_000
#: what a file costs besides its pixels (made, encoded, renamed: 6 ms), as pixels
FILE_PIXELS = 100_000


def _require_pillow() -> tuple[Any, Any, Any]:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise CnnDslError(
            [Diagnostic("drawing feature maps needs Pillow", None, "pip install 'cnndsl[viz]'")],
            "--feature-maps",
            "",
        ) from None
    return Image, ImageDraw, ImageFont


def _to_u8(a: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(a)), float(np.max(a))
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((a - lo) / (hi - lo) * 255).astype(np.uint8)


def _tiles(act: np.ndarray) -> tuple[list[np.ndarray], str]:
    """Per-channel 2-D pictures of one sample's activation, and a note on what is shown."""
    if act.ndim == 3:  # H x W x C: one tile per channel
        c = act.shape[-1]
        shown = min(c, MAX_TILES)
        note = f"channels 0-{shown - 1} of {c}" if shown < c else f"{c} channel{'s' * (c > 1)}"
        return [act[:, :, i] for i in range(shown)], note
    if act.ndim == 2:  # L x C: channels as rows, positions as columns
        return [act.T], "rows: channels, columns: positions"
    return [act[None, :]], "features"


def write_feature_maps(model: Model, activations: dict[str, np.ndarray], outdir: str) -> list[str]:
    """Write ``NN_<layer>.png`` for every node (sample 0 of the batch); return the paths.

    Each file is written safely (:func:`cnndsl.safeio.write_output`); the directory must
    exist (:func:`cnndsl.safeio.make_dir`, before the forward pass).
    """
    pil = _require_pillow()
    font = pil[2].load_default()
    paths = []
    for i, node in enumerate(model.nodes):
        canvas = _picture(pil, font, node, activations[node.name][0])
        path = os.path.join(outdir, f"{i:02d}_{node.name}.png")
        write_output(path, functools.partial(_save_png, canvas))
        paths.append(path)
    return paths


def _save_png(canvas: Any, path: str) -> None:
    canvas.save(path, format="PNG")


def _layout(th: int, tw: int, n: int) -> tuple[int, int, int, int, int, int]:
    """(cell height, cell width, columns, rows, width, height) of ``n`` tiles th x tw."""
    scale = max(1, math.ceil(MIN_TILE / max(th, tw))) if max(th, tw) < MIN_TILE else 1
    scale_h = MIN_TILE // 4 if th == 1 else scale  # a strip: make it tall enough to see
    cell_h, cell_w = th * scale_h, tw * scale
    cols = n if n <= 4 else math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    width = max(cols * (cell_w + GAP) + GAP, 260)
    return cell_h, cell_w, cols, rows, width, TITLE_H + rows * (cell_h + LABEL_H + GAP) + GAP


def pixels(model: Model) -> int:
    """The pixels of every layer's picture, from the shapes alone (as _tiles cuts them)."""
    total = 0
    for node in model.nodes:
        shape = node.shape
        if len(shape) == 3:
            th, tw, n = shape[0], shape[1], min(shape[2], MAX_TILES)
        else:  # L x C: one tile, channels as rows; features: one strip
            th, tw, n = (shape[1], shape[0], 1) if len(shape) == 2 else (1, shape[0], 1)
        *_, width, height = _layout(th, tw, n)
        total += width * height
    return total


def check_pixels(model: Model, source: str | None = None) -> None:
    """Refuse feature maps whose pictures, with FILE_PIXELS a file, pass MAX_PIXELS."""
    n = len(model.nodes)
    hint = "run without --feature-maps, or draw a model cut after the layers to look at"
    check_drawing(model, f"the feature maps of {n:,} layers", n, pixels(model), hint, source)


def check_drawing(
    model: Model, what: str, files: int, total: int, hint: str, source: str | None = None
) -> None:
    """A CnnDslError when ``files`` pictures of ``total`` pixels pass MAX_PIXELS."""
    work = total + files * FILE_PIXELS
    if work > MAX_PIXELS:
        message = (
            f"{what} would count {work:,} pixels ({total:,} drawn, and {FILE_PIXELS:,} for "
            f"each of {files:,} files), over the limit of {MAX_PIXELS:,}"
        )
        raise CnnDslError([Diagnostic(message, None, hint)], model.filename, source)


def _picture(pil: tuple[Any, Any, Any], font: Any, node: Node, act: np.ndarray) -> Any:
    """One layer's picture: a title, then a labelled tile per channel."""
    Image, ImageDraw, _ = pil
    tiles, note = _tiles(act)
    th, tw = tiles[0].shape
    cell_h, cell_w, cols, _, width, height = _layout(th, tw, len(tiles))
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    title = f"{node.name} ({node.keyword}) {fmt_shape(node.shape)}, line {node.span.line}: {note}"
    draw.text((GAP, 3), title, fill=0, font=font)
    for t, tile in enumerate(tiles):
        r, c = divmod(t, cols)
        x0 = GAP + c * (cell_w + GAP)
        y0 = TITLE_H + r * (cell_h + LABEL_H + GAP)
        if len(tiles) > 1:
            draw.text((x0, y0), f"c{t}", fill=0, font=font)
        img = Image.fromarray(_to_u8(tile)).resize((cell_w, cell_h), Image.Resampling.NEAREST)
        canvas.paste(img, (x0, y0 + LABEL_H))
    return canvas
