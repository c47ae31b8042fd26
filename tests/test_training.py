"""Training means one thing (docs/language.md, *Training mode*): one SGD step of the
generated PyTorch and Keras code, from the same probe weights on the same batch, gives the
same outputs and the same weights — kernels, biases, batchnorm gamma and beta, and both
moving statistics, read back to the canonical layout.

The step: a batch of 4, loss = the mean of the outputs squared (the same number in any
layout), plain SGD at learning rate 0.1, dropout switched off (it is random). Tolerance:
verify's, float32's — rtol 1e-4, atol 1e-5 scaled by the array's magnitude — because each
framework sums the gradients in its own order.

Also here: the Keras helper layers reload from ``.keras`` without ``custom_objects``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, note, settings

import cnndsl
from cnndsl.backends import emit
from cnndsl.backends.codegen import Call
from cnndsl.backends.keras import KERAS
from cnndsl.backends.keras import lower as keras_lower
from cnndsl.convert import to_keras
from cnndsl.frameworks import (
    keras_model,
    keras_weights,
    load_generated,
    torch_module,
    torch_weights,
)
from cnndsl.layers import BatchNorm
from cnndsl.verify import ATOL, RTOL
from cnndsl.weights import Weights, probe_weights
from conftest import EXAMPLES
from strategies import models

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

LR = 0.1
BATCH = 4


def batch(model: cnndsl.Model, n: int = BATCH, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *model.input_shape)).astype(np.float32)


def torch_step(model: cnndsl.Model, weights: Weights, x: np.ndarray):
    """(training-mode output, channels last; the weights after one step)."""
    net = torch_module(model, weights).train()
    for module in net.modules():
        if isinstance(module, torch.nn.Dropout):
            module.eval()  # dropout is random: off in both frameworks
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1) if x.ndim > 2 else x))
    y = net(xt)
    params = list(net.parameters())
    if params:  # a model may have nothing to train
        (y**2).mean().backward()
        torch.optim.SGD(params, lr=LR).step()
    out = y.detach().numpy()
    return (np.moveaxis(out, 1, -1) if out.ndim > 2 else out), torch_weights(model, net)


def keras_step(model: cnndsl.Model, weights: Weights, x: np.ndarray):
    """(training-mode output; the weights after one step)."""
    built = keras_model(model, weights)
    for layer in built.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    with tf.GradientTape() as tape:
        y = built(x, training=True)
        loss = keras.ops.mean(y**2)
    variables = built.trainable_variables
    if variables:
        grads = tape.gradient(loss, variables)
        keras.optimizers.SGD(LR).apply_gradients(zip(grads, variables))
    return np.asarray(y), keras_weights(model, built)


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    atol = ATOL * max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=atol, err_msg=what)


def one_step_agrees(model: cnndsl.Model, n: int = BATCH) -> Weights:
    """Both frameworks take one step; every output and array agrees. Returns the weights."""
    weights, x = probe_weights(model, 0), batch(model, n)
    y_torch, w_torch = torch_step(model, weights, x)
    y_keras, w_keras = keras_step(model, weights, x)
    assert_close(y_keras, y_torch, "training-mode output")
    assert w_torch.keys() == w_keras.keys() == weights.keys()
    for node, arrays in w_torch.items():
        for name, arr in arrays.items():
            assert_close(w_keras[node][name], arr, f"{node}/{name}: keras vs pytorch")
    return w_torch


def unchanged(before: Weights, after: Weights) -> list[str]:
    return [
        f"{node}/{name}"
        for node, arrays in after.items()
        for name, arr in arrays.items()
        if np.array_equal(arr, before[node][name])
    ]


@pytest.mark.parametrize(("example", "n"), [("lenet5", 4), ("cifar_vgg", 2), ("text_cnn", 4)])
def test_one_step_of_the_zoo_agrees(example: str, n: int) -> None:
    model = cnndsl.load(EXAMPLES / f"{example}.cnn")
    after = one_step_agrees(model, n)
    assert not unchanged(probe_weights(model, 0), after), "a step that moves every array"


BATCHNORMS = {
    "2d": "input 6x6x3; conv 4 3x3 relu; batchnorm; flatten; dense 3",
    "1d": "input 6x6x3; conv 4 3x3 relu; flatten; batchnorm momentum=0.3; dense 3",
    "sequence": "input 10x3; conv 4 3 same; batchnorm eps=0.001; globalpool avg; dense 2",
}


@pytest.mark.parametrize("kind", BATCHNORMS)
def test_one_step_with_batchnorm_agrees(kind: str) -> None:
    model = cnndsl.parse(BATCHNORMS[kind])
    after = one_step_agrees(model)
    assert not unchanged(probe_weights(model, 0), after), "a step that moves every array"


@pytest.mark.parametrize("src", ["input 3x3x2; batchnorm momentum=0.25", "input 6; batchnorm"])
def test_batchnorm_training_is_the_languages(src: str) -> None:
    """The rule written out in NumPy, for a batchnorm on the input itself: normalise with
    the biased batch variance, move the moving variance toward the unbiased one."""
    model = cnndsl.parse(src)
    weights, x = probe_weights(model, 0), batch(model)
    layer, w = model.nodes[1].layer, weights["batchnorm_1"]
    values = x.reshape(-1, x.shape[-1]).astype(np.float64)  # n values per channel
    mean, var = values.mean(axis=0), values.var(axis=0)
    unbiased = values.var(axis=0, ddof=1)
    m = layer.momentum
    want_y = w["gamma"] * (x - mean) / np.sqrt(var + layer.eps) + w["beta"]
    want_mean = (1 - m) * w["moving_mean"] + m * mean
    want_var = (1 - m) * w["moving_variance"] + m * unbiased
    for step in (torch_step, keras_step):
        y, after = step(model, weights, x)
        np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-5, err_msg=step.__name__)
        got = after["batchnorm_1"]
        np.testing.assert_allclose(got["moving_mean"], want_mean, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got["moving_variance"], want_var, rtol=1e-6, atol=1e-7)


def test_compiled_keras_training_follows_the_rule_too() -> None:
    """``fit`` runs the step as a graph, the batch size unknown: the helper's n is dynamic."""
    model = cnndsl.parse(BATCHNORMS["1d"])
    weights, x = probe_weights(model, 0), batch(model)
    _, want = torch_step(model, weights, x)
    built = keras_model(model, weights)
    built.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")  # vs zeros: mean of y**2
    built.fit(x, np.zeros((BATCH, *model.output_shape), np.float32), batch_size=BATCH, verbose=0)
    got = keras_weights(model, built)
    for node, arrays in want.items():
        for name, arr in arrays.items():
            assert_close(got[node][name], arr, f"{node}/{name}: keras fit vs pytorch")


