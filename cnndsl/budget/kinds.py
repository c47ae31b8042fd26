"""What each layer kind allocates while the NumPy interpreter runs it, besides its output
(``backends/numpy/ops.py`` is the reference): padded inputs, im2col windows, scatters,
temporaries. Every figure is in bytes, float32, for the whole batch; each errs high.

A kind with no entry in :data:`EXTRA` (a kind added later) is assumed to need one more
output-sized temporary, and :func:`loop_work` sizes the Python loops over window taps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .. import layers as L
from ..backends.numpy.fast import BLOCK_BYTES
from ..ir import Node
from ..layers import Shape

F32 = 4
#: one Python iteration of a tap loop costs about as much as this many element steps
TAP_OVERHEAD = 1024

Buffers = list[tuple[str, int]]  # (what, bytes) a layer allocates while it runs


def elems(shape: Shape) -> int:
    return math.prod(shape)


#: temporaries an activation makes, in outputs' worth: float64 erf for exact gelu, a
#: negative part for leaky_relu and elu, a sigmoid for silu
_ACT_TEMPS = {"leaky_relu": 1, "elu": 1, "silu": 1, "gelu": 12}


def _act_temps(fn: str, approximate: bool | None, out_bytes: int) -> Buffers:
    n = 4 if fn == "gelu" and approximate else _ACT_TEMPS.get(fn, 0)
    return [(f"{fn} temporaries", n * out_bytes)] if n else []


def _padded(x: Shape, pads: tuple[tuple[int, int], ...], batch: int) -> Buffers:
    if not any(a or b for a, b in pads):
        return []
    sizes = [n + a + b for n, (a, b) in zip(x[:-1], pads)]
    return [("padded input", batch * elems((*sizes, x[-1])) * F32)]


def _conv_parts(conv: L.Conv, x: Shape, out: Shape, batch: int) -> Buffers:
    """ops.conv: the padded input, the im2col matrix (copied twice when grouped: once
    gathered, once made contiguous per group), and a second output-sized matmul result
    except on the plain one-matmul path. Ungrouped, numpy/fast.py's blocks: an im2col
    buffer of at most BLOCK_BYTES or one output row (a bias column more), no result."""
    window = elems(conv.kernel) * x[-1]
    cols = batch * elems(out[:-1]) * window * F32
    bufs = _padded(x, conv.pads(), batch)
    if conv.groups == 1:
        row = elems(out[-2:-1]) * (window + 1) * F32
        full = batch * elems(out[:-1]) * (window + 1) * F32
        bufs.append(("im2col block", min(full, max(BLOCK_BYTES, row))))
        return bufs
    bufs.append(("im2col windows", cols * 2))
    bufs.append(("matmul result", batch * elems(out) * F32))
    return bufs


def _conv(layer: L.Conv, node: Node, batch: int) -> Buffers:
    out_bytes = batch * elems(node.shape) * F32
    return [
        *_conv_parts(layer, node.input_shapes[0], node.shape, batch),
        *_act_temps(layer.activation, False, out_bytes),
    ]


def _depthwise(layer: L.Depthwise, node: Node, batch: int) -> Buffers:
    return _conv(layer.as_conv(node.input_shapes[0][-1]), node, batch)


def _separable(layer: L.Separable, node: Node, batch: int) -> Buffers:
    x = node.input_shapes[0]
    dw = layer.depthwise(x[-1])
    mid = dw.output_shape((x,))
    mid_bytes = batch * elems(mid) * F32
    out_bytes = batch * elems(node.shape) * F32
    return [
        *_conv_parts(dw, x, mid, batch),
        ("depthwise output", mid_bytes),
        ("pointwise windows", mid_bytes),
        ("matmul result", out_bytes),
        *_act_temps(layer.activation, False, out_bytes),
    ]


def _deconv(layer: L.Deconv, node: Node, batch: int) -> Buffers:
    """ops.deconv: every (position, tap) contribution, then the full scatter."""
    x = node.input_shapes[0]
    taps = elems(layer.kernel)
    full = tuple((n - 1) * s + k for n, s, k in zip(x[:-1], layer.stride, layer.kernel))
    return [
        ("tap contributions", batch * elems(x[:-1]) * taps * layer.filters * F32),
        ("full scatter", batch * elems(full) * layer.filters * F32),
        ("kernel copy", taps * layer.filters * x[-1] * F32),
        *_act_temps(layer.activation, False, batch * elems(node.shape) * F32),
    ]


def _pool(layer: L.Pool, node: Node, batch: int) -> Buffers:
    return _padded(node.input_shapes[0], layer.pads(), batch)


def _dense(layer: L.Dense, node: Node, batch: int) -> Buffers:
    return _act_temps(layer.activation, False, batch * elems(node.shape) * F32)


def _activation(layer: L.Activation, node: Node, batch: int) -> Buffers:
    return _act_temps(layer.fn, layer.approximate, batch * elems(node.shape) * F32)


def _upsample(layer: L.Upsample, node: Node, batch: int) -> Buffers:
    """Nearest: one axis repeated at a time; bilinear: four gathered and weighted copies."""
    out_bytes = batch * elems(node.shape) * F32
    if layer.mode == "nearest":
        return [("first axis repeated", out_bytes)] if len(layer.size) > 1 else []
    return [("interpolation temporaries", 5 * out_bytes)]


def _times_output(n: int, what: str) -> Callable[[L.Layer, Node, int], Buffers]:
    def buffers(layer: L.Layer, node: Node, batch: int) -> Buffers:
        return [(what, n * batch * elems(node.shape) * F32)]

    return buffers


def _nothing(layer: L.Layer, node: Node, batch: int) -> Buffers:
    return []


#: what each kind allocates besides its output; a kind not listed (a new one) is assumed
#: to need one more output-sized temporary
EXTRA: dict[type[L.Layer], Callable[..., Buffers]] = {
    L.Conv: _conv,
    L.Depthwise: _depthwise,
    L.Separable: _separable,
    L.Deconv: _deconv,
    L.Pool: _pool,
    L.Dense: _dense,
    L.Activation: _activation,
    L.Upsample: _upsample,
    L.BatchNorm: _times_output(2, "scaled copies"),
    L.LayerNorm: _times_output(8, "float64 temporaries"),
    L.Input: _nothing,
    L.ZeroPad: _nothing,
    L.Add: _nothing,
    L.Concat: _nothing,
    L.GlobalPool: _nothing,
    L.PReLU: _times_output(1, "negative part"),
}
#: kinds whose output is their input itself (a view): they allocate nothing
VIEWS: frozenset[type[L.Layer]] = frozenset({L.Dropout, L.Flatten, L.Crop})


def buffers(node: Node, batch: int) -> Buffers:
    """What ``node`` allocates while it runs: its output, then the rest, largest first."""
    if type(node.layer) in VIEWS:
        return []
    out = [("output", batch * elems(node.shape) * F32)]
    extra = EXTRA.get(type(node.layer), _times_output(1, "temporaries"))
    return out + sorted(extra(node.layer, node, batch), key=lambda b: -b[1])


def loop_work(node: Node, batch: int) -> tuple[int, int]:
    """(taps, element steps) of the Python loop over window taps, (0, 0) for other kinds."""
    layer = node.layer
    x = node.input_shapes[0] if node.input_shapes else ()
    if isinstance(layer, L.Pool):
        taps, per_tap = elems(layer.size), batch * elems(node.shape)
    elif isinstance(layer, L.Deconv):
        taps, per_tap = elems(layer.kernel), batch * elems(x[:-1]) * layer.filters
    elif isinstance(layer, L.Conv) and layer.groups == 1 and x[-1] == 1:
        taps, per_tap = elems(layer.kernel), batch * elems(node.shape[:-1])
    else:
        return 0, 0
    return taps, taps * (per_tap + TAP_OVERHEAD)
