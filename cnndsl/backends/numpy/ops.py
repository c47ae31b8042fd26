"""Vectorised NumPy kernels, channels-last float32, batched: no Python loop over pixels.

Convolution is im2col + one BLAS matmul (a batched matmul per group set when
groups > 1); pooling loops over the few window taps, each a whole-batch array
operation. 1-D layers run as 2-D ones of height 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

Pads = tuple[tuple[int, int], ...]


def pad_spatial(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """Pad the spatial axes of an (N, *spatial, C) array; one allocation, no np.pad."""
    if not any(a or b for a, b in pads):
        return x
    shape = (x.shape[0], *(n + a + b for n, (a, b) in zip(x.shape[1:-1], pads)), x.shape[-1])
    out = np.full(shape, value, dtype=x.dtype)
    inner = tuple(slice(a, a + n) for n, (a, _) in zip(x.shape[1:-1], pads))
    index = (slice(None), *inner, slice(None))
    out[index] = x
    return out


def _as_2d(
    x: np.ndarray, pads: Pads, *sizes: tuple[int, ...]
) -> tuple[np.ndarray, Pads, tuple[tuple[int, ...], ...]]:
    """Lift a 1-D layer (N, L, C) to 2-D (N, 1, L, C); sizes and pads gain a leading 1."""
    if x.ndim == 4:
        return x, pads, sizes
    return x[:, None], ((0, 0), *pads), tuple((1, *s) for s in sizes)


def windows(
    xp: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> np.ndarray:
    """A strided view (N, OH, OW, KH, KW, C) of every window of a padded (N, H, W, C) array."""
    n, h, w, c = xp.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = xp.strides
    shape, strides = (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3)
    view: np.ndarray
    if xp.flags.c_contiguous:  # on xp's buffer, which numpy checks it lies within: 2 us
        view = np.ndarray(shape, xp.dtype, xp, 0, strides)
        view.flags.writeable = False
    else:  # 8 us
        view = as_strided(xp, shape=shape, strides=strides, writeable=False)
    return view


def conv(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pads: Pads,
    groups: int = 1,
) -> np.ndarray:
    """Convolution (really cross-correlation, as in every framework), 1-D or 2-D.

    ``kernel`` is canonical: (kh, kw, in/groups, out) or (k, in/groups, out).
    """
    one_d = x.ndim == 3
    x, pads, (stride, dilation) = _as_2d(x, pads, stride, dilation)
    if one_d:
        kernel = kernel[None]
    kh, kw, cg, f = kernel.shape
    xp = pad_spatial(x, pads)
    win = windows(xp, (kh, kw), stride, dilation)  # (N, OH, OW, KH, KW, C)
    n, oh, ow = win.shape[:3]
    m = n * oh * ow
    out: np.ndarray
    if groups == 1 and cg == 1:
        # One input channel (a first layer): gather each tap as a contiguous row of a
        # (KH*KW, M) matrix -- a strided (M, KH*KW) gather would copy float by float.
        xt = xp[..., 0]
        cols = np.empty((kh * kw, n, oh, ow), np.float32)
        (sh, sw), (dh, dw) = stride, dilation
        for i in range(kh):
            for j in range(kw):
                cols[i * kw + j] = xt[
                    :,
                    i * dh : i * dh + sh * (oh - 1) + 1 : sh,
                    j * dw : j * dw + sw * (ow - 1) + 1 : sw,
                ]
        out = np.ascontiguousarray((kernel.reshape(kh * kw, f).T @ cols.reshape(kh * kw, m)).T)
    elif groups == 1:
        cols = win.reshape(m, kh * kw * cg)  # the im2col buffer: the one copy
        out = cols @ kernel.reshape(kh * kw * cg, f)
    else:
        fg = f // groups
        # (M, KH*KW, G, Cg) -> (G, M, KH*KW*Cg): one batched BLAS matmul over groups
        grouped: np.ndarray = win.reshape(m, kh * kw, groups, cg).transpose(2, 0, 1, 3)
        grouped = np.ascontiguousarray(grouped).reshape(groups, m, kh * kw * cg)
        k: np.ndarray = kernel.reshape(kh * kw, cg, groups, fg).transpose(2, 0, 1, 3)
        k = k.reshape(groups, kh * kw * cg, fg)
        out = np.matmul(grouped, k).transpose(1, 0, 2).reshape(m, f)
    if bias is not None:
        out += bias
    out = out.reshape(n, oh, ow, f)
    return out[:, 0] if one_d else out


def deconv(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, ...],
    crops: tuple[tuple[int, int], ...],
) -> np.ndarray:
    """Transposed convolution: one matmul gives every (position, tap) contribution, which a
    loop over the taps scatters, stride apart; then the (start, length) window per axis.

    ``kernel`` is canonical: (kh, kw, out, in) or (k, out, in).
    """
    one_d = x.ndim == 3
    if one_d:
        x, kernel = x[:, None], kernel[None]
        stride, crops = (1, *stride), ((0, 1), *crops)
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    sh, sw = stride
    contrib = x.reshape(n * h * w, c) @ kernel.transpose(3, 0, 1, 2).reshape(c, kh * kw * f)
    contrib = contrib.reshape(n, h, w, kh, kw, f)
    full = np.zeros((n, (h - 1) * sh + kh, (w - 1) * sw + kw, f), np.float32)
    for a in range(kh):
        for b in range(kw):
            full[:, a : a + sh * (h - 1) + 1 : sh, b : b + sw * (w - 1) + 1 : sw] += contrib[
                :, :, :, a, b
            ]
    (t, oh), (left, ow) = crops
    out = np.zeros((n, oh, ow, f), np.float32)
    hh, ww = min(oh, full.shape[1] - t), min(ow, full.shape[2] - left)
    out[:, :hh, :ww] = full[:, t : t + hh, left : left + ww]  # beyond the scatter: zeros
    if bias is not None:
        out += bias
    return out[:, 0] if one_d else out


# complex: the hot loop over taps keeps max, average and the padded count together
def taps(x: np.ndarray, size: tuple[int, ...], stride: tuple[int, ...]) -> list[np.ndarray]:
    """Views of an (N, H, W, C) input, one per tap of the window: tap (i, j) of every
    output position, (N, OH, OW, C) each, row by row of the window."""
    (kh, kw), (sh, sw) = size, stride
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    return [
        x[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]


def pool(
    x: np.ndarray, op: str, size: tuple[int, ...], stride: tuple[int, ...], pads: Pads
) -> np.ndarray:
    """Max pooling pads with -inf; average pooling divides by the real elements only."""
    one_d = x.ndim == 3
    x, pads, (size, stride) = _as_2d(x, pads, size, stride)
    (kh, kw), (sh, sw) = size, stride
    _, h, w, _ = x.shape
    (pt, pb), (pl, pr) = pads
    oh = (h + pt + pb - kh) // sh + 1
    ow = (w + pl + pr - kw) // sw + 1
    padded = any(p for pair in pads for p in pair)
    xp = pad_spatial(x, pads, -np.inf if op == "max" else 0.0)
    first, *rest = taps(xp, (kh, kw), (sh, sw))
    out: np.ndarray = first.copy()
    for tap in rest:  # a loop over the window's taps, each a whole-batch operation
        if op == "max":
            np.maximum(out, tap, out=out)
        else:
            out += tap
    if op == "avg":
        if padded:
            out /= _window_counts(h, w, pads, (kh, kw), (sh, sw), oh, ow)[None, :, :, None]
        else:
            out *= np.float32(1.0 / (kh * kw))
    return out[:, 0] if one_d else out


def _window_counts(
    h: int,
    w: int,
    pads: Pads,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    oh: int,
    ow: int,
) -> np.ndarray:
    """How many real (unpadded) elements each pooling window covers, (OH, OW)."""

    def axis(n: int, before: int, k: int, s: int, o: int) -> np.ndarray:
        start = np.arange(o) * s - before
        return (np.minimum(start + k, n) - np.maximum(start, 0)).astype(np.float32)

    (pt, _), (pl, _) = pads
    return np.outer(axis(h, pt, size[0], stride[0], oh), axis(w, pl, size[1], stride[1], ow))


def upsample(x: np.ndarray, size: tuple[int, ...], mode: str) -> np.ndarray:
    """Nearest: each value repeated; bilinear: half-pixel centres (TensorFlow's resize,
    PyTorch's align_corners=False), edges clamped."""
    if mode == "nearest":
        for axis, f in enumerate(size, start=1):
            if f > 1:
                x = np.repeat(x, f, axis=axis)
        return x
    out = x
    for axis, f in enumerate(size, start=1):  # separable: one axis at a time
        n = out.shape[axis]
        src = (np.arange(n * f) + 0.5) / f - 0.5
        src = np.clip(src, 0, n - 1)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        frac = (src - lo).astype(np.float32)
        shape = [1] * out.ndim
        shape[axis] = n * f
        frac = frac.reshape(shape)
        out = np.take(out, lo, axis=axis) * (1 - frac) + np.take(out, hi, axis=axis) * frac
    return out.astype(np.float32)


# ---------------------------------------------------------------- activations

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def erf(x: np.ndarray) -> np.ndarray:
    """erf, vectorised: Abramowitz & Stegun 7.1.26 in float64, |error| < 1.5e-7.

    NumPy has no erf and SciPy is not a dependency; the error is below float32's
    resolution of erf's values, so float32 results match an exact erf.
    """
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    y = 1.0 - poly * np.exp(-z * z)
    out: np.ndarray = np.copysign(y, x).astype(x.dtype)
    return out


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + exp(-x)), in place when ``out`` is ``x``."""
    return sigmoid_of_negated(np.negative(x, out=out))


def sigmoid_of_negated(y: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(y)) in place: the sigmoid of -y. exp overflowing to inf gives exactly
    0, the right limit, so the overflow is not an error here. ``np.divide(1, y)`` rounds
    as ``np.reciprocal(y)`` does (one IEEE division) and runs vectorised: 0.16 ns an
    element here, reciprocal's loop 0.26."""
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1
    result: np.ndarray = np.divide(1, y, out=y)
    return result


