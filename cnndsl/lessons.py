"""The arithmetic of each layer kind, as a student writes it: one table entry per kind.

For a checked node, its kind's entry (registered beside the others in ``LESSONS``, a
:class:`~cnndsl.backends.table.Table` like the backends', so the completeness test fails
when a kind has none) gives a :class:`Lesson`: the output shape worked out axis by axis
(``(28 + 1 + 1 − 3) // 1 + 1 = 28``), the parameters (``3·3·1·32 + 32 = 320``), the
multiply-accumulates, how the receptive field grows, and the window of the kinds that
slide one. The numbers are computed here from the kind's published formula, not read from
the IR, so that the tests can hold them against the checker's own shapes and counts.

``cnndsl explain`` prints them (:mod:`cnndsl.explain`); the lints of :mod:`cnndsl.lints`
read the windows and activations; ``summary --columns`` reads the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .arith import DOT, MINUS, Axis, Field, Lesson, Step, product
from .arith import act as _act
from .backends.table import Table
from .ir import Node
from .layers import (
    Activation,
    Add,
    BatchNorm,
    Concat,
    Conv,
    Crop,
    Deconv,
    Dense,
    Depthwise,
    Dropout,
    Flatten,
    GlobalPool,
    Input,
    LayerNorm,
    Pool,
    PReLU,
    Separable,
    Shape,
    Upsample,
    ZeroPad,
)
from .layers.rules import AXES

LESSONS: Table[[Node], Lesson] = Table("explain")


def lesson(node: Node) -> Lesson:
    """The lesson of ``node``'s kind (every kind has an entry: a test checks)."""
    return LESSONS(node.layer, node)


def _windows(node: Node, k: Shape, s: Shape, d: Shape, pad: Shape | None) -> tuple[Axis, ...]:
    sizes = node.input_shapes[0][:-1]
    flat = pad or (0,) * (2 * len(sizes))
    names = AXES[len(sizes)]
    return tuple(
        Axis(names[i], sizes[i], k[i], s[i], d[i], flat[2 * i], flat[2 * i + 1])
        for i in range(len(sizes))
    )


def _slide(window: tuple[Axis, ...]) -> Callable[[Field], Field]:
    def grow(f: Field) -> Field:
        if f is None:
            return None
        return tuple((rf + (a.span - 1) * j, j * a.s) for (rf, j), a in zip(f, window))

    return grow


def _whole(_: Field) -> Field:
    return None


def _bias(units: int, on: bool) -> tuple[str, int]:
    return (f" + {units}", units) if on else ("", 0)


def _windowed(node: Node, window: tuple[Axis, ...], channels: Step, act: str | None) -> Lesson:
    out = (*(a.out for a in window), channels.value)
    return Lesson(
        out,
        (*(a.step() for a in window), channels),
        window=window,
        activation=_act(act),
        grow=_slide(window),
    )


def _positions(out: Shape) -> list[int]:
    return list(out[:-1])


@LESSONS.register(Conv)
def _conv(c: Conv, node: Node) -> Lesson:
    cin = node.input_shapes[0][-1]
    per = cin // c.groups
    window = _windows(node, c.kernel, c.stride, c.dilation, c.pad)
    base = _windowed(
        node, window, Step("channels", f"{c.filters} filters", c.filters), c.activation
    )
    b, bv = _bias(c.filters, c.bias)
    params = Step(
        "params",
        f"{product([*c.kernel, per, c.filters])}{b}",
        _prod(c.kernel) * per * c.filters + bv,
    )
    pos = _positions(base.out)
    macs = Step(
        "MACs",
        f"{product([*pos, c.filters])} {DOT} {product([*c.kernel, per])}",
        _prod(pos) * c.filters * _prod(c.kernel) * per,
    )
    note = f"{cin} input channels in {c.groups} groups: {per} per filter" if c.groups > 1 else ""
    return _with(base, params, macs, note)


