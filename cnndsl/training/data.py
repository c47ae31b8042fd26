"""Training data, offline: the bundled digits, a ``.npz`` of arrays, or a folder of images.

Every source gives float32 inputs shaped ``(N, *model input)``, channels last, and int64
labels, split into a training and a test set. Nothing is downloaded:

- ``digits``: scikit-learn's 8x8 handwritten digits (1,797 images shipped inside its wheel,
  ``sklearn.datasets.load_digits``), values 0..16 scaled to [0, 1], upsampled to the model's
  height x width by bilinear interpolation with half-pixel centres (as Pillow and
  ``tf.image.resize`` do: output pixel i samples the input at (i + 0.5) * 8 / H - 0.5,
  clamped at the edges) and repeated over the model's channels;
- ``FILE.npz``: ``x`` shaped (N, H, W, C) or (N, L, C) exactly as the model's input, integer
  ``y`` (N,); with ``x_test`` / ``y_test`` too, those are the test set;
- ``DIR``: one sub-folder of images per class, classes numbered in sorted folder-name order;
  each image read like ``cnndsl run --input`` reads one (converted to the model's channels,
  resized bilinearly, scaled to [0, 1]).

Without a test set of its own, a source is split with :data:`SPLIT_SEED`, always the same:
:data:`TEST_FRACTION` of each class is held out for testing (a stratified split).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import numpy as np

from ..errors import CnnDslError, Diagnostic
from ..ir import Model
from ..layers import fmt_shape

SPLIT_SEED = 0
TEST_FRACTION = 0.2


class DataMissing(Exception):
    """A source needs a package that is not installed (the message names the extra)."""


@dataclass(frozen=True)
class Dataset:
    """Inputs and labels, split; ``source`` names where they came from, ``notes`` what was
    done to them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    notes: tuple[str, ...] = ()

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(initial=-1), self.y_test.max(initial=-1))) + 1


def _fail(where: str, message: str, hint: str | None = None) -> CnnDslError:
    return CnnDslError([Diagnostic(message, None, hint)], where, "")


def load_data(source: str, model: Model, classes: int) -> Dataset:
    """The dataset ``source`` names, checked against the model's input and its ``classes``."""
    if source == "digits":
        data = digits(model)
    else:
        from .files import folder, npz

        data = folder(source, model) if os.path.isdir(source) else npz(source, model)
    check_labels(data, classes, model)
    return data


def check_labels(data: Dataset, classes: int, model: Model) -> None:
    for name, y in (("training", data.y_train), ("test", data.y_test)):
        bad = y[(y < 0) | (y >= classes)]
        if bad.size:
            worst = int(bad.min()) if bad.min() < 0 else int(bad.max())
            raise _fail(
                data.source,
                f"{name} label {worst} is outside the model's {classes} classes "
                f"(0-{classes - 1}); {bad.size} label{'s' * (bad.size > 1)} out of range",
                f"the head of {model.name} (line {model.output_node.span.line}) must have as "
                "many units as the data has classes",
            )


def split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified split with :data:`SPLIT_SEED`: the same for every run and framework."""
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: round(len(idx) * TEST_FRACTION)]] = True
    return x[~test], y[~test], x[test], y[test]


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): bilinear interpolation with half-pixel centres, edges clamped."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def resize(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, h, w) -> (N, height, width), bilinear (:func:`resize_matrix` on each axis)."""
    rows = resize_matrix(images.shape[1], height)
    cols = resize_matrix(images.shape[2], width)
    out: np.ndarray = np.einsum("ph,nhw,qw->npq", rows, images, cols)
    return out


def digits(model: Model) -> Dataset:
    """scikit-learn's bundled digits, fitted to the model's image input."""
    shape = model.input_shape
    if len(shape) != 3:
        raise _fail(
            "digits",
            f"the digits are 8x8 images, but {model.name} takes {fmt_shape(shape)}",
            "use a model whose input is H x W x C (for example input 28x28x1)",
        )
    try:
        load_digits = importlib.import_module("sklearn.datasets").load_digits
    except ImportError:
        raise DataMissing("--data digits needs scikit-learn: pip install 'cnndsl[train]'") from None
    bunch = load_digits()
    h, w, c = shape
    x = resize(np.asarray(bunch.images, np.float64) / 16.0, h, w)
    x = np.repeat(x[..., None], c, axis=-1).astype(np.float32)
    y = np.asarray(bunch.target, np.int64)
    notes = ["1,797 8x8 digits scaled to [0, 1]"]
    if (h, w) != (8, 8):
        notes.append(f"resized to {h}x{w} (bilinear)")
    if c > 1:
        notes.append(f"repeated over {c} channels")
    return Dataset(*split(x, y), "digits", tuple(notes))
