"""Training a model written in cnndsl: ``cnndsl train`` and the library behind it.

:func:`train` takes a checked model, finds its classifier head
(:func:`~cnndsl.training.heads.classifier_head`), trains the *logits* model — the same
model without its final softmax, the same weights — in PyTorch or Keras with cross-entropy
on logits, and returns canonical weights for the real model. Frameworks and scikit-learn
are imported only when a function here needs them; importing this package costs no
NumPy (the ``train`` command's parser reads its defaults).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import Model
from .common import Config, Epoch, Result, digest
from .heads import Head, classifier_head

if TYPE_CHECKING:
    from ..weights import Weights
    from .data import Dataset


def load_data(source: str, model: Model, classes: int) -> Dataset:
    """:func:`cnndsl.training.data.load_data` (NumPy imported only when called)."""
    from .data import load_data as load

    return load(source, model, classes)


__all__ = [
    "Config",
    "Epoch",
    "Head",
    "Result",
    "classifier_head",
    "digest",
    "load_data",
    "train",
]

FRAMEWORKS = ("pytorch", "keras")


def train(
    head: Head, data: Dataset, init: Weights, cfg: Config, framework: str, echo: bool = False
) -> Result:
    """Train ``head``'s logits model from ``init`` on ``data``; the result's weights are
    canonical weights of ``head.model``."""
    if framework == "keras":
        from .keras_loop import train_keras

        return train_keras(head, data, init, cfg, echo)
    from .torch_loop import train_torch

    return train_torch(head, data, init, cfg, echo)


def model_accuracy(model: Model, weights: Weights, data: Dataset) -> float:
    """Test accuracy of the *real* model (softmax and all) on the NumPy interpreter: the
    reference semantics, independent of the framework that trained it."""
    import numpy as np

    from ..backends.numpy import forward

    probs = forward(model, weights, data.x_test)
    return float(np.mean(np.argmax(probs, axis=1) == data.y_test))
