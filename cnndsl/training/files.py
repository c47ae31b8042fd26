"""Training data from files: a ``.npz`` of arrays, or a folder of images per class.

A ``.npz`` is read like a weight file (:mod:`cnndsl.npyfile`): each member's header first,
checked against the model (shape, dtype, size), then exactly the data it declared — a small
file declaring a huge array is refused before anything is allocated.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from ..errors import CnnDslError, Diagnostic
from ..inputs import IMAGE_SUFFIXES, load_input
from ..ir import Model
from ..layers import fmt_shape
from ..npyfile import Header, NpzError, npy_headers, read_member
from ..safeio import open_regular, why_unreadable
from .data import Dataset, split

#: the most bytes the arrays of a ``.npz`` may declare (4 GiB) and the most images a folder
#: may hold
MAX_BYTES = 1 << 32
MAX_IMAGES = 200_000
KEYS = ("x", "y", "x_test", "y_test")


def _fail(where: str, message: str, hint: str | None = None) -> CnnDslError:
    return CnnDslError([Diagnostic(message, None, hint)], where, "")


# complex: every way a data file can be unreadable is its own clear error
def npz(path: str, model: Model) -> Dataset:
    """``x`` (N, *input) and integer ``y`` (N,); ``x_test``/``y_test`` if given, else a split."""
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise _fail(path, why_unreadable(exc, "a data file")) from None
    with fh:
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise _fail(path, f"not a readable .npz data file ({exc})") from None
        with zf:
            headers = npy_headers(zf, set(KEYS))
            present = [k for k in KEYS if isinstance(headers.get(k), Header)]
            _check(path, model, headers, present)
            try:
                arrays = {k: read_member(zf, k, headers[k]) for k in present}
            except NpzError as exc:
                raise _fail(path, str(exc)) from None
    xs = {k: np.asarray(arrays[k], np.float32) for k in present if k.startswith("x")}
    ys = {k: np.asarray(arrays[k], np.int64) for k in present if k.startswith("y")}
    if "x_test" in xs:
        return Dataset(xs["x"], ys["y"], xs["x_test"], ys["y_test"], path)
    return Dataset(*split(xs["x"], ys["y"]), path, ("split 80/20 per class",))


def _check(path: str, model: Model, headers: dict[str, Header | str], present: list[str]) -> None:
    """Both x and y, x shaped like the model's input, y integers of the same length."""
    for key in ("x", "y"):
        if key not in present:
            why = headers.get(key, "missing")
            raise _fail(
                path,
                f"no readable array '{key}' ({why})",
                "save the data with numpy.savez(path, x=inputs, y=labels)",
            )
    if ("x_test" in present) != ("y_test" in present):
        raise _fail(path, "x_test and y_test come together", "give both or neither")
    total = 0
    for xk, yk in (("x", "y"), ("x_test", "y_test")):
        if xk in present:
            hx, hy = headers[xk], headers[yk]
            assert isinstance(hx, Header) and isinstance(hy, Header)
            _check_pair(path, model, xk, hx, yk, hy)
            total += hx.nbytes + hy.nbytes
    if total > MAX_BYTES:
        raise _fail(path, f"the arrays declare {total:,} bytes, more than {MAX_BYTES:,}")


def _check_pair(path: str, model: Model, xk: str, hx: Header, yk: str, hy: Header) -> None:
    want = model.input_shape
    if hx.shape[1:] != want or len(hx.shape) < 2:
        raise _fail(
            path,
            f"{xk} has shape {fmt_shape(hx.shape)}, but {model.name} takes "
            f"N x {fmt_shape(want)} (its input, line {model.input_node.span.line})",
            "x must be (N, H, W, C) or (N, L, C), channels last, exactly as the model's input",
        )
    if hx.kind not in "fiu":
        raise _fail(path, f"{xk} holds {hx.type_name} values; inputs must be numbers")
    if hy.kind not in "iu" or len(hy.shape) != 1:
        raise _fail(
            path,
            f"{yk} is {hy.type_name} shaped {fmt_shape(hy.shape) or 'a scalar'}; labels are "
            "whole numbers, one per sample",
            "y holds class numbers 0..classes-1, shaped (N,)",
        )
    if hy.shape[0] != hx.shape[0]:
        raise _fail(path, f"{xk} has {hx.shape[0]} samples but {yk} {hy.shape[0]} labels")


# complex: comprehensions over classes and files, each filtered
def folder(path: str, model: Model) -> Dataset:
    """One sub-folder per class (classes in sorted name order), images read like
    ``cnndsl run --input`` reads one; split 80/20 per class."""
    classes = sorted(e.name for e in os.scandir(path) if e.is_dir())
    files = [
        (os.path.join(path, c, f), label)
        for label, c in enumerate(classes)
        for f in sorted(os.listdir(os.path.join(path, c)))
        if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise _fail(
            path,
            "no images found",
            "put one sub-folder of images (PNG, JPEG...) per class in it",
        )
    if len(files) > MAX_IMAGES:
        raise _fail(path, f"{len(files):,} images, more than {MAX_IMAGES:,}")
    x = np.empty((len(files), *model.input_shape), np.float32)
    for i, (image, _) in enumerate(files):
        x[i] = load_input(image, model)[0][0]
    y = np.array([label for _, label in files], np.int64)
    names = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
    notes = (f"{len(classes)} classes: {names}", "images resized bilinearly, scaled to [0, 1]")
    return Dataset(*split(x, y), path, notes)
