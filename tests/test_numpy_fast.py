"""The interpreter's fast paths (cnndsl.backends.numpy.fast) against its plain reference
(cnndsl.backends.numpy.ops, itself checked against naive loops in test_numpy_backend.py).

Random values in every array (inputs, kernels, biases), odd sizes, strides, dilations,
asymmetric padding, one channel and several, 1-D and 2-D, every activation, blocks
made tiny so that a batch spans many blocks of images and an image many blocks of rows,
tiles of output columns off, narrow and wide, pooling windows that tile the input and
windows that do not, and each thread policy of forward.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnndsl
import cnndsl.backends.numpy as numpy_backend
from cnndsl.backends.numpy import fast, forward, ops
from cnndsl.layers import ACTIVATIONS
from cnndsl.weights import probe_weights
from conftest import EXAMPLES

FAST = settings(max_examples=250, deadline=None, derandomize=True)


@st.composite
def conv_case(draw: st.DrawFn) -> dict:
    rank = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(rank))
    spatial = tuple(
        draw(st.integers(d * (k - 1) + 1 - a - b if d * (k - 1) + 1 > a + b else 1, 9))
        for k, d, (a, b) in zip(kernel, dilation, pads)
    )
    return {
        "n": draw(st.integers(1, 5)),
        "spatial": spatial,
        "c": draw(st.sampled_from([1, 2, 3, 5, 9])),
        "f": draw(st.sampled_from([1, 4, 6, 16])),
        "kernel": kernel,
        "stride": stride,
        "dilation": dilation,
        "pads": pads,
        "bias": draw(st.booleans()),
        "act": draw(st.sampled_from(sorted(ACTIVATIONS))),
        "block": draw(st.sampled_from([16, 200, 4096, fast.BLOCK_BYTES])),
        "tile_width": draw(st.sampled_from([1, 12, fast.TILE_WIDTH])),
        "seed": draw(st.integers(0, 2**16)),
    }


@FAST
@given(conv_case())
def test_conv_matches_the_plain_path(case: dict) -> None:
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], *case["spatial"], case["c"])).astype(np.float32)
    k = rng.standard_normal((*case["kernel"], case["c"], case["f"])).astype(np.float32)
    b = rng.standard_normal(case["f"]).astype(np.float32) if case["bias"] else None
    args = (case["stride"], case["dilation"], case["pads"])
    want = ops.activation(ops.conv(x, k, b, *args), case["act"], 0.2, False)
    old = fast.BLOCK_BYTES, fast.TILE_WIDTH
    fast.BLOCK_BYTES, fast.TILE_WIDTH = case["block"], case["tile_width"]
    try:
        got = fast.conv(x, k, b, *args, (case["act"], 0.2, False))
    finally:
        fast.BLOCK_BYTES, fast.TILE_WIDTH = old
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_tiles_are_output_columns_that_divide_the_row() -> None:
    x = np.ones((1, 4, 4, 1), np.float32)
    assert fast.tile(28, 6, x) == 7  # LeNet's first conv: 7 columns of 6 filters, 42 wide
    assert fast.tile(10, 16, x) == 2  # its second: 2 of 16
    assert fast.tile(13, 6, x) == 1  # a prime width: no divisor fits
    assert fast.tile(32, 64, x) == 1  # many filters: the matmul is wide already
    x[0, 1, 2, 0] = np.inf
    assert fast.tile(28, 6, x) == 1  # 0 * inf would spread a nan to the neighbours
    x[0, 1, 2, 0] = np.nan
    assert fast.tile(28, 6, x) == 1
    x[0, 1, 2, 0], x[0, 1, 3, 0] = np.inf, -np.inf
    assert fast.tile(28, 6, x) == 1


def test_a_non_finite_input_gives_what_the_plain_path_gives() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 12, 1)).astype(np.float32)
    x[0, 4, 5, 0], x[1, 2, 2, 0] = np.inf, np.nan
    k = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    args = ((1, 1), (1, 1), ((1, 1), (1, 1)))
    want = ops.conv(x, k, b, *args)
    np.testing.assert_array_equal(np.isnan(fast.conv(x, k, b, *args)), np.isnan(want))


@st.composite
def pool_case(draw: st.DrawFn) -> dict:
    rank = draw(st.sampled_from([1, 2]))
    size = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    tiles = draw(st.booleans())  # a window that tiles the input, or any window
    stride = size if tiles else tuple(draw(st.integers(1, 3)) for _ in range(rank))
    pads = tuple((0, 0) if tiles else (draw(st.integers(0, s - 1)), 0) for s in size)
    spatial = tuple(s * draw(st.integers(1, 4)) if tiles else draw(st.integers(s, 9)) for s in size)
    return {
        "x": (draw(st.integers(1, 4)), *spatial, draw(st.sampled_from([1, 3, 6]))),
        "op": draw(st.sampled_from(["avg", "max"])),
        "size": size,
        "stride": stride,
        "pads": pads,
        "few_channels_rows": draw(st.sampled_from([0, fast.FEW_CHANNELS_ROWS])),
        "seed": draw(st.integers(0, 2**16)),
    }


@FAST
@given(pool_case())
def test_pool_matches_the_plain_path(case: dict) -> None:
    x = np.random.default_rng(case["seed"]).standard_normal(case["x"]).astype(np.float32)
    args = (case["op"], case["size"], case["stride"], case["pads"])
    want = ops.pool(x, *args)
    old = fast.FEW_CHANNELS_ROWS
    fast.FEW_CHANNELS_ROWS = case["few_channels_rows"]  # 0: sums by channel whenever few
    try:
        got = fast.pool(x, *args)
    finally:
        fast.FEW_CHANNELS_ROWS = old
    assert got.shape == want.shape and got.dtype == np.float32
    assert not np.shares_memory(got, x)  # a layer may change its output in place
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2, None])
def test_each_thread_policy_gives_the_same_output(threads: int | None, monkeypatch) -> None:
    model = cnndsl.load(EXAMPLES / "lenet5.cnn")
    weights = probe_weights(model, 4)
    x = np.random.default_rng(6).standard_normal((5, *model.input_shape), np.float32)
    monkeypatch.setattr(fast, "ONE_THREAD_MNK", 1000)  # many chunks in one_thread(chunk)
    got = forward(model, weights, x, threads=threads)
    monkeypatch.setattr(fast, "ENABLED", False)
    want = forward(model, weights, x)
    assert got.shape == want.shape == (5, 10)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_the_blocks_cover_the_batch_once() -> None:
    """Whole images while they fit, else rows of one image: each output row once."""
    for n, oh, row_bytes, budget in [(7, 5, 10, 120), (3, 9, 100, 250), (4, 4, 1, 10**6)]:
        seen = [
            (i, r)
            for imgs, rows in fast._blocks(n, oh, row_bytes, budget)
            for i in range(n)[imgs]
            for r in range(oh)[rows]
        ]
        assert sorted(seen) == [(i, r) for i in range(n) for r in range(oh)]
        for imgs, rows in fast._blocks(n, oh, row_bytes, budget):  # within the budget
            size = (imgs.stop - imgs.start) * (rows.stop - rows.start) * row_bytes
            assert size <= budget or (imgs.stop - imgs.start, rows.stop - rows.start) == (1, 1)
    # as few blocks as the budget allows, evened out: 64 images, 57 a block -> 32 + 32
    sizes = [imgs.stop - imgs.start for imgs, _ in fast._blocks(64, 10, 10, 5700)]
    assert sizes == [32, 32]


@pytest.mark.parametrize(
    "name", ["lenet5", "cifar_vgg", "text_cnn", "kim_cnn", "padding", "unet_small"]
)
def test_whole_models_agree_with_the_plain_path(name: str, monkeypatch) -> None:
    path = EXAMPLES / f"{name}.cnn"
    model = cnndsl.load(path)
    weights = probe_weights(model, 3)
    batch = 3
    x = np.random.default_rng(5).standard_normal((batch, *model.input_shape), np.float32)
    got = forward(model, weights, x)
    monkeypatch.setattr(fast, "ENABLED", False)
    want = forward(model, weights, x)
    scale = float(np.abs(want).max()) or 1.0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * scale)


def test_matmuls_kept_on_one_thread_run_in_row_chunks_with_the_same_result(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    a = rng.standard_normal((37, 11)).astype(np.float32)
    b = rng.standard_normal((11, 5)).astype(np.float32)
    want = a @ b
    monkeypatch.setattr(fast, "ONE_THREAD_MNK", 3 * 11 * 5)  # two rows a chunk
    calls: list[int] = []
    real = np.matmul

    def spy(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return real(x, y, out=out)

    with fast.one_thread(chunk=True):
        monkeypatch.setattr(np, "matmul", spy)
        got = fast.matmul(a, b, np.empty((37, 5), np.float32))
        monkeypatch.setattr(np, "matmul", real)
    assert calls == [2] * 18 + [1]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_only_a_small_problem_is_kept_on_one_thread(monkeypatch) -> None:
    model = cnndsl.load(EXAMPLES / "lenet5.cnn")
    weights = probe_weights(model, 4)
    x = np.zeros((2, *model.input_shape), np.float32)
    modes: list[object] = []
    real = fast.matmul

    def spy(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        modes.append(getattr(fast._LOCAL, "mode", None))
        return real(a, b, out)

    monkeypatch.setattr(fast, "matmul", spy)
    forward(model, weights, x, threads=2)
    assert modes and set(modes) == {"chunk"}
    modes.clear()
    monkeypatch.setattr(numpy_backend, "ONE_THREAD_MACS", model.total_macs * 2)  # not below
    forward(model, weights, x, threads=2)
    assert modes and set(modes) == {None}  # BLAS's threads, 16 MiB blocks
    assert getattr(fast._LOCAL, "mode", None) is None  # restored after the call


def test_windows_of_a_strided_input_equal_those_of_its_copy() -> None:
    """ops.windows views a contiguous input's buffer directly and any other through
    as_strided: both give the same windows, and neither can be written through."""
    x = np.random.default_rng(8).standard_normal((3, 9, 16, 4)).astype(np.float32)
    strided = x[:, ::2, 1::3, 1:]  # no pads: a layer's input may be any view
    copy = np.ascontiguousarray(strided)
    for args in [((2, 3), (1, 2), (1, 1)), ((3, 2), (2, 1), (1, 2))]:
        got, want = ops.windows(strided, *args), ops.windows(copy, *args)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert not got.flags.writeable and not want.flags.writeable
    assert np.shares_memory(ops.windows(copy, (2, 2), (1, 1), (1, 1)), copy)
