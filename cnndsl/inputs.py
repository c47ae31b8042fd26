"""Read a model's input from ``.npy`` or an image, shaped (N, *input_shape), float32.

In two steps, so that a hostile file costs nothing: :func:`open_input` reads only the
``.npy`` header or the image header and checks them against the model, giving the batch
size and the bytes reading will take (what the run's memory budget needs), and
:meth:`InputFile.read` reads the data. A 1 KB ``.npy`` declaring 100000x100000x3, or a PNG
declaring 50000x50000 pixels, is refused before anything is allocated.

Images (PNG, JPEG, ...) need Pillow (``pip install 'cnndsl[viz]'``); they are converted to
the model's channels (L for 1, RGB for 3, RGBA for 4), resized to its height x width
(bilinear, and the caller is told), and scaled to [0, 1]. A JPEG is decoded reduced (by
up to 8) when the model takes fewer pixels; an image that would still decode to more than
:data:`MAX_PIXELS` pixels is refused.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import CnnDslError, Diagnostic
from .ir import Model
from .layers import fmt_shape
from .npyfile import Header, NpyError, read_data, read_header
from .safeio import open_regular, why_unreadable

if TYPE_CHECKING:
    import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
#: the most pixels an image may decode to (after a JPEG's reduced decoding): 16.8 million,
#: 4096x4096 — a camera's JPEG decodes reduced, a larger PNG must be made smaller first
MAX_PIXELS = 1 << 24
#: bytes per pixel Pillow may hold while decoding and converting (two images of 4 bytes)
_IMAGE_BYTES_PER_PIXEL = 8


def _fail(path: str, message: str, hint: str | None = None) -> CnnDslError:
    return CnnDslError([Diagnostic(message, None, hint)], path, "")


@dataclass
class InputFile:
    """An input checked against the model, its data not read yet."""

    path: str
    batch: int
    raw_bytes: int  # what reading allocates besides the float32 batch
    read_fn: Callable[[], tuple[np.ndarray, list[str]]]

    def read(self) -> tuple[np.ndarray, list[str]]:
        """The batch to feed the model, and notes on what was done to it (resizing...)."""
        return self.read_fn()


def open_input(path: str, model: Model) -> InputFile:
    """Check ``path``'s header against ``model``; read nothing else yet."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        return _npy_input(path, model)
    if suffix in IMAGE_SUFFIXES:
        return _image_input(path, model)
    _opened(path).close()  # a missing file says so before its suffix is questioned
    raise _fail(
        path,
        f"cannot read '{suffix or path}' input",
        hint="give a .npy array or an image (PNG, JPEG)",
    )


def load_input(path: str, model: Model) -> tuple[np.ndarray, list[str]]:
    """Both steps at once, for callers with no budget to check."""
    return open_input(path, model).read()


def _opened(path: str) -> Any:
    """The file open for reading, or a CnnDslError saying why it cannot be."""
    try:
        return open_regular(path)
    except OSError as exc:
        raise _fail(path, why_unreadable(exc, "an input file")) from None


# ---------------------------------------------------------------- .npy


def _batch_shape(shape: tuple[int, ...], want: tuple[int, ...], path: str) -> tuple[int, ...]:
    """One sample or a batch, with or without a grayscale channel -> (N, *want)."""
    if shape == want:
        return (1, *want)
    if shape[1:] == want:
        return shape
    if want[-1] == 1 and shape == want[:-1]:  # a grayscale image without its channel
        return (1, *want)
    if want[-1] == 1 and len(shape) == len(want) and shape[1:] == want[:-1]:
        return (shape[0], *want)
    got = f"has shape {fmt_shape(shape)}" if shape else "is a scalar"
    raise _fail(
        path,
        f"the array {got}, but the model takes {fmt_shape(want)} (or a batch N x "
        f"{fmt_shape(want)})",
    )


def _npy_header(path: str, model: Model) -> tuple[Header, tuple[int, ...]]:
    with _opened(path) as fh:
        try:
            header = read_header(fh)
        except NpyError as exc:
            raise _fail(path, str(exc)) from None
        shape = _batch_shape(header.shape, model.input_shape, path)
        size = os.fstat(fh.fileno()).st_size
        if size - fh.tell() < header.nbytes:
            raise _fail(
                path,
                f"the file is truncated: its header declares {fmt_shape(header.shape)} "
                f"{header.type_name} ({header.nbytes:,} bytes of data), "
                f"{size - fh.tell():,} follow",
            )
    if shape[0] == 0:
        raise _fail(path, "the batch is empty")
    return header, shape


