"""Fast paths of the interpreter: the same arithmetic as :mod:`.ops`, in cache-sized blocks.

:mod:`.ops` is the reference: one im2col buffer for the whole batch, one matmul, then
bias and activation each a pass over the whole output. Here a convolution runs a block
of images (or of output rows, when one image is large) at a time: the block's im2col
rows are copied into one buffer reused across the blocks (and across calls: a fresh
16 MiB buffer a call cost page faults worth a third of the CIFAR VGG's first conv),
multiplied into the output in place, and the bias and activation applied while the
block is still in the cache. The bias rides in the matmul: a column of ones in the
im2col block, a row of biases under the kernel (no pass over the output, whose few
channels, 6 in LeNet, make a broadcast add slow). The im2col buffer stays within
16 MiB, never the batch's (75 MiB for the CIFAR VGG's first block at batch 32).

Few filters (LeNet's 6 and 16) make a thin matmul that BLAS runs far below its peak:
there a row of the im2col matrix spans a *tile* of ``t`` neighbouring output columns
(the window widened by ``t - 1`` strides) and the kernel matrix has ``t`` copies of the
kernel, each shifted to its column of the tile, zeros elsewhere; the matmul's output
rows are then ``t`` whole output pixels, channels-last as they are stored. The zeros
add exact zeros when the input is finite; an input with inf or nan takes the plain
tiling (``0 * inf`` would spread a nan to the neighbours), and so does a softmax (over
one pixel's channels, not a tile's).

Pools without padding: a max pool's first two taps go straight into the output (no
copy of the first); an average pool whose window tiles the input (size == stride:
LeNet's) sums rows then columns on reshaped views, with long contiguous inner loops
(for max pools the same reshaping was slower than the tap loop).

tests/test_numpy_fast.py checks every path here against :mod:`.ops`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from . import ops

#: False: every layer takes the plain path of .ops (tests compare the two)
ENABLED = True
#: the im2col rows of one block when BLAS may run on several threads: few, large
#: matmuls, since each wakes every BLAS thread, and on a busy 2-core machine a thread
#: waiting for the other core's time slice stalls each matmul for milliseconds (2 MiB
#: blocks made the CIFAR VGG's largest conv 2-3x slower than 16 MiB ones there)
BLOCK_BYTES = 16 << 20
#: the same when the caller runs on one thread (:func:`one_thread`): within the cache.
#: 1 thread: 1-4 MiB all within 2% on the CIFAR VGG, the text CNN and LeNet, 16 MiB
#: 15-20% slower
BLOCK_BYTES_ONE_THREAD = 2 << 20
#: the widest tile's output row, in floats (filters * tile): the matmul's width
TILE_WIDTH = 48
#: an average pool sums a window's pixels channel by channel, each sum one long strided
#: loop, when there are at most this many channels: numpy's inner loop runs along the
#: last axis, and a loop over 6 floats (LeNet's) costs more to start than to run (the
#: sum of pixel pairs of LeNet's first pool at batch 64: 0.08 ms, not 0.23)
FEW_CHANNELS = 8
#: ... and at least this many windows a channel (below, the calls cost more than they save)
FEW_CHANNELS_ROWS = 256
#: OpenBLAS runs a gemm whose m * n * k is below this on the calling thread alone
#: (interface/gemm.c: 2 * SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD)
ONE_THREAD_MNK = 1 << 19

#: each thread's im2col buffer, kept between calls, and its mode (:func:`one_thread`)
_LOCAL = threading.local()


@contextmanager
def one_thread(chunk: bool = False) -> Iterator[None]:
    """Within it, this thread runs as one thread: its convolutions take cache-sized
    blocks; with ``chunk`` its matmuls also run in row chunks that BLAS keeps on this
    thread (a small problem given several threads, :func:`.forward`)."""
    old = getattr(_LOCAL, "mode", None)
    _LOCAL.mode = "chunk" if chunk else "one"
    try:
        yield
    finally:
        _LOCAL.mode = old


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b, out=out)``, in row chunks in ``one_thread(chunk=True)``: a BLAS
    thread woken for a small matmul costs more than it saves, and on a busy machine a
    thread that must wait for another core's time slice stalls for milliseconds."""
    if getattr(_LOCAL, "mode", None) != "chunk":
        return np.matmul(a, b, out=out)
    rows = max(1, (ONE_THREAD_MNK - 1) // (b.shape[0] * b.shape[1]))
    for s in range(0, len(a), rows):
        np.matmul(a[s : s + rows], b, out=out[s : s + rows])
    return out


def release() -> None:
    """Drop this thread's kept im2col buffer (the bench measures peak memory without it)."""
    _LOCAL.__dict__.pop("buf", None)


def _buffer(size: int) -> np.ndarray:
    """``size`` floats of this thread's buffer, grown when too small (never returned to a
    caller: only im2col rows live in it, consumed before the call ends)."""
    buf: np.ndarray | None = getattr(_LOCAL, "buf", None)
    if buf is None or buf.size < size:
        buf = _LOCAL.buf = None  # the old one freed first: never two alive at once
        buf = np.empty(size, np.float32)
        _LOCAL.buf = buf
    return buf[:size]


def _blocks(n: int, oh: int, row_bytes: int, budget: int) -> Iterator[tuple[slice, slice]]:
    """(images, output rows) of each block of at most ``budget`` bytes (or one output
    row): whole images while one fits, else rows. Blocks of images are of even size
    (LeNet's second conv at batch 64: 32 + 32 images, not 57 + 7, a matmul too small to
    run at speed)."""
    per_image = oh * row_bytes
    if per_image <= budget:
        most = max(1, budget // per_image)
        step = -(-n // -(-n // most))  # as many blocks as `most` needs, evened out
        for s in range(0, n, step):
            yield slice(s, min(n, s + step)), slice(0, oh)
        return
    rows = max(1, budget // row_bytes)
    for i in range(n):
        for r in range(0, oh, rows):
            yield slice(i, i + 1), slice(r, min(oh, r + rows))


def tile(ow: int, filters: int, x: np.ndarray) -> int:
    """Output columns per im2col row: the largest divisor of ``ow`` whose tile is at most
    :data:`TILE_WIDTH` floats wide; 1 (no tiling) for many filters or a non-finite input."""
    best = _widest_tile(ow, filters, TILE_WIDTH)
    return best if best > 1 and _finite(x) else 1


@functools.lru_cache(maxsize=256)
def _widest_tile(ow: int, filters: int, width: int) -> int:
    fits = [t for t in range(1, ow + 1) if ow % t == 0 and t * filters <= width]
    return max(fits, default=1)


def _finite(x: np.ndarray) -> bool:
    """No inf or nan in ``x``: its sum is finite (one pass, no temporary; a sum that
    overflows only sends a finite input the plain way)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(x.sum(dtype=np.float32)))


def _tiled_kernel(
    kernel: np.ndarray, t: int, sw: int, dw: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """(kh, ww, c, t * f): ``t`` copies of the kernel, copy j at the columns output column
    j of the tile reads; and the tile's (window width, window stride)."""
    kh, kw, c, f = kernel.shape
    ww = (t - 1) * sw + (kw - 1) * dw + 1
    tiled = np.zeros((kh, ww, c, t, f), np.float32)
    for j in range(t):
        tiled[:, j * sw : j * sw + (kw - 1) * dw + 1 : dw, :, j] = kernel
    return tiled.reshape(kh, ww, c, t * f), (ww, t * sw)


def conv(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    pads: ops.Pads,
    activation: tuple[str, float | None, bool] = ("linear", None, False),
) -> np.ndarray:
    """:func:`.ops.conv` for groups == 1, then the activation ``(fn, alpha, approximate)``."""
    one_d = x.ndim == 3
    x, pads, (stride, dilation) = ops._as_2d(x, pads, stride, dilation)
    if one_d:
        kernel = kernel[None]
    xp = ops.pad_spatial(x, pads)
    (kh, kw, _, f), (sh, sw), (dh, dw) = kernel.shape, stride, dilation
    ow = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
    t = tile(ow, f, x) if activation[0] != "softmax" else 1  # softmax: over one pixel
    if t > 1:
        kernel, (ww, step) = _tiled_kernel(kernel, t, sw, dw)
        win = ops.windows(xp, (kh, ww), (sh, step), (dh, 1))
        bias = None if bias is None else np.concatenate((bias,) * t)  # np.tile: 7 us
    else:
        win = ops.windows(xp, (kh, kw), stride, dilation)
    out = _matmul_blocks(win, kernel, bias, activation)
    out = out.reshape(*out.shape[:2], ow, f)
    return out[:, 0] if one_d else out


def _matmul_blocks(
    win: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    activation: tuple[str, float | None, bool],
) -> np.ndarray:
    """(N, OH, OW, F) = windows (N, OH, OW, KH, KW, C) times the kernel (KH, KW, C, F),
    plus the bias, through the activation; block by block."""
    n, oh, ow, kh, kw, c = win.shape
    f = kernel.shape[-1]
    km = kernel.reshape(kh * kw * c, f)
    if bias is not None:
        km = np.concatenate([km, bias.reshape(1, f)])
    k = len(km)
    out = np.empty((n, oh, ow, f), np.float32)
    fn, alpha, approx = activation
    if fn == "sigmoid":  # the matmul gives -y, exactly (negation is exact): see _activate
        km = np.negative(km)
    budget = BLOCK_BYTES_ONE_THREAD if getattr(_LOCAL, "mode", None) else BLOCK_BYTES
    blocks = list(_blocks(n, oh, ow * k * 4, budget))
    largest = max((i.stop - i.start) * (r.stop - r.start) for i, r in blocks)
    buf = _buffer(largest * ow * k)  # reused by every block
    for imgs, rows in blocks:
        block = win[imgs, rows]
        m = block.shape[0] * block.shape[1] * ow
        y = out[imgs, rows].reshape(m, f)  # a view: whole rows of the output
        matmul(_im2col(block, buf[: m * k], m, k), km, y)
        _activate(y, fn, alpha, approx)
    return out


def _activate(y: np.ndarray, fn: str, alpha: float | None, approx: bool) -> None:
    """The activation in place; for a sigmoid ``y`` holds -x, and the rest of
    :func:`.ops.sigmoid` follows (one pass fewer over the output)."""
    if fn == "sigmoid":
        ops.sigmoid_of_negated(y)
    else:
        ops.activation(y, fn, alpha, approx, inplace=True)


#: windows whose rows (width * channels) are at most this many floats are gathered by
#: tap into rows of the transpose: LeNet's first conv (5 floats) 1.7 ms, not 2.9
NARROW = 8


def _im2col(block: np.ndarray, buf: np.ndarray, m: int, k: int) -> np.ndarray:
    """The (m, k) matrix of a block of windows (B, R, OW, KH, KW, C) in the reused buffer,
    its last column ones when ``k`` counts one more than the window (the bias's).
    Narrow windows: gathered tap by tap as contiguous rows of the transpose (a
    channels-last gather would copy a few floats at a time); BLAS reads the transpose
    as it is."""
    b, r, ow, kh, kw, c = block.shape
    window = kh * kw * c
    if kw * c <= NARROW:
        t = buf.reshape(k, m)
        np.copyto(t[:window].reshape(kh, kw, c, b, r, ow), block.transpose(3, 4, 5, 0, 1, 2))
        t[window:] = 1
        transposed: np.ndarray = t.T
        return transposed
    cols = buf.reshape(b, r, ow, k)  # splitting the last axis of a slice of it: a view
    np.copyto(cols[..., :window].reshape(b, r, ow, kh, kw, c), block)
    cols[..., window:] = 1
    return cols.reshape(m, k)


def pool(
    x: np.ndarray, op: str, size: tuple[int, ...], stride: tuple[int, ...], pads: ops.Pads
) -> np.ndarray:
    """:func:`.ops.pool` without padding: a max pool combines its first two taps into the
    output (no copy of the first); an average pool whose window tiles the input (size ==
    stride, dividing it) sums each window's rows, then its columns, on reshaped views
    whose inner loops run along whole image rows and whole pixels."""
    one_d = x.ndim == 3
    x2, pads2, (size2, stride2) = ops._as_2d(x, pads, size, stride)
    padded = any(p for pair in pads2 for p in pair)
    if padded or size2[0] * size2[1] == 1 or (op == "avg" and not _tiles(x2, size2, stride2)):
        return ops.pool(x, op, size, stride, pads)
    out = _max_taps(x2, size2, stride2) if op == "max" else _avg_tiles(x2, size2)
    return out[:, 0] if one_d else out


def _tiles(x: np.ndarray, size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """The windows tile the (N, H, W, C) input: size == stride, dividing it."""
    return size == stride and x.shape[1] % size[0] == 0 and x.shape[2] % size[1] == 0


def _max_taps(x: np.ndarray, size: tuple[int, ...], stride: tuple[int, ...]) -> np.ndarray:
    return _combine(np.maximum, ops.taps(x, size, stride))


def _avg_tiles(x: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    n, h, w, c = x.shape
    kh, kw = size
    rows = x.reshape(n * (h // kh), kh, w * c)  # each window's rows: whole image rows
    acc = _combine(np.add, [rows[:, i] for i in range(kh)]) if kh > 1 else x
    pixels = acc.reshape(-1, kw * c)  # each window's kw pixels side by side, a row each
    if kw == 1:
        out = pixels  # kh > 1 (a 1x1 window takes ops.pool): acc is a new array
    elif c <= FEW_CHANNELS and len(pixels) >= FEW_CHANNELS_ROWS * c:
        out = np.empty((len(pixels), c), np.float32)
        for ch in range(c):  # one long strided loop a channel, not one of c floats a pixel
            _combine(np.add, [pixels[:, j * c + ch] for j in range(kw)], out[:, ch])
    else:
        out = _combine(np.add, [pixels[:, j * c : (j + 1) * c] for j in range(kw)])
    out *= np.float32(1.0 / (kh * kw))  # a new array: one of the sums ran
    return out.reshape(n, h // kh, w // kw, c)


def _combine(ufunc: np.ufunc, parts: list[np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """``parts`` (at least two) combined in order by ``ufunc``, into ``out`` or a new array."""
    acc: np.ndarray = ufunc(parts[0], parts[1], out=out)
    for part in parts[2:]:
        ufunc(acc, part, out=acc)
    return acc
