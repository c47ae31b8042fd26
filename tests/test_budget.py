"""The memory estimate against what a forward pass really allocates (tracemalloc sees
NumPy's allocations): never below it, and within a small factor of it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import cnndsl
from cnndsl import budget
from cnndsl.backends.numpy import fast, forward, forward_all
from cnndsl.errors import CnnDslError
from cnndsl.layers import kinds
from cnndsl.weights import init_weights
from conftest import EXAMPLES

#: a model per family of buffers the estimate knows, and two whole networks
MODELS = {
    "conv": "input 32x32x3\nconv 16 3x3 relu same",
    "conv_one_channel": "input 64x64x1\nconv 16 5x5 same",
    "conv_grouped": "input 32x32x8\nconv 16 3x3 same groups=4",
    "depthwise": "input 32x32x16\ndepthwise 3x3 same multiplier=2",
    "separable": "input 32x32x16\nseparable 32 3x3 same",
    "deconv": "input 16x16x8\ndeconv 8 3x3 same stride=2",
    "pool_max": "input 64x64x8\npool max 3 same stride=1",
    "pool_avg": "input 64x64x8\npool avg 3 same stride=1",
    "dense": "input 1024\ndense 512 relu",
    "batchnorm": "input 32x32x16\nbatchnorm",
    "layernorm": "input 32x32x16\nlayernorm",
    "gelu": "input 32x32x16\ngelu",
    "gelu_tanh": "input 32x32x16\ngelu approximate=true",
    "silu": "input 32x32x16\nsilu",
    "upsample_nearest": "input 16x16x8\nupsample 4",
    "upsample_bilinear": "input 16x16x8\nupsample 4 bilinear",
    "zeropad": "input 32x32x8\nzeropad 8",
    "graph": "input 32x32x8\nresidual { conv 8 3 same; relu }\n"
    "concat { branch { conv 4 1 } branch { pool max 3 same stride=1 } }",
    "lenet5": (EXAMPLES / "lenet5.cnn").read_text(),
    "text_cnn": (EXAMPLES / "text_cnn.cnn").read_text(),
}
BATCH = 32
#: how far above the measured peak the estimate may be
FACTOR = 3.5


def measured_peak(model: cnndsl.Model, keep_all: bool) -> int:
    """Peak bytes of a run as the CLI makes it: weights made, input made, forward pass.
    Cold, as in a fresh process: the im2col buffer that an earlier test's forward pass
    left to this thread is dropped first, so the run makes (and traces) its own."""
    fast.release()
    tracemalloc.start()
    try:
        weights = init_weights(model, 0)
        x = np.random.default_rng(0).random((BATCH, *model.input_shape), dtype=np.float32)
        with np.errstate(all="ignore"):
            (forward_all if keep_all else forward)(model, weights, x)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("keep_all", [False, True], ids=["forward", "forward_all"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_estimate_bounds_the_measured_peak(name: str, keep_all: bool) -> None:
    model = cnndsl.parse(MODELS[name])
    # with keep_all the estimate counts the feature-map pictures, not drawn here
    est = budget.estimate(model, BATCH, keep_all=keep_all)
    peak = measured_peak(model, keep_all)
    assert est.total >= peak, f"{name}: estimate {est.total:,} < measured {peak:,}"
    assert est.total <= FACTOR * peak, f"{name}: estimate {est.total:,} >> measured {peak:,}"


def test_every_kind_is_estimated_or_knowingly_generic() -> None:
    """A kind the estimate has no entry for gets the generic one; say which ones do."""
    known = set(budget.kinds.EXTRA) | set(budget.kinds.VIEWS)
    assert {cls for cls in kinds()} <= known


def test_estimate_scales_with_the_batch() -> None:
    model = cnndsl.parse("input 32x32x3\nconv 16 3 same\npool max 2")
    one, many = budget.forward_peak(model, 1), budget.forward_peak(model, 100)
    assert many.total == 100 * one.total


@pytest.mark.parametrize(
    "text, size",
    [("500M", 500 << 20), ("4G", 4 << 30), ("1.5GiB", 3 << 29), ("2048", 2048), ("1k", 1024)],
)
def test_parse_size(text: str, size: int) -> None:
    assert budget.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "4X", "1e9"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        budget.parse_size(text)


def test_default_limit_is_at_most_2_gib() -> None:
    assert 0 < budget.default_limit() <= 2 << 30


def test_weights_are_blamed_when_they_dominate() -> None:
    src = "input 8x8x1\nflatten\ndense 100000000000"
    model = cnndsl.parse(src)
    with pytest.raises(CnnDslError) as info:
        budget.check_run(model, 1, 2 << 30, source=src)
    text = info.value.render()
    assert "the dense layer 'dense_1' has 6,500,000,000,000 weights (23.65 TiB as float32)" in text
    assert " 3 | dense 100000000000" in text


def test_the_tap_loop_is_bounded() -> None:
    model = cnndsl.parse("input 8x8x1\npool max 20000 same")
    taps, work = budget.loop_work(model.nodes[1], 1)
    assert taps == 400_000_000 and work > budget.MAX_LOOP_WORK
    with pytest.raises(CnnDslError, match="over the work limit"):
        budget.check_run(model, 1, 1 << 40)
    ok = cnndsl.parse("input 224x224x64\npool max 3 same stride=1\npool max 7 stride=1")
    budget.check_loops(ok, 64)  # real windows pass


#: add_1 reads c twice (c + c); add_2 reads c once more
TWICE = "input 4x4x1\nrelu name=c\nadd c\nadd c\n"


def test_a_tensor_read_twice_by_one_layer_lives_until_its_last_reader() -> None:
    """By hand, at batch 1 (16 floats = 64 B a tensor): add_2 runs with c and add_1 held
    and makes its own output: 192 B. Counting each read as a reader freed c after add_1
    (128 B), and the interpreter then failed at add_2 (KeyError)."""
    model = cnndsl.parse(TWICE)
    peak = budget.forward_peak(model, 1)
    assert (peak.total, peak.node.name if peak.node else None) == (192, "add_2")
    x = np.random.default_rng(0).standard_normal((3, 4, 4, 1)).astype(np.float32)
    for threads in (None, 1, 2):
        np.testing.assert_array_equal(forward(model, {}, x, threads), 3 * np.maximum(x, 0))