def _npy_input(path: str, model: Model) -> InputFile:
    header, shape = _npy_header(path, model)

    def read() -> tuple[np.ndarray, list[str]]:
        with _opened(path) as fh:
            try:
                if read_header(fh) != header:
                    raise NpyError("the file changed while it was read")
                arr = read_data(fh, header)
            except NpyError as exc:
                raise _fail(path, str(exc)) from None
        out: np.ndarray = arr.reshape(shape).astype("float32")
        return out, []

    return InputFile(path, shape[0], header.nbytes, read)


# ---------------------------------------------------------------- images


def _pillow(path: str) -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise _fail(
            path,
            "reading images needs Pillow",
            hint="pip install 'cnndsl[viz]', or give a .npy array",
        ) from None
    return Image


def _image_input(path: str, model: Model) -> InputFile:
    Image = _pillow(path)
    shape = model.input_shape
    if len(shape) != 3 or shape[-1] not in _MODES:
        raise _fail(
            path,
            f"an image cannot feed an input of shape {fmt_shape(shape)}",
            hint="images fit inputs of H x W x 1, 3 or 4 channels; give a .npy array instead",
        )
    with _opened(path) as fh, _decoding(Image, path):
        img, _ = _reduced(Image.open(fh), path, shape)
        pixels = img.size[0] * img.size[1]

    def read() -> tuple[np.ndarray, list[str]]:
        with _opened(path) as fh, _decoding(Image, path):
            img, notes = _reduced(Image.open(fh), path, shape)
            return _decode(Image, img, shape, notes)

    return InputFile(path, 1, pixels * _IMAGE_BYTES_PER_PIXEL, read)


@contextlib.contextmanager
def _decoding(Image: Any, path: str) -> Iterator[None]:
    """Pillow's errors as the input's error; its decompression-bomb warning silenced (the
    size is checked here, against a lower limit)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except CnnDslError:
            raise
        except Image.DecompressionBombError:
            raise _too_large(
                path, f"more than Pillow's limit of {2 * Image.MAX_IMAGE_PIXELS / 1e6:,.0f}"
            ) from None
        except Exception as exc:  # Pillow's decoders raise many kinds on a broken file
            text = str(exc).strip().splitlines()
            why = text[0] if text else type(exc).__name__
            raise _fail(path, f"not a readable image ({why})") from None


def _reduced(img: Any, path: str, shape: tuple[int, ...]) -> tuple[Any, list[str]]:
    """Ask a JPEG to decode at the smallest scale still as large as the model's input; then
    refuse an image that would decode to more than MAX_PIXELS pixels."""
    h, w, c = shape
    notes = []
    full = img.size
    if img.format == "JPEG":
        img.draft(_MODES[c] if c != 4 else None, (w, h))
        if img.size != full:
            notes.append(
                f"decoded the {full[0]}x{full[1]} JPEG reduced, at {img.size[0]}x{img.size[1]}"
            )
    iw, ih = img.size
    if iw * ih > MAX_PIXELS:
        raise _too_large(path, f"{iw}x{ih}, {iw * ih / 1e6:,.1f}", (w, h))
    return img, notes


def _too_large(path: str, size: str, model: tuple[int, int] | None = None) -> CnnDslError:
    takes = f"the model takes {model[0]}x{model[1]}: " if model else ""
    return _fail(
        path,
        f"the image is too large to decode ({size} megapixels); cnndsl decodes images of at "
        f"most {MAX_PIXELS / 1e6:.1f} megapixels",
        hint=f"{takes}make the image smaller first",
    )


def _decode(
    Image: Any, img: Any, shape: tuple[int, ...], notes: list[str]
) -> tuple[np.ndarray, list[str]]:
    h, w, c = shape
    img.load()
    if img.mode != _MODES[c]:
        notes.append(f"converted {img.mode} to {_MODES[c]} ({c} channel{'s' * (c > 1)})")
        img = img.convert(_MODES[c])
    if img.size != (w, h):
        notes.append(f"resized {img.size[0]}x{img.size[1]} to {w}x{h} (bilinear)")
        img = img.resize((w, h), Image.Resampling.BILINEAR)
    import numpy as np

    arr = np.asarray(img, dtype=np.float32) / 255.0
    notes.append("scaled pixel values to [0, 1]")
    return arr.reshape(1, h, w, c), notes