@LESSONS.register(Depthwise)
def _depthwise(c: Depthwise, node: Node) -> Lesson:
    cin = node.input_shapes[0][-1]
    cout = cin * c.multiplier
    window = _windows(node, c.kernel, c.stride, c.dilation, c.pad)
    channels = Step("channels", f"{cin}{DOT}{c.multiplier}", cout)
    base = _windowed(node, window, channels, c.activation)
    b, bv = _bias(cout, c.bias)
    params = Step("params", f"{product([*c.kernel, cout])}{b}", _prod(c.kernel) * cout + bv)
    pos = _positions(base.out)
    macs = Step(
        "MACs",
        f"{product([*pos, cout])} {DOT} {product(c.kernel)}",
        _prod(pos) * cout * _prod(c.kernel),
    )
    return _with(base, params, macs, "one window per channel: each sees 1 input channel")


@LESSONS.register(Separable)
def _separable(c: Separable, node: Node) -> Lesson:
    cin = node.input_shapes[0][-1]
    mid = cin * c.multiplier
    window = _windows(node, c.kernel, c.stride, c.dilation, c.pad)
    base = _windowed(
        node, window, Step("channels", f"{c.filters} filters", c.filters), c.activation
    )
    b, bv = _bias(c.filters, c.bias)
    params = Step(
        "params",
        f"{product([*c.kernel, mid])} + {product([mid, c.filters])}{b}",
        _prod(c.kernel) * mid + mid * c.filters + bv,
    )
    pos = _positions(base.out)
    macs = Step(
        "MACs",
        f"{product([*pos, mid])} {DOT} {product(c.kernel)} + {product([*pos, mid, c.filters])}",
        _prod(pos) * mid * _prod(c.kernel) + _prod(pos) * mid * c.filters,
    )
    return _with(base, params, macs, "depthwise (no bias), then a 1x1 conv")


@LESSONS.register(Pool)
def _pool(p: Pool, node: Node) -> Lesson:
    assert p.stride is not None
    c = node.input_shapes[0][-1]
    window = _windows(node, p.size, p.stride, (1,) * len(p.size), p.pad)
    return _windowed(node, window, Step("channels", "unchanged", c), None)


