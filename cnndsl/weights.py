"""Canonical weights: initialise from a seed, save and load ``.npz``, validate against a model.

The canonical layout is channels-last, like Keras: conv kernel (kh, kw, in/groups,
out) or (k, in/groups, out), dense kernel (in, out), biases and batchnorm vectors
(C,). A weight file maps ``"<node>/<weight>"`` (``conv_1/kernel``) to a float32
array. Every backend converts from this one layout.
"""

from __future__ import annotations

import contextlib
import math
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .errors import CnnDslError, Diagnostic
from .ir import Model, Node
from .layers import Weight, fmt_shape
from .npyfile import NpzError, npy_headers, read_member
from .safeio import open_regular, why_unreadable, write_output

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


#: problems listed at most for one file; the rest are counted
MAX_PROBLEMS = 20


def _fail(path: str, messages: list[str]) -> CnnDslError:
    if len(messages) > MAX_PROBLEMS:
        rest = len(messages) - MAX_PROBLEMS + 1
        messages = [*messages[: MAX_PROBLEMS - 1], f"... and {rest:,} more problems"]
    return CnnDslError([Diagnostic(m, None) for m in messages], path, "")


def load_weights(model: Model, path: str | os.PathLike[str]) -> Weights:
    """Read a ``.npz`` and check it fits ``model`` exactly, in two steps so that a hostile
    file costs nothing: every member's name and ``.npy`` header (shape, dtype) first,
    then the data of the members the model needs — never more bytes than they declare,
    and nothing at all of a member the model has no use for (no pickles, ever)."""
    path = os.fspath(path)
    with _open_npz(path) as zf:
        headers = npy_headers(zf, set(_expected(model)))
        problems = weight_problems(model, headers)
        if problems:
            raise _fail(path, problems)
        try:
            flat = {key: read_member(zf, key, h) for key, h in headers.items()}
        except NpzError as exc:
            raise _fail(path, [str(exc)]) from None
    return check_weights(model, flat, path)


@contextlib.contextmanager
def _open_npz(path: str) -> Iterator[zipfile.ZipFile]:
    """The zip, open; a single ``.npy`` (renamed) or anything else is a clear error."""
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise _fail(path, [why_unreadable(exc, "a weight file")]) from None
    with fh:
        if fh.read(6) == b"\x93NUMPY":
            raise _fail(path, ["not a .npz weight file: it holds a single .npy array"])
        fh.seek(0)
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise _fail(path, [f"not a readable .npz weight file ({exc})"]) from None
        with zf:
            yield zf


def _expected(model: Model) -> dict[str, tuple[Node, Weight]]:
    return {f"{n.name}/{w.name}": (n, w) for n in model.nodes for w in n.weights}


def weight_problems(model: Model, found: Mapping[str, Any]) -> list[str]:
    """Every missing, extra, mis-shaped or unreadable array of ``found``.

    A value is an array, anything with ``shape`` and ``dtype`` (a ``.npy`` header, checked
    before its data is read), or a string saying why it could not be read.
    """
    expected = _expected(model)
    problems = [
        p
        for key, (node, w) in expected.items()
        if (p := _problem(model, node, w, key, found.get(key))) is not None
    ]
    for key in sorted(set(found) - set(expected)):
        known = key.split("/", 1)[0] in model
        why = "that layer has no such weight" if known else "the model has no such layer"
        problems.append(f"unexpected array {key}: {why}")
    return problems


def check_weights(model: Model, flat: Mapping[str, Any], path: str = "<weights>") -> Weights:
    """Nest ``node/weight`` arrays as float32; every problem with them is an error."""
    problems = weight_problems(model, flat)
    if problems:
        raise _fail(path, problems)
    out: Weights = {}
    for key, (node, w) in _expected(model).items():
        out.setdefault(node.name, {})[w.name] = np.asarray(flat[key]).astype(np.float32, copy=False)
    return out


def _problem(model: Model, node: Node, w: Weight, key: str, value: Any) -> str | None:
    """What is wrong with one weight's array (or header), if anything."""
    where = f"{model.filename}:{node.span.line}"
    if value is None:
        return f"missing {key} ({fmt_shape(w.shape)}) for the {node.keyword} layer at {where}"
    if isinstance(value, str):
        return f"{key}: {value}"
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        value = np.asarray(value)
    if value.dtype.kind not in "fiu":
        return f"{key} holds {value.dtype} values; weights must be numbers"
    if tuple(value.shape) != w.shape:
        got = fmt_shape(value.shape) or "a scalar"
        return (
            f"{key} has shape {got}, but the {node.keyword} layer at {where} needs "
            f"{fmt_shape(w.shape)}"
        )
    return None
