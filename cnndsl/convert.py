"""Weight conversion between the canonical layout and the frameworks', in one place.

Canonical (and Keras) layout is channels-last: conv kernel (k..., in/groups, out),
dense kernel (in, out). PyTorch wants conv (out, in/groups, k...) and dense
(out, in) — and its ``torch.flatten`` runs over NCHW, so the features after a
flatten come in (C, H, W) order instead of the language's (H, W, C). Rather
than make the generated module permute its activations, the rows of the dense
layer after the flatten are permuted here (and a batchnorm on those features is
permuted alike). NumPy only; no framework is imported.
"""

from __future__ import annotations

import numpy as np

from .ir import Model
from .layers import (
    Activation,
    Add,
    BatchNorm,
    Concat,
    Conv,
    Deconv,
    Dense,
    Depthwise,
    Dropout,
    Flatten,
    LayerNorm,
    Separable,
)
from .weights import Weights

_KERAS_ORDER = {
    "Conv": ("kernel", "bias"),
    "Depthwise": ("kernel", "bias"),
    "Dense": ("kernel", "bias"),
    "BatchNorm": ("gamma", "beta", "moving_mean", "moving_variance"),
    "LayerNorm": ("gamma", "beta"),
    "Separable": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "Deconv": ("kernel", "bias"),
}
#: Separable is an nn.Sequential(depthwise, pointwise) in the generated module
_TORCH_SEPARABLE = {
    "depthwise_kernel": "0.weight",
    "pointwise_kernel": "1.weight",
    "bias": "1.bias",
}
_TORCH_NAMES = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


def torch_feature_order(model: Model) -> dict[str, np.ndarray | None]:
    """For each node: ``p`` with ``torch_output[..., i] = canonical_output[..., p[i]]`` on
    flat feature vectors, or None where both orders agree."""
    perm: dict[str, np.ndarray | None] = {}
    for node in model.nodes:
        src = perm.get(node.inputs[0]) if node.inputs else None
        layer = node.layer
        if isinstance(layer, Flatten):
            shape = model.node(node.inputs[0]).shape
            if len(shape) > 1:  # (H, W, C) -> PyTorch's (C, H, W) order
                idx = np.arange(int(np.prod(shape))).reshape(shape)
                perm[node.name] = np.moveaxis(idx, -1, 0).ravel()
            else:
                perm[node.name] = src
        elif (
            isinstance(layer, (Activation, Dropout, BatchNorm, LayerNorm, Add))
            and len(node.shape) == 1
        ):
            perm[node.name] = src  # element-wise on features: the order carries through
            if isinstance(layer, Add):
                orders: list[np.ndarray | None] = [perm.get(i) for i in node.inputs]
                if (any(o is None for o in orders) and any(o is not None for o in orders)) or (
                    orders[0] is not None
                    and any(not np.array_equal(o, orders[0]) for o in orders[1:])  # type: ignore[arg-type]
                ):
                    raise ValueError(
                        f"{node.name}: features in different orders cannot be "
                        "added in PyTorch's layout"
                    )
        elif isinstance(layer, Concat) and len(node.shape) == 1:
            parts, offset = [], 0
            for name in node.inputs:
                size = model.node(name).shape[0]
                order = perm.get(name)
                parts.append(offset + (np.arange(size) if order is None else order))
                offset += size
            joined = np.concatenate(parts)
            perm[node.name] = None if np.array_equal(joined, np.arange(offset)) else joined
        else:
            perm[node.name] = None
    return perm


def to_pytorch(model: Model, weights: Weights) -> dict[str, np.ndarray]:
    """Canonical weights -> a state_dict (NumPy arrays) for the generated nn.Module."""
    perm = torch_feature_order(model)
    out: dict[str, np.ndarray] = {}
    for node in model.nodes:
        ws = weights.get(node.name)
        if not ws:
            continue
        p = perm.get(node.inputs[0]) if node.inputs else None
        layer = node.layer
        names = _TORCH_SEPARABLE if isinstance(layer, Separable) else _TORCH_NAMES
        for name, arr in ws.items():
            if (isinstance(layer, (Conv, Depthwise, Deconv)) and name == "kernel") or name.endswith(
                "_kernel"
            ):
                r = arr.ndim - 2
                arr = arr.transpose(r + 1, r, *range(r))
            elif isinstance(layer, Dense) and name == "kernel":
                arr = (arr if p is None else arr[p]).T
            elif isinstance(layer, (BatchNorm, LayerNorm)) and p is not None:
                arr = arr[p]
            out[f"{node.name}.{names[name]}"] = np.ascontiguousarray(arr, np.float32)
    return out


def from_pytorch(model: Model, state: dict[str, np.ndarray]) -> Weights:
    """A state_dict (as NumPy arrays) of a generated module -> canonical weights."""
    perm = torch_feature_order(model)
    out: Weights = {}
    for node in model.nodes:
        p = perm.get(node.inputs[0]) if node.inputs else None
        inv = None if p is None else np.argsort(p)
        layer = node.layer
        names = _TORCH_SEPARABLE if isinstance(layer, Separable) else _TORCH_NAMES
        for w in node.weights:
            arr = np.asarray(state[f"{node.name}.{names[w.name]}"], np.float32)
            if (
                isinstance(layer, (Conv, Depthwise, Deconv)) and w.name == "kernel"
            ) or w.name.endswith("_kernel"):
                r = arr.ndim - 2
                arr = arr.transpose(*range(2, r + 2), 1, 0)
            elif isinstance(layer, Dense) and w.name == "kernel":
                arr = arr.T if inv is None else arr.T[inv]
            elif isinstance(layer, (BatchNorm, LayerNorm)) and inv is not None:
                arr = arr[inv]
            out.setdefault(node.name, {})[w.name] = np.ascontiguousarray(arr)
    return out


def to_keras(model: Model, weights: Weights) -> dict[str, list[np.ndarray]]:
    """Canonical weights -> ``{layer name: layer.get_weights() list}``: the layouts agree."""
    out = {}
    for node in model.nodes:
        ws = weights.get(node.name)
        if ws:
            order = _KERAS_ORDER[type(node.layer).__name__]
            arrays = [ws[n] for n in order if n in ws]
            if isinstance(node.layer, (Depthwise, Separable)):  # Keras: (k..., C, multiplier)
                k = arrays[0]
                arrays[0] = k.reshape(*k.shape[:-2], -1, node.layer.multiplier)
            out[node.name] = arrays
    return out


def from_keras(model: Model, layer_weights: dict[str, list[np.ndarray]]) -> Weights:
    out: Weights = {}
    for node in model.nodes:
        if node.weights:
            arrays = layer_weights[node.name]
            order = [
                n
                for n in _KERAS_ORDER[type(node.layer).__name__]
                if any(w.name == n for w in node.weights)
            ]
            got = {n: np.asarray(a, np.float32) for n, a in zip(order, arrays)}
            first = order[0]
            if isinstance(node.layer, (Depthwise, Separable)):
                k = got[first]
                got[first] = k.reshape(*k.shape[:-2], 1, -1)
            out[node.name] = got
    return out
