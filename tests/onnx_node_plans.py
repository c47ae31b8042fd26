"""How the NumPy backend computes each ONNX node test case: one plan per op type, giving
(NumPy's result, ONNX's) or the reason the language cannot express the case. Used by
test_onnx_node_vectors.py, which collects the cases and says how they are read."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import cnndsl
from cnndsl.backends.numpy import KERNELS, forward, ops

Outcome = "str | tuple[np.ndarray, np.ndarray]"  # a reason, or (NumPy's, ONNX's)


@dataclass
class Case:
    name: str
    op: str
    attrs: dict[str, Any]
    slots: list[Any]  # the node's inputs by position, None where omitted (5 at least)
    outs: list[Any]

    @property
    def x(self) -> Any:
        return self.slots[0]


def dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def run(src: str, x: np.ndarray, **weights: np.ndarray) -> np.ndarray:
    """A batch through ``input <its sample shape>`` and ``src``, weights of declared shapes."""
    model = cnndsl.parse(f"input {dims(x.shape[1:])}\n{src}")
    node = model.nodes[-1]
    assert {k: w.shape for k, w in weights.items()} == {w.name: w.shape for w in node.weights}
    arrays = {k: w.astype(np.float32) for k, w in weights.items()}
    return forward(model, {node.name: arrays}, x.astype(np.float32))


def merge(kind: str, xs: list[np.ndarray]) -> np.ndarray:
    """A merge's kernel on several tensors (a model has one input)."""
    branches = " ".join("branch { }" for _ in xs)
    model = cnndsl.parse(f"input {dims(xs[0].shape[1:])}\n{kind} {{ {branches} }}")
    return KERNELS(model.nodes[-1].layer, xs, {})


def batched(x: np.ndarray) -> np.ndarray:
    """A 1-D array is one sample."""
    return x if x.ndim > 1 else x[None]


def last(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1)


def first(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -1, 1)


def canonical(w: np.ndarray, b: np.ndarray | None) -> tuple[str, dict[str, np.ndarray]]:
    """``bias=``, and ONNX's (out, in/g, *k) or (in, out, *k) kernel in the language's layout."""
    kernel = {"kernel": np.moveaxis(w, [0, 1], [-1, -2])}
    return f"bias={str(b is not None).lower()}", kernel | ({} if b is None else {"bias": b})


def pad_option(pads: list[tuple[int, int]]) -> str:
    return "pad=(" + ", ".join(str(p) for pair in pads for p in pair) + ")"


