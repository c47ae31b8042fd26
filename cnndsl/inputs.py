"""Read a model's input from ``.npy`` or an image, shaped (N, *input_shape), float32.

Images (PNG, JPEG, ...) need Pillow (``pip install 'cnndsl[viz]'``); they are converted to
the model's channels (L for 1, RGB for 3, RGBA for 4), resized to its height x width
(bilinear, and the caller is told), and scaled to [0, 1].
"""

from __future__ import annotations

import os

import numpy as np

from .errors import CnnDslError, Diagnostic
from .ir import Model
from .layers import fmt_shape

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _fail(path: str, message: str, hint: str | None = None) -> CnnDslError:
    return CnnDslError([Diagnostic(message, None, hint)], path, "")


def load_input(path: str, model: Model) -> tuple[np.ndarray, list[str]]:
    """The batch to feed ``model`` and notes on what was done to the data (resizing...)."""
    if not os.path.exists(path):
        raise _fail(path, "no such file")
    if os.path.isdir(path):
        raise _fail(path, "is a directory, not an input file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        return _from_npy(path, model), []
    if suffix in IMAGE_SUFFIXES:
        return _from_image(path, model)
    raise _fail(
        path,
        f"cannot read '{suffix or path}' input",
        hint="give a .npy array or an image (PNG, JPEG)",
    )


def _batched(arr: np.ndarray, want: tuple[int, ...], path: str) -> np.ndarray:
    """One sample or a batch, with or without a grayscale channel -> (N, *want)."""
    if arr.shape == want:
        return arr[None]
    if arr.shape[1:] == want:
        return arr
    if want[-1] == 1 and arr.shape == want[:-1]:  # a grayscale image without its channel
        return arr[None, ..., None]
    if want[-1] == 1 and arr.shape[1:] == want[:-1]:
        return arr[..., None]
    raise _fail(
        path,
        f"the array has shape {fmt_shape(arr.shape)}, but the model takes "
        f"{fmt_shape(want)} (or a batch N x {fmt_shape(want)})",
    )


def _from_npy(path: str, model: Model) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _fail(path, f"not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiub":
        raise _fail(path, "the array must hold numbers")
    arr = _batched(arr, model.input_shape, path)
    if arr.shape[0] == 0:
        raise _fail(path, "the batch is empty")
    out: np.ndarray = arr.astype(np.float32)
    return out


def _from_image(path: str, model: Model) -> tuple[np.ndarray, list[str]]:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise _fail(
            path,
            "reading images needs Pillow",
            hint="pip install 'cnndsl[viz]', or give a .npy array",
        ) from None
    shape = model.input_shape
    if len(shape) != 3 or shape[-1] not in _MODES:
        raise _fail(
            path,
            f"an image cannot feed an input of shape {fmt_shape(shape)}",
            hint="images fit inputs of H x W x 1, 3 or 4 channels; give a .npy array instead",
        )
    h, w, c = shape
    notes: list[str] = []
    try:
        with Image.open(path) as opened:
            opened.load()
            img: Image.Image = opened
            if img.mode != _MODES[c]:
                notes.append(f"converted {img.mode} to {_MODES[c]} ({c} channel{'s' * (c > 1)})")
                img = img.convert(_MODES[c])
            if img.size != (w, h):
                notes.append(f"resized {img.size[0]}x{img.size[1]} to {w}x{h} (bilinear)")
                img = img.resize((w, h), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _fail(path, f"not a readable image ({exc})") from None
    notes.append("scaled pixel values to [0, 1]")
    return arr.reshape(1, h, w, c), notes