@LESSONS.register(Deconv)
def _deconv(c: Deconv, node: Node) -> Lesson:
    x = node.input_shapes[0]
    steps, sizes = [], []
    for name, n, k, s in zip(AXES[len(x) - 1], x[:-1], c.kernel, c.stride):
        if c.padding == "same":
            steps.append(Step(name, f"{n}{DOT}{s}", n * s))
        else:
            steps.append(
                Step(name, f"{n}{DOT}{s} + max({k} {MINUS} {s}, 0)", n * s + max(k - s, 0))
            )
        sizes.append(steps[-1].value)
    b, bv = _bias(c.filters, c.bias)
    params = Step(
        "params",
        f"{product([*c.kernel, c.filters, x[-1]])}{b}",
        _prod(c.kernel) * c.filters * x[-1] + bv,
    )
    macs = Step(
        "MACs",
        f"{product(x)} {DOT} {product([c.filters, *c.kernel])}",
        _prod(x) * c.filters * _prod(c.kernel),
    )

    def grow(f: Field) -> Field:
        if f is None:
            return None
        return tuple(
            (rf + (-(-k // s) - 1) * j, j / s) for (rf, j), k, s in zip(f, c.kernel, c.stride)
        )

    channels = Step("channels", f"{c.filters} filters", c.filters)
    return Lesson(
        (*sizes, c.filters), (*steps, channels), params, macs, (), _act(c.activation), grow
    )


@LESSONS.register(Dense)
def _dense(d: Dense, node: Node) -> Lesson:
    n = node.input_shapes[0][0]
    b, bv = _bias(d.units, d.bias)
    return Lesson(
        (d.units,),
        (Step("features", f"{d.units} units", d.units),),
        Step("params", f"{n}{DOT}{d.units}{b}", n * d.units + bv),
        Step("MACs", f"{n}{DOT}{d.units}", n * d.units),
        activation=_act(d.activation),
        grow=_whole,
    )


@LESSONS.register(Flatten)
def _flatten(_: Flatten, node: Node) -> Lesson:
    x = node.input_shapes[0]
    n = _prod(x)
    return Lesson((n,), (Step("features", product(x), n),), grow=_whole)


@LESSONS.register(GlobalPool)
def _globalpool(_: GlobalPool, node: Node) -> Lesson:
    c = node.input_shapes[0][-1]
    return Lesson((c,), (Step("features", f"{c} channels", c),), grow=_whole)


@LESSONS.register(ZeroPad)
def _zeropad(z: ZeroPad, node: Node) -> Lesson:
    x = node.input_shapes[0]
    steps = [
        Step(
            name, f"{n} + {z.pad[2 * i]} + {z.pad[2 * i + 1]}", n + z.pad[2 * i] + z.pad[2 * i + 1]
        )
        for i, (name, n) in enumerate(zip(AXES[len(x) - 1], x[:-1]))
    ]
    return Lesson((*(s.value for s in steps), x[-1]), tuple(steps))


@LESSONS.register(Crop)
def _crop(c: Crop, node: Node) -> Lesson:
    x = node.input_shapes[0]
    steps = [
        Step(name, f"{n} {MINUS} {a} {MINUS} {b}", n - a - b)
        for name, n, (a, b) in zip(AXES[len(x) - 1], x[:-1], c.crops())
    ]
    return Lesson((*(s.value for s in steps), x[-1]), tuple(steps))


@LESSONS.register(Upsample)
def _upsample(u: Upsample, node: Node) -> Lesson:
    x = node.input_shapes[0]
    steps = [
        Step(name, f"{n}{DOT}{f}", n * f) for name, n, f in zip(AXES[len(x) - 1], x[:-1], u.size)
    ]
    taps = 2 if u.mode == "bilinear" else 1

    def grow(f: Field) -> Field:
        if f is None:
            return None
        return tuple((rf + (taps - 1) * j, j / k) for (rf, j), k in zip(f, u.size))

    return Lesson((*(s.value for s in steps), x[-1]), tuple(steps), grow=grow)


def _same(node: Node, params: Step | None = None, activation: str | None = None) -> Lesson:
    return Lesson(node.input_shapes[0], params=params, activation=activation)


@LESSONS.register(Input)
def _input(i: Input, node: Node) -> Lesson:
    return Lesson(i.shape)


@LESSONS.register(Dropout)
def _dropout(_: Dropout, node: Node) -> Lesson:
    return _same(node)


@LESSONS.register(Activation)
def _activation(a: Activation, node: Node) -> Lesson:
    return _same(node, activation=_act(a.fn))


@LESSONS.register(BatchNorm)
def _batchnorm(_: BatchNorm, node: Node) -> Lesson:
    c = node.input_shapes[0][-1]
    step = Step("params", f"4{DOT}{c}", 4 * c)
    return _with(
        _same(node, step), step, None, "gamma, beta (trained), moving mean and variance (not)"
    )


@LESSONS.register(LayerNorm)
def _layernorm(_: LayerNorm, node: Node) -> Lesson:
    c = node.input_shapes[0][-1]
    return _same(node, Step("params", f"2{DOT}{c}", 2 * c))


@LESSONS.register(PReLU)
def _prelu(_: PReLU, node: Node) -> Lesson:
    c = node.input_shapes[0][-1]
    return _same(node, Step("params", f"{c} slopes", c))


@LESSONS.register(Add)
def _add(_: Add, node: Node) -> Lesson:
    return Lesson(node.input_shapes[0], note=f"the sum of {len(node.inputs)} tensors of one shape")


@LESSONS.register(Concat)
def _concat(_: Concat, node: Node) -> Lesson:
    xs = node.input_shapes
    c = sum(x[-1] for x in xs)
    step = Step("channels", " + ".join(str(x[-1]) for x in xs), c)
    return Lesson((*xs[0][:-1], c), (step,))


def _with(base: Lesson, params: Step | None, macs: Step | None, note: str) -> Lesson:
    return Lesson(base.out, base.shape, params, macs, base.window, base.activation, base.grow, note)


def _prod(xs: Sequence[int]) -> int:
    return math.prod(xs)
