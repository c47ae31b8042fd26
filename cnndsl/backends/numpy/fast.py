"""Fast paths of the interpreter: the same arithmetic as :mod:`.ops`, in cache-sized blocks.

:mod:`.ops` is the reference: one im2col buffer for the whole batch, one matmul, then
bias and activation each a pass over the whole output. Here a convolution runs a block
of images (or of output rows, when one image is large) at a time: the block's im2col
rows are copied into one buffer reused across the blocks, multiplied into the
output in place, and the bias and activation applied while the block is still in the
cache. The bias rides in the matmul: a column of ones in the im2col block, a row of
biases under the kernel (no pass over the output, whose few channels, 6 in LeNet, make
a broadcast add slow). The im2col buffer stays within 16 MiB, never the batch's (75
MiB for the CIFAR VGG's first block at batch 32).

tests/test_numpy_fast.py checks every path here against :mod:`.ops`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import ops

#: False: every layer takes the plain path of .ops (tests compare the two)
ENABLED = True
#: the im2col rows of one block. Within the last-level cache, and large enough that
#: the matmuls stay few: each wakes every BLAS thread, and at 2 threads on a busy
#: 2-core machine 1 MiB blocks (fastest at 1 thread) made a conv 5x slower than the
#: plain path; 16 MiB beat the plain path at both 1 and 2 threads (bench_numpy.py).
BLOCK_BYTES = 16 << 20


def _blocks(n: int, oh: int, row_bytes: int) -> Iterator[tuple[slice, slice]]:
    """(images, output rows) of each block: whole images while one fits, else rows."""
    per_image = oh * row_bytes
    if per_image <= BLOCK_BYTES:
        step = max(1, BLOCK_BYTES // per_image)
        for s in range(0, n, step):
            yield slice(s, min(n, s + step)), slice(0, oh)
        return
    rows = max(1, BLOCK_BYTES // row_bytes)
    for i in range(n):
        for r in range(0, oh, rows):
            yield slice(i, i + 1), slice(r, min(oh, r + rows))


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
    kh, kw, c, f = kernel.shape
    win = ops.windows(ops.pad_spatial(x, pads), (kh, kw), stride, dilation)
    n, oh, ow = win.shape[:3]
    k = kh * kw * c
    out = np.empty((n, oh, ow, f), np.float32)
    km = kernel.reshape(k, f)
    if bias is not None:
        km = np.concatenate([km, bias.reshape(1, f)])
    fn, alpha, approx = activation
    blocks = list(_blocks(n, oh, ow * len(km) * 4))
    largest = max((i.stop - i.start) * (r.stop - r.start) for i, r in blocks)
    buf = np.empty(largest * ow * len(km), np.float32)  # reused by every block
    for imgs, rows in blocks:
        block = win[imgs, rows]
        m = block.shape[0] * block.shape[1] * ow
        y = out[imgs, rows].reshape(m, f)  # a view: whole rows of the output
        np.matmul(_im2col(block, buf[: m * len(km)], m, len(km)), km, out=y)
        ops.activation(y, fn, alpha, approx, inplace=True)
    return out[:, 0] if one_d else out


def _im2col(block: np.ndarray, buf: np.ndarray, m: int, k: int) -> np.ndarray:
    """The (m, k) matrix of a block of windows (B, R, OW, KH, KW, C) in the reused buffer,
    its last column ones when ``k`` counts one more than the window (the bias's).
    One channel: gathered tap by tap as contiguous rows of the transpose (a channels-
    last gather would copy float by float); BLAS reads the transpose as it is."""
    b, r, ow, kh, kw, c = block.shape
    window = kh * kw * c
    if c == 1:
        t = buf.reshape(k, m)
        np.copyto(t[:window].reshape(kh, kw, b, r, ow), block[..., 0].transpose(3, 4, 0, 1, 2))
        t[window:] = 1
        transposed: np.ndarray = t.T
        return transposed
    cols = buf.reshape(b, r, ow, k)  # splitting the last axis of a slice of it: a view
    np.copyto(cols[..., :window].reshape(b, r, ow, kh, kw, c), block)
    cols[..., window:] = 1
    return cols.reshape(m, k)
