"""`cnndsl verify`: run NumPy, Keras, PyTorch and ONNX Runtime on the same weights and
inputs, and compare.

Two outputs agree when, element by element, ``|a - b| <= ATOL * s + RTOL * |b|`` with
``s = max(1, max |b|)``: float32 tolerances, scaled so that a large-valued output is not
held to an absolute bound meant for values near 1. On a disagreement the first layer
that diverges is found by bisection over model prefixes (each prefix is generated,
built and compared like the whole model), and named with its source line. A target
whose code generator refuses the model (a layer name PyTorch cannot use) is reported
with compile's error, and the others are still compared; verify then fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .backends import emit
from .backends.numpy import forward
from .errors import CnnDslError
from .frameworks import FrameworkMissing, run
from .ir import Model, Node
from .weights import Weights
from .worker import Pending, can_fork

RTOL = 1e-4
ATOL = 1e-5
TARGETS = ("keras", "pytorch", "onnx")


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    max_abs: float
    max_rel: float  # max |a - b| relative to max |b|
    passed: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "passed": self.passed,
        }


@dataclass
class Report:
    compared: list[str]
    missing: dict[str, str] = field(default_factory=dict)  # backend -> why
    refused: dict[str, CnnDslError] = field(default_factory=dict)  # target -> compile's error
    pairs: list[Pair] = field(default_factory=list)
    diverges_at: dict[str, Node] = field(default_factory=dict)  # target -> first bad node

    @property
    def passed(self) -> bool:
        return len(self.compared) > 1 and not self.refused and all(p.passed for p in self.pairs)


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float, bool]:
    if a.shape != b.shape:
        return float("inf"), float("inf"), False
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    mag = float(np.abs(b).max()) if b.size else 0.0
    scale = max(1.0, mag)
    ok = bool(np.all(diff <= ATOL * scale + RTOL * np.abs(b))) and bool(np.isfinite(a).all())
    max_abs = float(diff.max()) if diff.size else 0.0
    return max_abs, max_abs / mag if mag else max_abs, ok


def prefix(model: Model, k: int) -> Model:
    """The model cut after its first ``k`` nodes (topological order)."""
    return Model(model.name, model.nodes[:k], model.filename)


def verify(
    model: Model,
    weights: Weights,
    x: np.ndarray,
    progress: Callable[[str], None] = lambda s: None,
    background: bool = True,
) -> Report:
    """Every backend that can run, every pair compared, divergences located. With
    ``background``, Keras runs in a forked process where that is safe (cnndsl.worker)."""
    report = Report(compared=["numpy"])
    pending = _start(model, weights, x) if background else {}
    try:
        outputs = _run_all(model, weights, x, progress, report, pending)
    finally:  # an exception or Ctrl-C in this process must not leave a child running
        for p in pending.values():
            p.cancel()
    names = report.compared
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            report.pairs.append(Pair(a, b, *compare(outputs[b], outputs[a])))
    for target in names[1:]:
        pair = next(p for p in report.pairs if p.a == "numpy" and p.b == target)
        if not pair.passed:
            progress(f"looking for the first layer where {target} diverges")
            report.diverges_at[target] = first_divergence(model, weights, x, target)
    return report


#: the targets worth a process of their own: importing TensorFlow takes longest
BACKGROUND = ("keras",)


def _start(model: Model, weights: Weights, x: np.ndarray) -> dict[str, Pending]:
    """Background runs of the BACKGROUND targets that can fork and that accept the model
    (a refusal is left to the in-process run, which reports it)."""
    pending = {}
    for target in BACKGROUND:
        if can_fork(target):
            try:
                emit(model, target)
            except CnnDslError:
                continue
            pending[target] = Pending(target, model, weights, x)
    return pending


def _run_all(
    model: Model,
    weights: Weights,
    x: np.ndarray,
    progress: Callable[[str], None],
    report: Report,
    pending: dict[str, Pending],
) -> dict[str, np.ndarray]:
    """Outputs by backend, the background ones collected last; a missing framework or a
    refused model is recorded, not raised."""
    progress("numpy")
    outputs = {"numpy": forward(model, weights, x)}
    for target in sorted(TARGETS, key=lambda t: t in pending):
        progress(target)
        try:
            got = pending[target].result() if target in pending else None
            outputs[target] = run(target, model, weights, x) if got is None else got
        except FrameworkMissing as exc:
            report.missing[target] = str(exc)
        except CnnDslError as err:  # the generator refuses the model, as compile would
            report.refused[target] = err
    report.compared += [t for t in TARGETS if t in outputs]
    return outputs


def first_divergence(model: Model, weights: Weights, x: np.ndarray, target: str) -> Node:
    """Bisect over prefixes: the input alone agrees, the whole model does not."""
    lo, hi = 1, len(model.nodes)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        sub = prefix(model, mid)
        ws = {n.name: weights[n.name] for n in sub.nodes if n.name in weights}
        ok = compare(run(target, sub, ws, x), forward(sub, ws, x))[2]
        lo, hi = (mid, hi) if ok else (lo, mid)
    return model.nodes[hi - 1]
