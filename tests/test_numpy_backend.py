"""The NumPy interpreter against deliberately naive loops written here, and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.backends.numpy import forward, forward_all, ops
from cnndsl.weights import init_weights


def naive_conv2d(x, k, b, stride, dilation, pads, groups):
    """Direct definition: out[n,i,j,f] = b[f] + sum x[n, i*s - pt + a*d, ...] * k[a, c, ...]."""
    n, h, w, _ = x.shape
    kh, kw, cg, f = k.shape
    (pt, pb), (pl, pr) = pads
    oh = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    fg = f // groups
    out = np.zeros((n, oh, ow, f), np.float64)
    for b_ in range(n):
        for i in range(oh):
            for j in range(ow):
                for o in range(f):
                    g = o // fg
                    acc = 0.0 if b is None else float(b[o])
                    for a in range(kh):
                        for e in range(kw):
                            ii = i * stride[0] - pt + a * dilation[0]
                            jj = j * stride[1] - pl + e * dilation[1]
                            if 0 <= ii < h and 0 <= jj < w:  # outside: zero padding
                                for cc in range(cg):
                                    acc += x[b_, ii, jj, g * cg + cc] * k[a, e, cc, o]
                    out[b_, i, j, o] = acc
    return out


def naive_pool2d(x, op, size, stride, pads):
    """Max over the real elements of each window; average over their count."""
    n, h, w, c = x.shape
    (pt, pb), (pl, pr) = pads
    oh = (h + pt + pb - size[0]) // stride[0] + 1
    ow = (w + pl + pr - size[1]) // stride[1] + 1
    out = np.zeros((n, oh, ow, c))
    for b_ in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    vals = [
                        x[b_, ii, jj, ch]
                        for ii in range(i * stride[0] - pt, i * stride[0] - pt + size[0])
                        for jj in range(j * stride[1] - pl, j * stride[1] - pl + size[1])
                        if 0 <= ii < h and 0 <= jj < w
                    ]
                    out[b_, i, j, ch] = max(vals) if op == "max" else sum(vals) / len(vals)
    return out


def run(src: str, x: np.ndarray, seed: int = 0):
    m = cnndsl.parse(src)
    w = init_weights(m, seed)
    return m, w, forward(m, w, x)


RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CONV_CASES = [
    "conv 4 3x3",
    "conv 4 3x3 same",
    "conv 4 2x2 same",  # even kernel: the extra pad at the bottom/right
    "conv 4 3x3 same stride=2",
    "conv 4 4x4 same stride=2",
    "conv 4 3x3 full",
    "conv 4 3x2 pad=(2,0,1,3)",
    "conv 4 3x3 dilation=2 same",
    "conv 4 3x3 stride=2x1",
    "conv 6 3x3 groups=3 same",
    "conv 6 1x1 groups=6 bias=false",
]


@pytest.mark.parametrize("layer", CONV_CASES)
def test_conv2d_against_naive_loops(layer: str) -> None:
    x = rand(2, 7, 6, 6)
    m, w, y = run(f"input 7x6x6\n{layer}", x)
    node = m.node("conv_1")
    want = naive_conv2d(
        x,
        w["conv_1"]["kernel"],
        w["conv_1"].get("bias"),
        node.layer.stride,
        node.layer.dilation,
        node.layer.pads(),
        node.layer.groups,
    )
    assert y.shape == want.shape == (2, *node.shape)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


def test_same_padding_splits_like_tensorflow() -> None:
    m = cnndsl.parse("input 6x6x1\nconv 1 2x2 same\nconv 1 3x3 same stride=2\nconv 1 4x4 same")
    # even kernel 2: total 1 -> (0, 1); stride 2 on 6: total (3-1)*2 + 3 - 6 = 1 -> (0, 1);
    # kernel 4 on 3: total 3 -> (1, 2)
    assert m.node("conv_1").layer.pads() == ((0, 1), (0, 1))
    assert m.node("conv_2").layer.pads() == ((0, 1), (0, 1))
    assert m.node("conv_3").layer.pads() == ((1, 2), (1, 2))


def test_conv1d_against_naive_loops() -> None:
    x = rand(3, 11, 4)
    m, w, y = run("input 11x4\nconv 5 3 same stride=2\nconv 5 2 dilation=2 pad=(0,3)", x)
    outs = forward_all(m, w, x)
    a = naive_conv2d(
        x[:, None],
        w["conv_1"]["kernel"][None],
        w["conv_1"]["bias"],
        (1, 2),
        (1, 1),
        ((0, 0), m.node("conv_1").layer.pads()[0]),
        1,
    )[:, 0]
    np.testing.assert_allclose(outs["conv_1"], a, rtol=1e-4, atol=1e-5)
    b = naive_conv2d(
        a[:, None],
        w["conv_2"]["kernel"][None],
        w["conv_2"]["bias"],
        (1, 1),
        (1, 2),
        ((0, 0), (0, 3)),
        1,
    )[:, 0]
    np.testing.assert_allclose(y, b, rtol=1e-4, atol=1e-5)


POOL_CASES = [
    ("max", "2", ""),
    ("avg", "2", ""),
    ("max", "3", "same stride=2"),
    ("avg", "3", "same stride=2"),  # padding excluded from the average
    ("avg", "2x3", "full"),
    ("max", "2x3", "full"),
    ("avg", "3", "pad=(2,0,1,1) stride=1"),
    ("max", "2", "same stride=1"),
]


@pytest.mark.parametrize(("op", "size", "rest"), POOL_CASES)
def test_pool_against_naive_loops(op: str, size: str, rest: str) -> None:
    x = rand(2, 7, 5, 3)
    m, _, y = run(f"input 7x5x3\npool {op} {size} {rest}", x)
    layer = m.node("pool_1").layer
    want = naive_pool2d(x, op, layer.size, layer.stride, layer.pads())
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_edge_detector_by_hand() -> None:
    """A vertical edge (0 | 1) under the 3x3 Laplacian kernel, same padding, then relu."""
    src = "input 5x5x1\nconv 1 3x3 same bias=false weights=[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]\nrelu"
    x = np.zeros((1, 5, 5, 1), np.float32)
    x[0, :, 2:, 0] = 1
    _, _, y = run(src, x)
    # Worked by hand: at column 2 the center (8) minus five 1-neighbours = 3 (5 at the top and
    # bottom rows, where three neighbours are padding); column 4 sees the zero padding beyond.
    want = np.array(
        [
            [0, 0, 5, 3, 5],
            [0, 0, 3, 0, 3],
            [0, 0, 3, 0, 3],
            [0, 0, 3, 0, 3],
            [0, 0, 5, 3, 5],
        ],
        np.float32,
    )
    np.testing.assert_array_equal(y[0, :, :, 0], want)


def test_dense_flatten_batchnorm_dropout_zeropad() -> None:
    x = rand(4, 3, 2, 5)
    m = cnndsl.parse(
        "input 3x2x5\nzeropad (1,0,0,2)\nbatchnorm eps=0.001\ndropout 0.5\nflatten\n"
        "dense 7 bias=true"
    )
    w = init_weights(m, 3)
    bn = w["batchnorm_1"]
    bn["gamma"], bn["beta"] = rand(5), rand(5)
    bn["moving_mean"], bn["moving_variance"] = rand(5), np.abs(rand(5)) + 0.1
    w["dense_1"]["bias"] = rand(7)
    y = forward(m, w, x)
    padded = np.zeros((4, 4, 4, 5), np.float32)
    padded[:, 1:, :2] = x
    normed = (padded - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 0.001)
    normed = normed * bn["gamma"] + bn["beta"]
    flat = normed.reshape(4, -1)  # channels-last (H, W, C) order
    want = flat @ w["dense_1"]["kernel"] + w["dense_1"]["bias"]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


GRID = np.linspace(-6, 6, 241).astype(np.float32)
FORMULAS = {
    "linear": lambda v: v,
    "relu": lambda v: max(v, 0.0),
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "leaky_relu": lambda v: v if v > 0 else 0.01 * v,
    "elu": lambda v: v if v > 0 else math.expm1(v),
    "gelu": lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))),
    "silu": lambda v: v / (1 + math.exp(-v)),
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
    "tanh": math.tanh,
}


@pytest.mark.parametrize("fn", sorted(FORMULAS))
def test_activations_match_their_formulas(fn: str) -> None:
    _, _, y = run(f"input 241\n{fn}", GRID[None])
    want = np.array([FORMULAS[fn](float(v)) for v in GRID])
    np.testing.assert_allclose(y[0], want, rtol=1e-5, atol=1e-6)


def test_parametrised_activations() -> None:
    v = GRID[None]
    _, _, y = run("input 241\nleaky_relu alpha=0.2", v)
    np.testing.assert_allclose(y[0], np.where(GRID > 0, GRID, 0.2 * GRID), rtol=1e-6)
    _, _, y = run("input 241\nelu 0.5", v)
    np.testing.assert_allclose(
        y[0], [x if x > 0 else 0.5 * math.expm1(x) for x in GRID], rtol=1e-5, atol=1e-7
    )
    _, _, y = run("input 241\ngelu approximate=true", v)
    tanh_form = [
        0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        for x in map(float, GRID)
    ]
    np.testing.assert_allclose(y[0], tanh_form, rtol=1e-5, atol=1e-6)
    _, _, y = run("input 3x4\nsoftmax", rand(2, 3, 4))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)


def test_extreme_inputs_stay_finite() -> None:
    v = np.array([[-1e4, -100, 0, 100, 1e4]], np.float32)
    for fn in ("sigmoid", "silu", "elu", "gelu", "softmax", "tanh"):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            _, _, y = run(f"input 5\n{fn}", v)
        assert np.isfinite(y).all(), fn


@st.composite
def conv_layer(draw):
    rank = draw(st.sampled_from([1, 2]))
    size = [draw(st.integers(1, 7)) for _ in range(rank)]
    groups = draw(st.sampled_from([1, 2]))
    cin, f = 2 * draw(st.integers(1, 2)), 2 * draw(st.integers(1, 2))
    k = [draw(st.integers(1, 3)) for _ in range(rank)]
    strided = draw(st.booleans())
    s = [draw(st.integers(1, 3)) if strided else 1 for _ in range(rank)]
    d = [1 if strided else draw(st.integers(1, 2)) for _ in range(rank)]
    mode = draw(st.sampled_from(["valid", "same", "full", "pad"]))
    pads = [draw(st.integers(0, 2)) for _ in range(2 * rank)]
    return rank, size, cin, f, k, s, d, groups, mode, pads, draw(st.booleans())


@settings(max_examples=60)
@given(conv_layer())
def test_vectorised_conv_equals_naive_on_random_options(case) -> None:
    rank, size, cin, f, k, s, d, groups, mode, pads, bias = case
    x = "x".join
    padding = f"pad=({','.join(map(str, pads))})" if mode == "pad" else mode
    src = (
        f"input {x(map(str, size))}x{cin}\nconv {f} {x(map(str, k))} {padding} "
        f"stride={x(map(str, s))} dilation={x(map(str, d))} groups={groups} "
        f"bias={str(bias).lower()}"
    )
    try:
        m = cnndsl.parse(src)
    except cnndsl.CnnDslError:
        return  # the window does not fit: the checker's business, tested elsewhere
    w = init_weights(m, 1)
    xin = np.random.default_rng(2).standard_normal((2, *m.input_shape)).astype(np.float32)
    y = forward(m, w, xin)
    layer = m.node("conv_1").layer
    kern = w["conv_1"]["kernel"]
    if rank == 1:
        want = naive_conv2d(
            xin[:, None],
            kern[None],
            w["conv_1"].get("bias"),
            (1, *layer.stride),
            (1, *layer.dilation),
            ((0, 0), *layer.pads()),
            groups,
        )[:, 0]
    else:
        want = naive_conv2d(
            xin, kern, w["conv_1"].get("bias"), layer.stride, layer.dilation, layer.pads(), groups
        )
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


def test_erf_accuracy() -> None:
    v = np.linspace(-5, 5, 2001)
    got = ops.erf(v)
    want = np.array([math.erf(t) for t in v])
    assert np.max(np.abs(got - want)) < 1.5e-7


def test_prelu_by_hand() -> None:
    """x where x >= 0, alpha[c] * x elsewhere: alpha indexed by the last axis."""
    m = cnndsl.parse("input 2x3x2\nprelu")
    assert m.total_params == 2
    w = {"prelu_1": {"alpha": np.array([0.5, -2.0], np.float32)}}
    x = np.array(
        [[[[1, -1], [-4, 2], [0, -3]], [[-2, -2], [3, 0], [-1, 1]]]], np.float32
    )  # (1, 2, 3, 2)
    want = np.array(
        [[[[1, 2], [-2, 2], [0, 6]], [[-1, 4], [3, 0], [-0.5, 1]]]], np.float32
    )  # channel 0 negatives halved, channel 1 negatives times -2
    np.testing.assert_array_equal(forward(m, w, x), want)


def test_prelu_on_vectors_and_sequences_and_its_initial_slope() -> None:
    _, w, y = run("input 241\nprelu", GRID[None])
    assert np.all(w["prelu_1"]["alpha"] == 0.25)  # PyTorch's default, the language's
    np.testing.assert_array_equal(y[0], [v if v >= 0 else 0.25 * v for v in GRID])
    m = cnndsl.parse("input 3x2\nprelu")
    x = np.array([[[-1, -1], [2, -4], [-8, 8]]], np.float32)
    alpha = np.array([0.1, 0.5], np.float32)
    y = forward(m, {"prelu_1": {"alpha": alpha}}, x)
    want = [[[-0.1, -0.5], [2, -2], [-0.8, 8]]]
    np.testing.assert_allclose(y, np.array(want, np.float32), rtol=1e-6)


@pytest.mark.parametrize(
    ("src", "shape", "keep"),
    [
        # (input, crop) -> output shape and the slice kept, per spatial axis, as hand-written
        ("input 6x5x2\ncrop 1", (4, 3, 2), (slice(1, 5), slice(1, 4))),
        ("input 6x5x2\ncrop 1x2", (4, 1, 2), (slice(1, 5), slice(2, 3))),
        ("input 6x5x2\ncrop (2, 0, 0, 1)", (4, 4, 2), (slice(2, 6), slice(0, 4))),
        ("input 6x5x2\ncrop (0, 3, 4, 0)", (3, 1, 2), (slice(0, 3), slice(4, 5))),
        ("input 7x3\ncrop (2, 1)", (4, 3), (slice(2, 6),)),
        ("input 7x3\ncrop 3", (1, 3), (slice(3, 4),)),
        ("input 7x3\ncrop (0, 0)", (7, 3), (slice(0, 7),)),
    ],
)
def test_crop_by_hand(src: str, shape: tuple[int, ...], keep: tuple[slice, ...]) -> None:
    m = cnndsl.parse(src)
    assert m.output_shape == shape and m.total_params == 0
    x = np.arange(2 * np.prod(m.input_shape), dtype=np.float32).reshape(2, *m.input_shape)
    want = x[(slice(None), *keep)]
    np.testing.assert_array_equal(forward(m, {}, x), want)


def test_crop_of_a_sequence_by_value() -> None:
    x = np.array([[[0], [1], [2], [3], [4]]], np.float32)  # length 5, one channel
    _, _, y = run("input 5x1\ncrop (2, 1)", x)
    assert y.tolist() == [[[2.0], [3.0]]]


def test_softmax_of_extreme_inputs_is_exact_and_quiet() -> None:
    """±3e38 are float32 values whose difference is not: no overflow, no warning, and every
    probability the float32 rounding of the exact one."""
    v = np.array([[3e38, -3e38, 0, 1], [-3e38, -3e38, -3e38, -3e38], [1, 2, 3, 4]], np.float32)
    with np.errstate(all="raise"):
        _, _, y = run("input 4\nsoftmax", v)
    np.testing.assert_array_equal(y[:2], [[1, 0, 0, 0], [0.25] * 4])
    exact = np.exp(v[2].astype(np.float64) - 4)
    np.testing.assert_array_equal(y[2], (exact / exact.sum()).astype(np.float32))