@settings(max_examples=25)
@given(src=models())
def test_random_models_one_step_agrees(src: str) -> None:
    """25 random models per run (derandomised in CI), graphs and every kind included."""
    note(f"the model, as .cnn source:\n{src}")
    one_step_agrees(cnndsl.parse(src))


def _plain_batchnorm(layer: BatchNorm, node, ctx) -> keras_lower.Lowered:
    """The lowering before this test existed: Keras' own layer, biased moving variance."""
    call = Call.of(
        "layers.BatchNormalization",
        epsilon=layer.eps,
        momentum=round(1.0 - layer.momentum, 12),
        name=node.name,
    )
    return keras_lower.Lowered([call], keras_lower.in_order(node, node.name))


def test_plain_keras_batchnorm_is_caught(monkeypatch) -> None:
    """A planted bug: the generated Keras code uses layers.BatchNormalization as it is. The
    one-step comparison must fail, on the moving variance."""
    monkeypatch.setitem(KERAS._entries, BatchNorm, _plain_batchnorm)
    model = cnndsl.parse(BATCHNORMS["1d"])
    code = emit(model, "keras")
    assert "layers.BatchNormalization(" in code and "class BatchNorm" not in code
    with pytest.raises(AssertionError, match="batchnorm_1/moving_variance"):
        one_step_agrees(model)


HELPERS = {
    "PaddedPooling": "input 8x8x2; conv 3 3x3 same; pool max 2 pad=(1,0,1,0); "
    "pool avg 3 stride=1 pad=(1,1,0,1)",
    "gelu_tanh": "input 6x2; conv 3 3; gelu approximate=true; flatten; dense 2",
    "BatchNorm": "input 6x6x2; conv 3 3x3; batchnorm; flatten; batchnorm; dense 2",
}


@pytest.mark.parametrize("helper", HELPERS)
def test_helpers_reload_from_keras_files(helper: str, tmp_path, monkeypatch) -> None:
    """``keras.saving.load_model`` with no custom_objects, and the generated module unknown
    by name (removed from sys.modules): only the registration can find the helper."""
    model = cnndsl.parse(HELPERS[helper])
    assert f" {helper}(" in emit(model, "keras")
    module = load_generated(model, "keras")
    built = module.build_model()
    for name, arrays in to_keras(model, probe_weights(model, 0)).items():
        built.get_layer(name).set_weights(arrays)
    path = tmp_path / "model.keras"
    built.save(path)
    monkeypatch.delitem(sys.modules, module.__name__)
    loaded = keras.saving.load_model(path)
    x = batch(model)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(built(x)))
    if helper == "BatchNorm":  # and it still trains by the language's rule
        assert type(loaded.get_layer("batchnorm_1")).__name__ == "BatchNorm"
        built(x, training=True), loaded(x, training=True)
        for name in ("batchnorm_1", "batchnorm_2"):
            a, b = built.get_layer(name).get_weights(), loaded.get_layer(name).get_weights()
            np.testing.assert_array_equal(a[3], b[3])
