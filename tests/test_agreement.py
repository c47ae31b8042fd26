"""The three backends compute one function: NumPy, generated Keras and generated PyTorch
agree on the same weights, for the examples and for Hypothesis-generated models.

Weights travel through cnndsl.convert (the one place that knows the layouts and
the flatten order); tolerances are float32's: rtol 1e-4, atol 1e-5 scaled by the
output's magnitude.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, note

import cnndsl
from cnndsl.backends.numpy import forward
from cnndsl.frameworks import keras_model, keras_weights, run, torch_module, torch_weights
from cnndsl.weights import init_weights, probe_weights
from conftest import EXAMPLES
from strategies import models

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")


def check_literals(model, weights, generated) -> None:
    """Kernels the source fixes (``weights=``) as the generated code itself sets them:
    running a model loads converted weights over them, so only this looks at them."""
    for node in model.nodes:
        for w in node.weights:
            if w.literal is not None:
                np.testing.assert_array_equal(
                    generated[node.name][w.name], weights[node.name][w.name], err_msg=node.name
                )


def has_literals(model) -> bool:
    return any(w.literal is not None for n in model.nodes for w in n.weights)


def run_torch(model, weights, x):
    if has_literals(model):
        check_literals(model, weights, torch_weights(model, torch_module(model)))
    net = torch_module(model, weights)
    # PyTorch's own counts: parameters are trainable, running statistics are buffers
    assert sum(p.numel() for p in net.parameters()) == model.trainable_params
    stats = sum(b.numel() for n, b in net.named_buffers() if "running" in n)
    assert stats == model.non_trainable_params
    back = torch_weights(model, net)
    for node, ws in weights.items():  # the conversion round-trips exactly
        for name, arr in ws.items():
            np.testing.assert_array_equal(back[node][name], arr)
    return run("pytorch", model, weights, x)


def run_keras(model, weights, x):
    if has_literals(model):
        check_literals(model, weights, keras_weights(model, keras_model(model)))
    built = keras_model(model, weights)
    assert built.count_params() == model.total_params  # Keras' own count
    assert tuple(built.output_shape[1:]) == model.output_shape
    back = keras_weights(model, built)
    for node, ws in weights.items():
        for name, arr in ws.items():
            np.testing.assert_array_equal(back[node][name], arr)
    return np.asarray(built(x, training=False))


def close(actual, ref, what: str) -> None:
    """Float32 tolerances, scaled per sample: the large sample must not loosen the bound
    on the unit one (a tanh-form gelu differs from erf's by 5e-4 at most)."""
    assert actual.shape == ref.shape, (what, actual.shape, ref.shape)
    for a, r in zip(actual, ref):
        atol = 1e-5 * max(1.0, float(np.abs(r).max()))
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=atol, err_msg=what)


def agree(model, seed, frameworks=("torch", "keras")) -> None:
    weights = probe_weights(model, seed)  # every array non-trivial, from its declaration
    x = np.random.default_rng(seed).standard_normal((2, *model.input_shape)).astype(np.float32)
    x[1] *= 8  # one sample at unit scale, one large enough to reach relu6's clamp
    ref = forward(model, weights, x)
    if "torch" in frameworks:
        close(run_torch(model, weights, x), ref, "numpy vs pytorch")
    if "keras" in frameworks:
        close(run_keras(model, weights, x), ref, "numpy vs keras")


SMALL_EXAMPLES = ["lenet5", "text_cnn", "padding", "edge_detect", "oneliner"]


@pytest.mark.parametrize("example", SMALL_EXAMPLES)
def test_examples_agree(example: str) -> None:
    agree(cnndsl.load(EXAMPLES / f"{example}.cnn"), 0)


def test_edge_detector_fixed_weights_in_generated_code() -> None:
    """The generated modules carry the literal kernels themselves: no weight file needed."""
    m = cnndsl.load(EXAMPLES / "edge_detect.cnn")
    x = np.random.default_rng(0).random((1, 64, 64, 1), dtype=np.float32)
    ref = forward(m, init_weights(m), x)
    np.testing.assert_allclose(np.asarray(keras_model(m)(x)), ref, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        y = torch_module(m)(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    np.testing.assert_allclose(np.moveaxis(y, 1, -1), ref, rtol=1e-5, atol=1e-5)


@given(src=models())
def test_random_models_agree(src: str) -> None:
    """The profile's example count (ci: 200, thorough: 2,000) of random models, each run
    on NumPy, Keras and PyTorch: outputs agree, and the frameworks' own parameter counts
    and output shapes equal the IR's."""
    note(f"the model, as .cnn source:\n{src}")
    agree(cnndsl.parse(src), 0)
