"""Canonical weights: initialise from a seed, save and load ``.npz``, validate against a model.

The canonical layout is channels-last, like Keras: conv kernel (kh, kw, in/groups,
out) or (k, in/groups, out), dense kernel (in, out), biases and batchnorm vectors
(C,). A weight file maps ``"<node>/<weight>"`` (``conv_1/kernel``) to a float32
array. Every backend converts from this one layout.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import CnnDslError, Diagnostic
from .ir import Model, Node
from .layers import Weight, fmt_shape

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
    """Write ``.npz`` keyed ``node/weight``; written to a temporary file, then renamed."""
    flat = {f"{node}/{name}": arr for node, ws in weights.items() for name, arr in ws.items()}
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        np.savez(fh, **flat)  # type: ignore[arg-type]
    os.replace(tmp, path)


def _fail(path: str, messages: list[str]) -> CnnDslError:
    return CnnDslError([Diagnostic(m, None) for m in messages], path, "")


def load_weights(model: Model, path: str | os.PathLike[str]) -> Weights:
    """Read a ``.npz`` (``allow_pickle=False``) and check it fits ``model`` exactly."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise _fail(path, ["not a .npz weight file (it holds a single array)"])
            flat = {k: data[k] for k in data.files}
    except CnnDslError:
        raise
    except FileNotFoundError:
        raise _fail(path, ["no such file"]) from None
    except IsADirectoryError:
        raise _fail(path, ["is a directory, not a weight file"]) from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise _fail(path, [f"not a readable .npz weight file ({exc})"]) from None
    return check_weights(model, flat, path)


def check_weights(model: Model, flat: dict[str, Any], path: str = "<weights>") -> Weights:
    """Nest ``node/weight`` arrays; every missing, extra or mis-shaped array is an error."""
    problems: list[str] = []
    out: Weights = {}
    expected = {f"{n.name}/{w.name}": (n, w) for n in model.nodes for w in n.weights}
    for key, (node, w) in expected.items():
        arr, problem = _check_array(model, node, w, key, flat.get(key))
        if problem:
            problems.append(problem)
        else:
            out.setdefault(node.name, {})[w.name] = arr
    for key in sorted(set(flat) - set(expected)):
        known = key.split("/", 1)[0] in model
        why = "that layer has no such weight" if known else "the model has no such layer"
        problems.append(f"unexpected array {key}: {why}")
    if problems:
        raise _fail(path, problems)
    return out


def _check_array(
    model: Model, node: Node, w: Weight, key: str, value: Any
) -> tuple[np.ndarray, str | None]:
    """The array as float32, or the problem with it (missing, not numbers, wrong shape)."""
    where = f"{model.filename}:{node.span.line}"
    empty = np.zeros(0, np.float32)
    if value is None:
        return (
            empty,
            f"missing {key} ({fmt_shape(w.shape)}) for the {node.keyword} layer at {where}",
        )
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        return empty, f"{key} holds {arr.dtype} values; weights must be numbers"
    if arr.shape != w.shape:
        got = fmt_shape(arr.shape) or "a scalar"
        return empty, (
            f"{key} has shape {got}, but the {node.keyword} layer at {where} needs "
            f"{fmt_shape(w.shape)}"
        )
    return arr.astype(np.float32), None
