"""The NumPy interpreter: a real forward pass of any checked model, channels-last float32.

This backend is the reference the generated Keras and PyTorch code must agree
with. ``KERNELS`` maps each layer class to a function ``(layer, inputs, weights)
-> output``, registered beside it; nodes run in topological order, each reading its
inputs by name. Ungrouped convolutions take the blocked path of :mod:`.fast` (off when
``fast.ENABLED`` is False), checked against the plain one of :mod:`.ops` by
tests/test_numpy_fast.py.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping

import numpy as np

from ... import layers as L
from ...ir import Model, Node
from ..table import Table
from . import fast, ops

Arrays = Mapping[str, np.ndarray]
KERNELS: Table[[list[np.ndarray], Arrays], np.ndarray] = Table("numpy")


@functools.cache  # a few activation names; binding costs 2 us a layer
def _act_params(fn: str) -> tuple[float | None, bool]:
    """Inline activations take the language's defaults (docs/language.md)."""
    bound = L.Activation(fn=fn).bind(())
    return bound.alpha, bool(bound.approximate)


def _act(y: np.ndarray, fn: str) -> np.ndarray:
    """An inline activation, in place: ``y`` is a buffer the layer just made."""
    return ops.activation(y, fn, *_act_params(fn), inplace=True)


@KERNELS.register(L.Input)
def _input(layer: L.Input, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return xs[0]


@KERNELS.register(L.Conv)
def _conv(layer: L.Conv, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    if fast.ENABLED and layer.groups == 1:
        act = (layer.activation, *_act_params(layer.activation))
        return fast.conv(
            xs[0], w["kernel"], w.get("bias"), layer.stride, layer.dilation, layer.pads(), act
        )
    y = ops.conv(
        xs[0], w["kernel"], w.get("bias"), layer.stride, layer.dilation, layer.pads(), layer.groups
    )
    return _act(y, layer.activation)


@KERNELS.register(L.Depthwise)
def _depthwise(layer: L.Depthwise, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return _conv(layer.as_conv(xs[0].shape[-1]), xs, w)


@KERNELS.register(L.Separable)
def _separable(layer: L.Separable, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    dw = layer.depthwise(xs[0].shape[-1])
    y = ops.conv(
        xs[0], w["depthwise_kernel"], None, dw.stride, dw.dilation, layer.pads(), dw.groups
    )
    r = y.ndim - 2
    ones, zeros = (1,) * r, ((0, 0),) * r
    if fast.ENABLED:
        act = (layer.activation, *_act_params(layer.activation))
        return fast.conv(y, w["pointwise_kernel"], w.get("bias"), ones, ones, zeros, act)
    y = ops.conv(y, w["pointwise_kernel"], w.get("bias"), ones, ones, zeros)
    return _act(y, layer.activation)


@KERNELS.register(L.Deconv)
def _deconv(layer: L.Deconv, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    crops = layer.crops((xs[0].shape[1:],))
    y = ops.deconv(xs[0], w["kernel"], w.get("bias"), layer.stride, crops)
    return _act(y, layer.activation)


@KERNELS.register(L.Dense)
def _dense(layer: L.Dense, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    x, kernel = xs[0], w["kernel"]
    y = np.empty((*x.shape[:-1], kernel.shape[1]), np.float32)
    fast.matmul(x.reshape(-1, x.shape[-1]), kernel, y.reshape(-1, kernel.shape[1]))
    if "bias" in w:
        y += w["bias"]
    return _act(y, layer.activation)


@KERNELS.register(L.BatchNorm)
def _batchnorm(layer: L.BatchNorm, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    scale = w["gamma"] / np.sqrt(w["moving_variance"] + np.float32(layer.eps))
    shift = w["beta"] - w["moving_mean"] * scale
    y: np.ndarray = np.multiply(xs[0], scale, dtype=np.float32)
    y += shift
    return y


@KERNELS.register(L.LayerNorm)
def _layernorm(layer: L.LayerNorm, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    """In float64: normalising near-constant values amplifies rounding, and this is the
    reference the frameworks are compared with."""
    x = xs[0].astype(np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased, as both frameworks
    y: np.ndarray = (x - mean) / np.sqrt(var + layer.eps) * w["gamma"] + w["beta"]
    return y.astype(np.float32)


@KERNELS.register(L.Add)
def _add(layer: L.Add, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    out: np.ndarray = xs[0] + xs[1]
    for x in xs[2:]:
        out += x
    return out


@KERNELS.register(L.Concat)
def _concat(layer: L.Concat, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return np.concatenate(xs, axis=-1)


@KERNELS.register(L.Pool)
def _pool(layer: L.Pool, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    assert layer.stride is not None  # bound
    pool = fast.pool if fast.ENABLED else ops.pool
    return pool(xs[0], layer.op, layer.size, layer.stride, layer.pads())


@KERNELS.register(L.GlobalPool)
def _globalpool(layer: L.GlobalPool, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    axes = tuple(range(1, xs[0].ndim - 1))
    if layer.op == "max":
        y: np.ndarray = xs[0].max(axis=axes)
        return y
    mean: np.ndarray = xs[0].mean(axis=axes, dtype=np.float32)
    return mean


@KERNELS.register(L.Flatten)
def _flatten(layer: L.Flatten, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return xs[0].reshape(xs[0].shape[0], -1)  # channels-last (H, W, C) order


@KERNELS.register(L.Dropout)
def _dropout(layer: L.Dropout, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return xs[0]  # the identity at inference


@KERNELS.register(L.ZeroPad)
def _zeropad(layer: L.ZeroPad, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return ops.pad_spatial(xs[0], tuple(zip(layer.pad[0::2], layer.pad[1::2])))


@KERNELS.register(L.Crop)
def _crop(layer: L.Crop, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    x = xs[0]
    inner = tuple(slice(a, n - b) for n, (a, b) in zip(x.shape[1:-1], layer.crops()))
    index = (slice(None), *inner, slice(None))
    return x[index]


@KERNELS.register(L.Upsample)
def _upsample(layer: L.Upsample, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return ops.upsample(xs[0], layer.size, layer.mode)


@KERNELS.register(L.Activation)
def _activation(layer: L.Activation, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    return ops.activation(xs[0], layer.fn, layer.alpha, bool(layer.approximate))


@KERNELS.register(L.PReLU)
def _prelu(layer: L.PReLU, xs: list[np.ndarray], w: Arrays) -> np.ndarray:
    """x where x >= 0, alpha[c] * x elsewhere; alpha broadcasts over the last axis."""
    x = xs[0]
    y: np.ndarray = np.where(x >= 0, x, x * w["alpha"]).astype(np.float32)
    return y


def iter_forward(
    model: Model, weights: Mapping[str, Arrays], x: np.ndarray
) -> Iterator[tuple[Node, np.ndarray]]:
    """Yield each node with its output, in order; ``x`` is batched (N, *input_shape)."""
    values: dict[str, np.ndarray] = {}
    x = np.asarray(x, dtype=np.float32)
    for node in model.nodes:
        inputs = [values[name] for name in node.inputs] if node.inputs else [x]
        out = KERNELS(node.layer, inputs, weights.get(node.name, {}))
        values[node.name] = out
        yield node, out


def forward_all(
    model: Model, weights: Mapping[str, Arrays], x: np.ndarray
) -> dict[str, np.ndarray]:
    """Every node's output, by name (for feature maps and layer-by-layer comparison)."""
    return {node.name: out for node, out in iter_forward(model, weights, x)}


#: below it (the batch's multiply-adds: LeNet at batch 64 is 27M) ``threads`` > 1 keeps
#: the run on one thread; above, BLAS threads share each of the few, large matmuls
ONE_THREAD_MACS = 100_000_000


def forward(
    model: Model, weights: Mapping[str, Arrays], x: np.ndarray, threads: int | None = None
) -> np.ndarray:
    """The model's output for a batch; intermediate results are freed as soon as possible.

    ``threads``: how many threads the caller lets this run use, BLAS's included (the
    caller sets BLAS's). 1: convolutions in cache-sized blocks. More: a small problem
    (LeNet at batch 64) still runs on one thread, its matmuls in row chunks that BLAS
    keeps on the calling thread (waking BLAS threads for each small matmul cost more
    than they gave: 4.2 vs 3.5 ms); a large one is left to BLAS's threads, in few large
    matmuls, as it is when ``threads`` is None (not known).
    """
    x = np.asarray(x, dtype=np.float32)
    if threads is not None and threads > 1:
        if model.total_macs * len(x) >= ONE_THREAD_MACS:
            return _forward(model, weights, x)
        with fast.one_thread(chunk=True):
            return _forward(model, weights, x)
    if threads == 1:
        with fast.one_thread():
            return _forward(model, weights, x)
    return _forward(model, weights, x)


def _forward(model: Model, weights: Mapping[str, Arrays], x: np.ndarray) -> np.ndarray:
    last = set(model.outputs)
    consumers = {n.name: len(model.consumers(n.name)) for n in model.nodes}
    values: dict[str, np.ndarray] = {}
    out = x
    for node in model.nodes:
        inputs = [values[name] for name in node.inputs] if node.inputs else [x]
        # free what no later node reads (a node reading a tensor twice, c + c, is one reader)
        for name in dict.fromkeys(node.inputs):
            consumers[name] -= 1
            if consumers[name] == 0 and name not in last:
                del values[name]
        out = KERNELS(node.layer, inputs, weights.get(node.name, {}))
        values[node.name] = out
    return out
