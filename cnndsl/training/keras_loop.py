"""Training in Keras: the generated model of the logits model, compiled with the stable
loss for a softmax head, ``SparseCategoricalCrossentropy(from_logits=True)``, and Adam.

One process (TensorFlow uses every core itself); ``--nproc`` is PyTorch's. The weights
start from the same canonical ``init`` as PyTorch's, and ``keras.utils.set_random_seed``
fixes the shuffling and dropout.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..frameworks import framework, keras_model, keras_weights
from ..weights import Weights
from .common import Config, Epoch, Progress, Result, digest, epoch_lr
from .data import Dataset
from .heads import Head

EVAL_BATCH = 256


def train_keras(head: Head, data: Dataset, init: Weights, cfg: Config, echo: bool) -> Result:
    keras = framework("keras")
    keras.utils.set_random_seed(cfg.seed)
    built = keras_model(head.logits, init)
    built.compile(
        optimizer=keras.optimizers.Adam(cfg.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    progress = Progress(cfg.epochs) if echo else None
    batches = _Batches(keras, progress)
    start, history = time.perf_counter(), []
    for e in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        built.optimizer.learning_rate.assign(epoch_lr(cfg, e))
        batches.epoch = e
        fit = built.fit(
            data.x_train, data.y_train, batch_size=cfg.batch_size, epochs=1, shuffle=True,
            verbose=0, callbacks=[batches],
        )  # fmt: skip
        test = accuracy(built, data.x_test, data.y_test)
        loss, acc = fit.history["loss"][-1], fit.history["accuracy"][-1]
        history.append(Epoch(e, float(loss), float(acc), test, time.perf_counter() - t0))
        if progress is not None:
            progress.clear()
            print(history[-1].line(cfg.epochs), flush=True)
    weights = keras_weights(head.logits, built)
    seconds = time.perf_counter() - start
    return Result(weights, history, seconds, [digest(weights)], batches.first_loss)


def accuracy(built: Any, x: np.ndarray, y: np.ndarray) -> float:
    logits = built.predict(x, batch_size=EVAL_BATCH, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y)) if len(y) else float("nan")


def _Batches(keras: Any, progress: Progress | None) -> Any:
    """A callback feeding the progress bar and noting the first batch's loss (computed
    before that batch's step: the initial weights' loss). A class made here: Keras is
    imported late."""

    class Batches(keras.callbacks.Callback):  # type: ignore[misc]
        epoch = 1
        first_loss = float("nan")

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if self.epoch == 1 and batch == 0 and logs:
                self.first_loss = float(logs["loss"])
            if progress is not None:
                progress.batch(self.epoch, batch + 1, self.params.get("steps") or 0)

    return Batches()
