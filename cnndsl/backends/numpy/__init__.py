"""The NumPy interpreter: a real forward pass of any checked model, channels-last float32.

This backend is the reference the generated Keras and PyTorch code must agree
with. ``KERNELS`` maps each layer class to a function ``(layer, inputs, weights)
-> output``; nodes run in topological order, each reading its inputs by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np

from ...ir import Model, Node
from ...layers import (
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
    GlobalPool,
    Input,
    Layer,
    LayerNorm,
    Pool,
    Separable,
    Upsample,
    ZeroPad,
)
from . import ops

Arrays = Mapping[str, np.ndarray]
Kernel = Callable[[Layer, list[np.ndarray], Arrays], np.ndarray]


def _conv(layer: Conv, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    y = ops.conv(
        xs[0], w["kernel"], w.get("bias"), layer.stride, layer.dilation, layer.pads(), layer.groups
    )
    return ops.activation(y, layer.activation, *_act_params(layer.activation), inplace=True)


def _dense(layer: Dense, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    y = xs[0] @ w["kernel"]
    if "bias" in w:
        y += w["bias"]
    return ops.activation(y, layer.activation, *_act_params(layer.activation), inplace=True)


def _act_params(fn: str) -> tuple[float | None, bool]:
    """Inline activations take the language's defaults (docs/language.md)."""
    bound = Activation(fn=fn).bind(())
    return bound.alpha, bool(bound.approximate)


def _batchnorm(layer: BatchNorm, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    scale = w["gamma"] / np.sqrt(w["moving_variance"] + np.float32(layer.eps))
    shift = w["beta"] - w["moving_mean"] * scale
    return (xs[0] * scale + shift).astype(np.float32)


def _depthwise(layer: Depthwise, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return _conv(layer.as_conv(xs[0].shape[-1]), xs, w)


def _layernorm(layer: LayerNorm, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    """In float64: normalising near-constant values amplifies rounding, and this is the
    reference the frameworks are compared with."""
    x = xs[0].astype(np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased, as both frameworks
    y = (x - mean) / np.sqrt(var + layer.eps) * w["gamma"] + w["beta"]
    return y.astype(np.float32)


def _separable(layer: Separable, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    dw = layer.depthwise(xs[0].shape[-1])
    y = ops.conv(
        xs[0], w["depthwise_kernel"], None, dw.stride, dw.dilation, layer.pads(), dw.groups
    )
    r = y.ndim - 2
    y = ops.conv(y, w["pointwise_kernel"], w.get("bias"), (1,) * r, (1,) * r, ((0, 0),) * r)
    return ops.activation(y, layer.activation, *_act_params(layer.activation), inplace=True)


def _deconv(layer: Deconv, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    crops = layer.crops((xs[0].shape[1:],))
    y = ops.deconv(xs[0], w["kernel"], w.get("bias"), layer.stride, crops)
    return ops.activation(y, layer.activation, *_act_params(layer.activation), inplace=True)


def _add(layer: Add, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    out = xs[0] + xs[1]
    for x in xs[2:]:
        out += x
    return out


def _input(layer: Input, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return xs[0]


def _pool(layer: Pool, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    assert layer.stride is not None
    return ops.pool(xs[0], layer.op, layer.size, layer.stride, layer.pads())


def _flatten(layer: Flatten, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return xs[0].reshape(xs[0].shape[0], -1)  # channels-last (H, W, C) order


def _identity(layer: Layer, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return xs[0]  # dropout at inference


def _zeropad(layer: ZeroPad, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return ops.pad_spatial(xs[0], tuple(zip(layer.pad[0::2], layer.pad[1::2])))


def _globalpool(layer: GlobalPool, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    axes = tuple(range(1, xs[0].ndim - 1))
    if layer.op == "max":
        return xs[0].max(axis=axes)
    return xs[0].mean(axis=axes, dtype=np.float32)


def _upsample(layer: Upsample, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return ops.upsample(xs[0], layer.size, layer.mode)


def _concat(layer: Concat, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return np.concatenate(xs, axis=-1)


def _activation(layer: Activation, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return ops.activation(xs[0], layer.fn, layer.alpha, bool(layer.approximate))


KERNELS: dict[type[Layer], Kernel] = {  # each kernel takes its own layer class
    Input: _input,  # type: ignore[dict-item]
    Conv: _conv,  # type: ignore[dict-item]
    Pool: _pool,  # type: ignore[dict-item]
    Flatten: _flatten,  # type: ignore[dict-item]
    Dense: _dense,  # type: ignore[dict-item]
    Dropout: _identity,
    BatchNorm: _batchnorm,  # type: ignore[dict-item]
    ZeroPad: _zeropad,  # type: ignore[dict-item]
    Depthwise: _depthwise,  # type: ignore[dict-item]
    GlobalPool: _globalpool,  # type: ignore[dict-item]
    Upsample: _upsample,  # type: ignore[dict-item]
    Add: _add,  # type: ignore[dict-item]
    LayerNorm: _layernorm,  # type: ignore[dict-item]
    Separable: _separable,  # type: ignore[dict-item]
    Deconv: _deconv,  # type: ignore[dict-item]
    Concat: _concat,  # type: ignore[dict-item]
    Activation: _activation,  # type: ignore[dict-item]
}


def iter_forward(
    model: Model, weights: Mapping[str, Arrays], x: np.ndarray
) -> Iterator[tuple[Node, np.ndarray]]:
    """Yield each node with its output, in order; ``x`` is batched (N, *input_shape)."""
    values: dict[str, np.ndarray] = {}
    x = np.asarray(x, dtype=np.float32)
    for node in model.nodes:
        inputs = [values[name] for name in node.inputs] if node.inputs else [x]
        out = KERNELS[type(node.layer)](node.layer, inputs, weights.get(node.name, {}))
        values[node.name] = out
        yield node, out


def forward_all(
    model: Model, weights: Mapping[str, Arrays], x: np.ndarray
) -> dict[str, np.ndarray]:
    """Every node's output, by name (for feature maps and layer-by-layer comparison)."""
    return {node.name: out for node, out in iter_forward(model, weights, x)}


def forward(model: Model, weights: Mapping[str, Arrays], x: np.ndarray) -> np.ndarray:
    """The model's output for a batch; intermediate results are freed as soon as possible."""
    last = {o.name for o in model.outputs}
    consumers: dict[str, int] = {}
    for n in model.nodes:
        for i in n.inputs:
            consumers[i] = consumers.get(i, 0) + 1
    values: dict[str, np.ndarray] = {}
    x = np.asarray(x, dtype=np.float32)
    out = x
    for node in model.nodes:
        inputs = [values[name] for name in node.inputs] if node.inputs else [x]
        for name in node.inputs:  # free what nobody else reads
            consumers[name] -= 1
            if consumers[name] == 0 and name not in last:
                del values[name]
        out = KERNELS[type(node.layer)](node.layer, inputs, weights.get(node.name, {}))
        values[node.name] = out
    return out