def spatial_padding(c: Case, kernel: list[int], strides: list[int], dil: list[int]) -> str:
    """SAME_UPPER is the language's ``same``; SAME_LOWER and explicit pads are written out."""
    auto = c.attrs.get("auto_pad", "NOTSET")
    if auto == "SAME_UPPER":
        return "same"
    r = len(kernel)
    if auto == "SAME_LOWER":
        pads = []
        for n, k, s, d in zip(c.x.shape[2:], kernel, strides, dil):
            total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
            pads.append((total - total // 2, total // 2))
    else:
        p = c.attrs.get("pads", [0] * 2 * r) if auto == "NOTSET" else [0] * 2 * r
        pads = list(zip(p[:r], p[r:]))
    return pad_option(pads)


PLANS: dict[str, Callable[[Case], Any]] = {}


def plan(*op_types: str) -> Callable[[Callable[[Case], Any]], Callable[[Case], Any]]:
    def register(fn: Callable[[Case], Any]) -> Callable[[Case], Any]:
        PLANS.update(dict.fromkeys(op_types, fn))
        return fn

    return register


@plan("Conv")
def _conv(c: Case) -> Outcome:
    w, r = c.slots[1], c.x.ndim - 2
    k, (bias, weights) = list(w.shape[2:]), canonical(w, c.slots[2])
    s, d = c.attrs.get("strides", [1] * r), c.attrs.get("dilations", [1] * r)
    src = (
        f"conv {w.shape[0]} {dims(tuple(k))} {spatial_padding(c, k, s, d)} stride={dims(s)} "
        f"dilation={dims(d)} groups={c.attrs.get('group', 1)} {bias}"
    )
    return first(run(src, last(c.x), **weights)), c.outs[0]


def _deconv_window(c: Case, n: int, k: int, s: int, axis: int) -> tuple[int, int]:
    """ONNX's (start, length) in the full scatter of one axis."""
    r = c.x.ndim - 2
    full = (n - 1) * s + k
    if c.attrs.get("auto_pad") == "SAME_UPPER":
        return (full - n * s) // 2, n * s
    p, extra = c.attrs.get("pads", [0] * 2 * r), c.attrs.get("output_padding", [0] * r)
    return p[axis], full - p[axis] - p[axis + r] + extra[axis]


@plan("ConvTranspose")
def _deconv(c: Case) -> Outcome:
    if c.attrs.get("group", 1) != 1:
        return "groups (deconv has none)"
    if "output_shape" in c.attrs:
        return "output_shape (the output size follows from valid or same)"
    w, r = c.slots[1], c.x.ndim - 2
    k, s = list(w.shape[2:]), c.attrs.get("strides", [1] * r)
    wins = [_deconv_window(c, n, *ks, i) for i, (n, *ks) in enumerate(zip(c.x.shape[2:], k, s))]
    modes = {
        "valid": [(0, n * q + max(kk - q, 0)) for n, kk, q in zip(c.x.shape[2:], k, s)],
        "same": [(max(kk - q, 0) // 2, n * q) for n, kk, q in zip(c.x.shape[2:], k, s)],
    }
    mode = next((m for m, win in modes.items() if win == wins), None)
    if mode is None:
        return f"pads/output_padding give the window {wins}, neither valid's nor same's"
    bias, weights = canonical(w, c.slots[2])
    src = f"deconv {w.shape[1]} {dims(tuple(k))} {mode} stride={dims(s)} {bias}"
    return first(run(src, last(c.x), **weights)), c.outs[0]


def _floor_equals_ceil(c: Case, k: list[int], s: list[int], pads: list[int]) -> bool:
    r = len(k)
    for n, kk, ss, a, b in zip(c.x.shape[2:], k, s, pads[:r], pads[r:]):
        ceil = math.ceil((n + a + b - kk) / ss) + 1
        ceil -= (ceil - 1) * ss >= n + a  # ONNX drops a last window starting in the end pad
        if ceil != (n + a + b - kk) // ss + 1:
            return False
    return True


@plan("MaxPool", "AveragePool")
def _pool(c: Case) -> Outcome:
    if len(c.outs) > 1:
        return "the argmax indices output"
    if c.attrs.get("count_include_pad", 0):
        return "count_include_pad=1 (the language averages real elements only)"
    r, k = c.x.ndim - 2, c.attrs["kernel_shape"]
    s, pads = c.attrs.get("strides", [1] * r), c.attrs.get("pads", [0] * 2 * r)
    if c.attrs.get("ceil_mode", 0) and not _floor_equals_ceil(c, k, s, pads):
        return "ceil_mode with a size floor does not give"
    if any(p >= kk for p, kk in zip(pads, k + k)):
        return "padding as wide as the window (the language keeps it smaller)"
    kind, padding = ("max" if c.op == "MaxPool" else "avg"), spatial_padding(c, k, s, [1] * r)
    src = f"pool {kind} {dims(tuple(k))} {padding} stride={dims(tuple(s))}"
    return first(run(src, last(c.x))), c.outs[0]


@plan("GlobalAveragePool", "GlobalMaxPool")
def _globalpool(c: Case) -> Outcome:
    kind = "avg" if c.op == "GlobalAveragePool" else "max"  # the language's is (N, C)
    return run(f"globalpool {kind}", last(c.x)).reshape(c.outs[0].shape), c.outs[0]


@plan("Gemm")
def _gemm(c: Case) -> Outcome:
    a, b, bias = c.slots[:3]
    a, b = (v.T if c.attrs.get(t) else v for v, t in ((a, "transA"), (b, "transB")))
    units = b.shape[1]
    if bias is not None and bias.ndim == 2 and bias.shape[0] > 1:
        return "a bias per row of the batch (C is M x N)"
    weights = {"kernel": np.float32(c.attrs.get("alpha", 1.0)) * b}
    if bias is not None:
        beta = np.float32(c.attrs.get("beta", 1.0))
        weights["bias"] = beta * np.broadcast_to(bias, (1, units))[0]
    src = f"dense {units} bias={str(bias is not None).lower()}"
    return run(src, a, **weights), c.outs[0]


@plan("MatMul")
def _matmul(c: Case) -> Outcome:
    a, b = c.slots[0], c.slots[1]
    if b.ndim > 2:
        return "b stacks matrices (a batched matmul)"
    kernel = b if b.ndim == 2 else b[:, None]  # a's leading axes are the batch
    got = run(f"dense {kernel.shape[1]} bias=false", a.reshape(-1, a.shape[-1]), kernel=kernel)
    return got.reshape(c.outs[0].shape), c.outs[0]


def elementwise(src: str, x: np.ndarray) -> np.ndarray:
    return run(src, batched(x)).reshape(x.shape)


@plan("Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Gelu", "Identity")
def _activation(c: Case) -> Outcome:
    src = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Identity": "linear"}.get(c.op)
    if src is None:  # the language's defaults must be ONNX's: alpha given only when set
        src = {"LeakyRelu": "leaky_relu", "Elu": "elu", "Gelu": "gelu"}[c.op]
        src += f" alpha={c.attrs['alpha']!r}" if "alpha" in c.attrs else ""
        src += " approximate=true" if c.attrs.get("approximate") == "tanh" else ""
    return elementwise(src, c.x), c.outs[0]


View = Callable[[np.ndarray], np.ndarray]


def channel_view(x: np.ndarray, axis: int) -> tuple[View, View] | None:
    """Moving the channel axis last and back, if ``axis`` can be it: the last axis, or axis
    1 of NC... data; None for the batch axis or a spatial one."""
    a = axis % x.ndim
    if x.ndim == 1 or a == x.ndim - 1:
        return np.asarray, np.asarray  # as they are
    return (last, first) if a == 1 else None


@plan("Softmax")
def _softmax(c: Case) -> Outcome:
    views = channel_view(c.x, c.attrs.get("axis", -1))
    if views is None:
        return "over the batch axis (the language: the channel axis)"
    to, back = views
    return back(elementwise("softmax", to(c.x))), c.outs[0]


@plan("Clip")
def _clip(c: Case) -> Outcome:
    lo, hi = (None if v is None else float(v) for v in (c.slots[1], c.slots[2]))
    src = {(0.0, 6.0): "relu6", (0.0, None): "relu", (None, None): "linear"}.get((lo, hi))
    if src is None:
        return f"bounds [{lo}, {hi}] (relu6 is [0, 6], relu [0, inf))"
    return elementwise(src, c.x), c.outs[0]


@plan("BatchNormalization")
def _batchnorm(c: Case) -> Outcome:
    if c.attrs.get("training_mode") or len(c.outs) > 1:
        return "training mode (the NumPy backend runs inference)"
    src = "batchnorm" + (f" eps={c.attrs['epsilon']!r}" if "epsilon" in c.attrs else "")
    names = ("gamma", "beta", "moving_mean", "moving_variance")
    return first(run(src, last(c.x), **dict(zip(names, c.slots[1:])))), c.outs[0]


@plan("LayerNormalization")
def _layernorm(c: Case) -> Outcome:
    axis = c.attrs.get("axis", -1) % c.x.ndim
    if axis != c.x.ndim - 1:
        return "normalises over several axes (the language: the channel axis)"
    src = "layernorm" + (f" eps={c.attrs['epsilon']!r}" if "epsilon" in c.attrs else "")
    return run(src, c.x, gamma=c.slots[1], beta=c.slots[2]), c.outs[0]  # Y only


@plan("Add", "Sum")
def _add(c: Case) -> Outcome:
    xs = [x for x in c.slots if x is not None]
    if len(xs) < 2:
        return "one input (add joins two or more)"
    if len({x.shape for x in xs}) > 1:
        return "broadcasting (add needs equal shapes)"
    return merge("add", [batched(x) for x in xs]).reshape(c.outs[0].shape), c.outs[0]


@plan("Concat")
def _concat(c: Case) -> Outcome:
    xs = [x for x in c.slots if x is not None]
    views = channel_view(xs[0], c.attrs["axis"])
    if views is None:
        return "along the batch axis (the language: the channel axis)"
    to, back = views
    return back(merge("concat", [batched(to(x)) for x in xs])).reshape(c.outs[0].shape), c.outs[0]


@plan("Flatten")
def _flatten(c: Case) -> Outcome:
    axis = c.attrs.get("axis", 1)
    axis += c.x.ndim if axis < 0 else 0
    if axis != 1:
        return f"axis {axis} (the language keeps the batch axis and only it)"
    return run("flatten", c.x), c.outs[0]  # row-major: the samples read as channels-last


@plan("Pad")
def _pad(c: Case) -> Outcome:
    if c.attrs.get("mode", "constant") != "constant":
        return f"mode {c.attrs['mode']}"
    r = c.x.ndim
    axes = [a % r for a in (c.slots[3] if c.slots[3] is not None else range(r))]
    pads, p = [(0, 0)] * r, c.slots[1]
    for i, a in enumerate(axes):
        pads[a] = (int(p[i]), int(p[i + len(axes)]))
    if pads[0] != (0, 0) or pads[1] != (0, 0):
        return "pads the batch or channel axis"
    value = 0.0 if c.slots[2] is None else float(c.slots[2])
    spatial = tuple(pads[a] for a in range(2, r))
    if value == 0.0:
        return first(run(f"zeropad {pad_option(list(spatial))}", last(c.x))), c.outs[0]
    # zeropad is the value 0; the kernel's value is what max pooling pads with (-inf)
    return first(ops.pad_spatial(last(c.x), spatial, value)), c.outs[0]


#: (mode, coordinate_transformation_mode, nearest_mode) that upsample computes at integer
#: scales: a nearest whose rounding repeats values; bilinear with half-pixel centres
UPSAMPLES = {
    ("nearest", "half_pixel", "round_prefer_floor"), ("nearest", "half_pixel", "round_prefer_ceil"),
    ("nearest", "pytorch_half_pixel", "round_prefer_floor"), ("nearest", "asymmetric", "floor"),
    ("linear", "half_pixel", ""), ("linear", "pytorch_half_pixel", ""),
    ("linear", "half_pixel_symmetric", ""),
}  # fmt: skip


def _resize_scales(c: Case) -> list[float]:
    r = c.x.ndim
    axes = [a % r for a in c.attrs.get("axes", range(r))]
    if c.slots[2] is not None and c.slots[2].size:
        given = [float(s) for s in c.slots[2]]
    else:
        given = [s / c.x.shape[a] for s, a in zip(c.slots[3], axes)]
        policy = c.attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            given = [(min if policy == "not_larger" else max)(given)] * len(axes)
    return [dict(zip(axes, given)).get(a, 1.0) for a in range(r)]


@plan("Resize")
def _resize(c: Case) -> Outcome:
    mode = c.attrs.get("mode", "nearest")
    ctm = c.attrs.get("coordinate_transformation_mode", "half_pixel")
    scales = _resize_scales(c)
    if scales[:2] != [1.0, 1.0] or any(s < 1 for s in scales):
        return "downsampling, or resizing the batch or channels"
    if any(s != int(s) for s in scales):
        return "a non-integer scale"
    rounding = c.attrs.get("nearest_mode", "round_prefer_floor") if mode == "nearest" else ""
    if (mode, ctm, rounding) not in UPSAMPLES:
        return f"{mode} with {ctm} {rounding}".rstrip()
    kind = "bilinear" if mode == "linear" else "nearest"
    src = f"upsample {dims(tuple(int(s) for s in scales[2:]))} {kind}"
    return first(run(src, last(c.x))), c.outs[0]


@plan("PRelu")
def _prelu(c: Case) -> Outcome:
    slope = c.slots[1]
    if slope.shape != (c.x.shape[-1],):
        return f"slope of shape {slope.shape}, not one per channel"
    return run("prelu", c.x, alpha=slope), c.outs[0]


def _cuts(c: Case) -> dict[int, tuple[int, int]]:
    """Axis -> (before, after) removed, for the axes the slice shortens (ONNX clamps)."""
    r = c.x.ndim
    axes = [a % r for a in (c.slots[3] if c.slots[3] is not None else range(len(c.slots[1])))]
    cut = {}
    for a, s, e in zip(axes, c.slots[1], c.slots[2]):
        n = c.x.shape[a]
        s, e = (min(max(v + n if v < 0 else v, 0), n) for v in (int(s), int(e)))
        if (s, e) != (0, n):
            cut[a] = (s, n - e)
    return cut


@plan("Slice")
def _slice(c: Case) -> Outcome:
    r = c.x.ndim
    if c.slots[4] is not None and any(s != 1 for s in c.slots[4]):
        return "steps other than 1"
    if c.outs[0].size == 0:
        return "an empty result (a crop keeps at least one position)"
    cut = _cuts(c)
    views = ((np.asarray, np.asarray, range(1, r - 1)), (last, first, range(2, r)))
    for to, back, spatial in views:  # N...C data as it is, or NC... data moved
        if set(cut) <= set(spatial):
            crops = [cut.get(a, (0, 0)) for a in spatial]
            return back(run(f"crop {pad_option(crops)[4:]}", to(c.x))), c.outs[0]
    return "slices the batch axis"


@plan("Dropout")
def _dropout(c: Case) -> Outcome:
    if len(c.outs) > 1:
        return "the mask output"
    if c.slots[2] is not None and bool(c.slots[2]):
        return "training mode (random; the NumPy backend runs inference)"
    ratio = c.attrs.get("ratio", 0.5 if c.slots[1] is None else float(c.slots[1]))
    return elementwise(f"dropout {ratio!r}", c.x), c.outs[0]