def _leaky_relu(y: np.ndarray, x: np.ndarray, alpha: float | None, approx: bool) -> np.ndarray:
    neg = np.minimum(y, 0)
    neg *= np.float32(alpha)
    np.maximum(y, 0, out=y)
    y += neg
    return y


def _elu(y: np.ndarray, x: np.ndarray, alpha: float | None, approx: bool) -> np.ndarray:
    neg = np.minimum(y, 0)
    np.expm1(neg, out=neg)
    neg *= np.float32(alpha)
    np.maximum(y, 0, out=y)
    y += neg
    return y


def _silu(y: np.ndarray, x: np.ndarray, alpha: float | None, approx: bool) -> np.ndarray:
    y *= sigmoid(x)
    return y


def _gelu(y: np.ndarray, x: np.ndarray, alpha: float | None, approx: bool) -> np.ndarray:
    if approx:
        inner = _SQRT_2_OVER_PI * (x + np.float32(0.044715) * x**3)
        y *= np.float32(0.5) * (1.0 + np.tanh(inner))
        return y
    y *= np.float32(0.5) * (1.0 + erf(x * np.float32(1 / math.sqrt(2))))
    return y


#: below it, exp(z) < 2**-150 (half float32's smallest subnormal): 0 in float32, exactly
_EXP_ZERO_F32 = -104.0


