"""Weight conversion between the canonical layout and the frameworks', generically.

Nothing here knows a layer kind. Where a weight lives in a framework, and how its
layout differs, is said by the backend's lowering of the kind (``weight_map``: a
:class:`~cnndsl.backends.params.Param` per weight). The one thing that depends on
the *model* rather than the kind is the flatten order: ``torch.flatten`` runs over
NCHW, so the features after a flatten come in (C, H, W) order instead of the
language's (H, W, C). :func:`feature_order` turns the flatten plan
(``cnndsl.backends.order``, the one place that decides it) into index arrays, and
every weight axis indexed by input features (the ``i`` and ``c`` axes a weight
declares) is permuted alike. NumPy only; no framework imported.
"""

from __future__ import annotations

import numpy as np

from .backends.order import Order, plan
from .backends.params import Layout, Param
from .ir import Model
from .weights import Weights

Perm = np.ndarray | None
WeightMap = dict[str, list[Param]]


def _perm(order: Order) -> Perm:
    """The plan's symbolic order as an index array: ``p[i]`` is the canonical index of
    the i-th feature in the framework."""
    if order is None:
        return None
    parts, offset = [], 0
    for shape, length in order:
        if shape is None:
            parts.append(offset + np.arange(length))
        else:
            idx = np.arange(length).reshape(shape)
            parts.append(offset + np.moveaxis(idx, -1, 0).ravel())
        offset += length
    return np.concatenate(parts)


def feature_order(model: Model) -> dict[str, Perm]:
    """For each node: ``p`` with ``torch_output[..., i] = canonical_output[..., p[i]]`` on
    flat feature vectors, or None where both orders agree (from the flatten plan)."""
    return {name: _perm(order) for name, order in plan(model).orders.items()}


def _to_framework(arr: np.ndarray, layout: Layout) -> np.ndarray:
    if layout.perm is not None:
        arr = arr.transpose(layout.perm)
    if layout.shape is not None:
        arr = arr.reshape(layout.shape)
    return arr


def _from_framework(arr: np.ndarray, layout: Layout, canonical: tuple[int, ...]) -> np.ndarray:
    if layout.perm is not None:
        transposed = tuple(canonical[p] for p in layout.perm)
        back: np.ndarray = arr.reshape(transposed).transpose(np.argsort(layout.perm))
        return back
    return arr.reshape(canonical)


def _permute(arr: np.ndarray, axes: tuple[int, ...], p: Perm) -> np.ndarray:
    if p is None:
        return arr
    for axis in axes:
        arr = np.take(arr, p, axis=axis)
    return arr


def export(
    model: Model, weights: Weights, where: WeightMap, order: bool
) -> dict[Param, np.ndarray]:
    """Canonical weights -> the framework's arrays, keyed by the Param that places them.
    ``order``: permute feature axes by :func:`feature_order` (PyTorch's flatten order)."""
    perm = feature_order(model) if order else {}
    out: dict[Param, np.ndarray] = {}
    for node in model.nodes:
        p = perm.get(node.inputs[0]) if node.inputs else None
        specs = {w.name: w for w in node.weights}
        for param in where.get(node.name, ()):
            arr = _permute(weights[node.name][param.weight], specs[param.weight].feature_axes(), p)
            out[param] = np.ascontiguousarray(_to_framework(arr, param.layout), np.float32)
    return out


def restore(model: Model, get: dict[Param, np.ndarray], where: WeightMap, order: bool) -> Weights:
    """The framework's arrays (by Param) -> canonical weights: the inverse of :func:`export`."""
    perm = feature_order(model) if order else {}
    out: Weights = {}
    for node in model.nodes:
        p = perm.get(node.inputs[0]) if node.inputs else None
        inv = None if p is None else np.argsort(p)
        specs = {w.name: w for w in node.weights}
        for param in where.get(node.name, ()):
            w = specs[param.weight]
            arr = _from_framework(np.asarray(get[param], np.float32), param.layout, w.shape)
            out.setdefault(node.name, {})[w.name] = np.ascontiguousarray(
                _permute(arr, w.feature_axes(), inv)
            )
    return out


def _check_complete(model: Model, where: WeightMap, target: str) -> None:
    """Every declared weight has a home in the framework: a lowering that forgets one is a
    bug to report, not a weight to drop silently."""
    for node in model.nodes:
        placed = {p.weight for p in where.get(node.name, ())}
        missing = [w.name for w in node.weights if w.name not in placed]
        if missing:
            raise AssertionError(f"{target} lowering of {node.keyword} places no {missing}")


def to_pytorch(model: Model, weights: Weights) -> dict[str, np.ndarray]:
    """Canonical weights -> a state_dict (NumPy arrays) for the generated nn.Module."""
    from .backends.pytorch import weight_map

    where = weight_map(model)
    _check_complete(model, where, "pytorch")
    return {p.key: a for p, a in export(model, weights, where, order=True).items()}


def from_pytorch(model: Model, state: dict[str, np.ndarray]) -> Weights:
    """A state_dict (as NumPy arrays) of a generated module -> canonical weights."""
    from .backends.pytorch import weight_map

    where = weight_map(model)
    get = {p: state[p.key] for ps in where.values() for p in ps}
    return restore(model, get, where, order=True)


def to_keras(model: Model, weights: Weights) -> dict[str, list[np.ndarray]]:
    """Canonical weights -> ``{Keras layer name: its get_weights() list}``."""
    from .backends.keras import weight_map

    where = weight_map(model)
    _check_complete(model, where, "keras")
    out: dict[str, list[np.ndarray]] = {}
    for param, arr in sorted(
        export(model, weights, where, order=False).items(), key=lambda kv: kv[0].index
    ):
        out.setdefault(param.key, []).append(arr)
    return out


def from_keras(model: Model, layer_weights: dict[str, list[np.ndarray]]) -> Weights:
    """``{Keras layer name: get_weights()}`` -> canonical weights."""
    from .backends.keras import weight_map

    where = weight_map(model)
    get = {p: layer_weights[p.key][p.index] for ps in where.values() for p in ps}
    return restore(model, get, where, order=False)


def keras_layers(model: Model) -> list[str]:
    """The Keras layers that hold weights (what ``from_keras`` reads)."""
    from .backends.keras import weight_map

    return sorted({p.key for ps in weight_map(model).values() for p in ps})
