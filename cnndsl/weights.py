"""Canonical weights: initialise from a seed, save and load ``.npz``, validate against a model.

The canonical layout is channels-last, like Keras: conv kernel (kh, kw, in/groups,
out) or (k, in/groups, out), dense kernel (in, out), biases and batchnorm vectors
(C,). A weight file maps ``"<node>/<weight>"`` (``conv_1/kernel``) to a float32
array. Every backend converts from this one layout.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .ir import Model
from .layers import Weight
from .safeio import write_output
from .weightfile import expected, fail, load_weights, weight_problems

__all__ = [
    "Weights",
    "check_weights",
    "init_weights",
    "initial",
    "load_weights",
    "probe",
    "probe_weights",
    "save_weights",
    "weight_problems",
]

Weights = dict[str, dict[str, np.ndarray]]


def _glorot(rng: np.random.Generator, w: Weight) -> np.ndarray:
    """Glorot (Xavier) uniform; the fans come from the axes the weight declares: receptive
    field = the product of its ``k`` axes, fan in/out = ``i``/``o`` channels times that."""
    size = {a: 1 for a in "kio"}
    for a, n in zip(w.axes, w.shape):
        size[a] = size[a] * n if a in size else n
    fan_in, fan_out = size["i"] * size["k"], size["o"] * size["k"]
    limit = math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return rng.uniform(-limit, limit, size=w.shape).astype(np.float32)


def _literal(w: Weight) -> np.ndarray | None:
    if w.literal is None:
        return None
    return np.asarray(w.literal.values, np.float32).reshape(w.shape)


def initial(rng: np.random.Generator, w: Weight) -> np.ndarray:
    """The array ``init_weights`` gives ``w``: its literal, else its declared initializer."""
    fixed = _literal(w)
    if fixed is not None:
        return fixed
    if w.init.kind == "glorot":
        return _glorot(rng, w)
    return np.full(w.shape, w.init.value, np.float32)


def probe(rng: np.random.Generator, w: Weight) -> np.ndarray:
    """A probe array for ``w``: random in its declared range (Glorot for kernels), so that
    no array is trivial (no zero bias, no identity batchnorm); literals stay as written."""
    fixed = _literal(w)
    if fixed is not None:
        return fixed
    if w.probe is None:
        return _glorot(rng, w)
    lo, hi = w.probe
    return rng.uniform(lo, hi, size=w.shape).astype(np.float32)


def _generate(
    model: Model, seed: int, make: Callable[[np.random.Generator, Weight], np.ndarray]
) -> Weights:
    rng = np.random.default_rng(seed)
    out: Weights = {}
    for node in model.nodes:
        if node.weights:
            out[node.name] = {w.name: make(rng, w) for w in node.weights}
    return out


def init_weights(model: Model, seed: int = 0) -> Weights:
    """Deterministic initial weights, each as its declaration says (Glorot-uniform kernels,
    zero biases, batchnorm gamma=1, beta=0, mean=0, var=1; ``weights=`` literals as
    written)."""
    return _generate(model, seed, initial)


def probe_weights(model: Model, seed: int = 0) -> Weights:
    """Deterministic weights in which every array is non-trivial (see :func:`probe`): what
    ``verify`` and the agreement tests run, so that a conversion bug in a bias, a
    batchnorm statistic or a per-channel vector cannot hide behind a zero or a one."""
    return _generate(model, seed, probe)


def save_weights(weights: Weights, path: str | os.PathLike[str]) -> None:
    """Write ``.npz`` keyed ``node/weight``, safely (:func:`cnndsl.safeio.write_output`)."""
    flat = {f"{node}/{name}": arr for node, ws in weights.items() for name, arr in ws.items()}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **flat)  # type: ignore[arg-type]

    write_output(os.fspath(path), write)


def check_weights(model: Model, flat: Mapping[str, Any], path: str = "<weights>") -> Weights:
    """Nest ``node/weight`` arrays as float32; every problem with them is an error."""
    problems = weight_problems(model, flat)
    if problems:
        raise fail(path, problems)
    out: Weights = {}
    for key, (node, w) in expected(model).items():
        arr = np.asarray(flat[key]).astype(np.float32, copy=False)
        out.setdefault(node.name, {})[w.name] = arr
    return out
