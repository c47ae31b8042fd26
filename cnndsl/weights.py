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
from typing import Any

import numpy as np

from .errors import CnnDslError, Diagnostic
from .ir import Model
from .layers import Conv, Weight, fmt_shape

Weights = dict[str, dict[str, np.ndarray]]


def _glorot(rng: np.random.Generator, w: Weight) -> np.ndarray:
    """Glorot (Xavier) uniform, fans as Keras computes them for dense and conv kernels."""
    shape = w.shape
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def init_weights(model: Model, seed: int = 0) -> Weights:
    """Deterministic weights: Glorot-uniform kernels, zero biases, batchnorm gamma=1, beta=0,
    mean=0, var=1; fixed ``weights=`` literals from the source are used as written."""
    rng = np.random.default_rng(seed)
    out: Weights = {}
    for node in model.nodes:
        arrays: dict[str, np.ndarray] = {}
        for w in node.weights:
            if w.name == "kernel":
                literal = node.layer.weights if isinstance(node.layer, Conv) else None
                if literal is not None:
                    arrays[w.name] = np.asarray(literal.values, np.float32).reshape(w.shape)
                    continue
                arrays[w.name] = _glorot(rng, w)
            elif w.name in ("gamma", "moving_variance"):
                arrays[w.name] = np.ones(w.shape, np.float32)
            else:  # bias, beta, moving_mean
                arrays[w.name] = np.zeros(w.shape, np.float32)
        if arrays:
            out[node.name] = arrays
    return out


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
        where = f"{model.filename}:{node.span.line}"
        if key not in flat:
            problems.append(
                f"missing {key} ({fmt_shape(w.shape)}) for the {node.keyword} layer at {where}"
            )
            continue
        arr = np.asarray(flat[key])
        if arr.dtype.kind not in "fiu":
            problems.append(f"{key} holds {arr.dtype} values; weights must be numbers")
            continue
        if arr.shape != w.shape:
            got = fmt_shape(arr.shape) or "a scalar"
            problems.append(
                f"{key} has shape {got}, but the {node.keyword} layer at {where} needs "
                f"{fmt_shape(w.shape)}"
            )
            continue
        out.setdefault(node.name, {})[w.name] = arr.astype(np.float32)
    for key in sorted(set(flat) - set(expected)):
        node_name = key.split("/", 1)[0]
        known = any(n.name == node_name for n in model.nodes)
        why = "that layer has no such weight" if known else "the model has no such layer"
        problems.append(f"unexpected array {key}: {why}")
    if problems:
        raise _fail(path, problems)
    return out
