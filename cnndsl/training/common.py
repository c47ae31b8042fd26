"""What both frameworks' training loops share: the settings, the per-epoch record, and the
progress shown while an epoch runs."""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ..weights import Weights

#: defaults measured on LeNet-5 and the digits (docs/training.md): Adam, 15 epochs
EPOCHS, BATCH_SIZE, LR = 15, 16, 0.005


@dataclass(frozen=True)
class Config:
    """How to train: ``batch_size`` is the global batch (split over ``nproc`` processes)."""

    epochs: int = EPOCHS
    batch_size: int = BATCH_SIZE
    lr: float = LR
    seed: int = 0
    nproc: int = 1


@dataclass(frozen=True)
class Epoch:
    """One epoch: mean training loss and accuracy (over the epoch's batches, in training
    mode), accuracy on the test set, and the seconds it took."""

    epoch: int
    loss: float
    accuracy: float
    test_accuracy: float
    seconds: float

    def line(self, epochs: int) -> str:
        return (
            f"epoch {self.epoch:>{len(str(epochs))}}/{epochs}  loss {self.loss:.4f}  "
            f"accuracy {self.accuracy:.4f}  test accuracy {self.test_accuracy:.4f}  "
            f"({self.seconds:.1f} s)"
        )


@dataclass
class Result:
    """Trained canonical weights, the history, and a digest of each process's weights."""

    weights: Weights
    history: list[Epoch]
    seconds: float
    rank_digests: list[str] = field(default_factory=list)
    #: the loss of the very first batch, before any step: the initial weights' loss
    first_loss: float = float("nan")

    @property
    def test_accuracy(self) -> float:
        return self.history[-1].test_accuracy if self.history else float("nan")


def digest(weights: Weights) -> str:
    """SHA-256 of every array's bytes, in a fixed order: equal digests, equal weights."""
    import numpy as np

    h = hashlib.sha256()
    for node in sorted(weights):
        for name in sorted(weights[node]):
            h.update(f"{node}/{name}".encode())
            h.update(np.ascontiguousarray(weights[node][name], np.float32).tobytes())
    return h.hexdigest()


def epoch_lr(cfg: Config, epoch: int) -> float:
    """The learning rate of epoch ``epoch`` (1-based): ``cfg.lr`` decayed by a half cosine
    over the run, from lr in the first epoch toward lr / 2 / epochs in the last: large steps
    early, small ones at the end, so that the final accuracy does not hop between epochs."""
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / max(cfg.epochs, 1)))


class Progress:
    """A one-line text bar on stderr, redrawn in place, only when stderr is a terminal
    (a log file gets the per-epoch lines and nothing else)."""

    WIDTH = 30

    def __init__(self, epochs: int, stream: TextIO | None = None) -> None:
        self.epochs = epochs
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()

    def batch(self, epoch: int, done: int, total: int) -> None:
        if not self.live:
            return
        filled = self.WIDTH * done // max(total, 1)
        bar = "=" * filled + ">" * (filled < self.WIDTH) + " " * (self.WIDTH - filled - 1)
        self.stream.write(f"\repoch {epoch}/{self.epochs} [{bar}] {done}/{total}")
        self.stream.flush()

    def clear(self) -> None:
        if self.live:
            self.stream.write("\r" + " " * (self.WIDTH + 40) + "\r")
            self.stream.flush()