def _softmax(y: np.ndarray, x: np.ndarray, alpha: float | None, approx: bool) -> np.ndarray:
    """Over the last (channel) axis, the maximum subtracted first so that exp cannot
    overflow; in float64, because float32 values as far apart as 3e38 and -3e38 would
    overflow the subtraction itself. Exponents whose result rounds to 0 in float32 are
    made -inf, so that exp does not underflow either."""
    z = y.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    z[z < _EXP_ZERO_F32] = -np.inf
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    y[...] = z
    return y


ActivationFn = Callable[[np.ndarray, np.ndarray, "float | None", bool], np.ndarray]

#: Every activation of the language by its exact formula (docs/language.md), computed
#: into ``y`` (a buffer holding a copy of ``x``, or ``x`` itself when in place). A test
#: fails when a name of ``cnndsl.layers.ACTIVATIONS`` is missing here.
ACTIVATION_FNS: dict[str, ActivationFn] = {
    "linear": lambda y, x, a, g: y,
    "relu": lambda y, x, a, g: np.maximum(y, 0, out=y),
    "relu6": lambda y, x, a, g: np.clip(y, 0, 6, out=y),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "silu": _silu,
    "sigmoid": lambda y, x, a, g: sigmoid(y, out=y),
    "tanh": lambda y, x, a, g: np.tanh(y, out=y),
    "softmax": _softmax,
}


def activation(
    x: np.ndarray,
    fn: str,
    alpha: float | None = None,
    approximate: bool = False,
    inplace: bool = False,
) -> np.ndarray:
    """Apply activation ``fn`` (:data:`ACTIVATION_FNS`).

    ``inplace`` reuses ``x``'s memory: the caller passes it for a buffer it just made
    (a conv or dense output), never for a tensor another layer may still read.
    """
    if fn == "linear":
        return x
    y = x if inplace else x.copy()
    return ACTIVATION_FNS[fn](y, x, alpha, approximate)
