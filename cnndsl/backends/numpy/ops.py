"""Vectorised NumPy kernels, channels-last float32, batched: no Python loop over pixels.

Convolution is im2col + one BLAS matmul (a batched matmul per group set when
groups > 1); pooling loops over the few window taps, each a whole-batch array
operation. 1-D layers run as 2-D ones of height 1.
"""

from __future__ import annotations

import math

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
    out[(slice(None), *inner, slice(None))] = x
    return out


def _as_2d(x: np.ndarray, pads: Pads, *sizes: tuple[int, ...]):
    """Lift a 1-D layer (N, L, C) to 2-D (N, 1, L, C); sizes and pads gain a leading 1."""
    if x.ndim == 4:
        return x, pads, sizes
    return x[:, None], ((0, 0), *pads), tuple((1, *s) for s in sizes)


def windows(
    xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> np.ndarray:
    """A strided view (N, OH, OW, KH, KW, C) of every window of a padded (N, H, W, C) array."""
    n, h, w, c = xp.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = xp.strides
    return as_strided(
        xp,
        shape=(n, oh, ow, kh, kw, c),
        strides=(s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
        writeable=False,
    )


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
    if groups == 1:
        cols = win.reshape(m, kh * kw * cg)  # the im2col buffer: the one copy
        out = cols @ kernel.reshape(kh * kw * cg, f)
    else:
        fg = f // groups
        # (M, KH*KW, G, Cg) -> (G, M, KH*KW*Cg): one batched BLAS matmul over groups
        cols = win.reshape(m, kh * kw, groups, cg).transpose(2, 0, 1, 3)
        cols = np.ascontiguousarray(cols).reshape(groups, m, kh * kw * cg)
        k = kernel.reshape(kh * kw, cg, groups, fg).transpose(2, 0, 1, 3)
        k = k.reshape(groups, kh * kw * cg, fg)
        out = np.matmul(cols, k).transpose(1, 0, 2).reshape(m, f)
    if bias is not None:
        out += bias
    out = out.reshape(n, oh, ow, f)
    return out[:, 0] if one_d else out


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
    out: np.ndarray | None = None
    for i in range(kh):  # a loop over the window's taps, each a whole-batch operation
        for j in range(kw):
            tap = xp[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]
            if out is None:
                out = tap.copy()
            elif op == "max":
                np.maximum(out, tap, out=out)
            else:
                out += tap
    assert out is not None
    if op == "avg":
        if padded:
            out /= _window_counts(h, w, pads, (kh, kw), (sh, sw), oh, ow)[None, :, :, None]
        else:
            out *= np.float32(1.0 / (kh * kw))
    return out[:, 0] if one_d else out


def _window_counts(h, w, pads, size, stride, oh, ow) -> np.ndarray:
    """How many real (unpadded) elements each pooling window covers, (OH, OW)."""

    def axis(n: int, before: int, k: int, s: int, o: int) -> np.ndarray:
        start = np.arange(o) * s - before
        return (np.minimum(start + k, n) - np.maximum(start, 0)).astype(np.float32)

    (pt, _), (pl, _) = pads
    return np.outer(axis(h, pt, size[0], stride[0], oh), axis(w, pl, size[1], stride[1], ow))


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
    return np.copysign(y, x).astype(x.dtype)


def sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)


def activation(x: np.ndarray, fn: str, alpha: float | None = None, approximate: bool = False):
    """Every activation by its exact formula (docs/language.md)."""
    if fn == "linear":
        return x
    if fn == "relu":
        return np.maximum(x, 0, dtype=x.dtype)
    if fn == "relu6":
        return np.clip(x, 0, 6).astype(x.dtype)
    if fn == "leaky_relu":
        return np.where(x > 0, x, x * np.float32(alpha)).astype(x.dtype)
    if fn == "elu":
        return np.where(x > 0, x, np.float32(alpha) * np.expm1(np.minimum(x, 0))).astype(x.dtype)
    if fn == "sigmoid":
        return sigmoid(x)
    if fn == "tanh":
        return np.tanh(x)
    if fn == "silu":
        return x * sigmoid(x)
    if fn == "gelu":
        if approximate:
            inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
            return (0.5 * x * (1.0 + np.tanh(inner))).astype(x.dtype)
        return (0.5 * x * (1.0 + erf(x * np.float32(1 / math.sqrt(2))))).astype(x.dtype)
    if fn == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(f"unknown activation {fn!r}")  # pragma: no cover - registry-checked
