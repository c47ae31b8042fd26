"""Outside oracle for the generated Keras code's weight order: keras.applications.

``generated.set_weights(keras.applications.NAME(weights=None).get_weights())`` must work —
the same arrays in the same order with the same shapes — and, for VGG-16 and
DenseNet-121, give Keras' own outputs. Every bias and batchnorm array is made random
first (a zero bias or an identity batchnorm would hide a swapped pair). MobileNetV2: the
zoo follows torchvision (stride-2 convs padded 1 on each side, batchnorm eps 1e-5) where
keras.applications pads (0, 1) and uses eps 1e-3, so its weights load but the outputs
differ by design.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.frameworks import keras_model
from conftest import EXAMPLES

keras = pytest.importorskip("keras")


def randomised(model) -> None:
    rng = np.random.default_rng(0)
    for v in model.weights:
        shape, name = tuple(v.shape), v.path.split("/")[-1]
        if name in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif name in ("beta", "bias", "moving_mean"):
            v.assign((rng.standard_normal(shape) * 0.1).astype("float32"))


# example -> (keras.applications model, same function, softmax on our output: the zoo's
# DenseNet returns logits as torchvision's does, Keras' ends in a softmax)
CASES = {
    "vgg16": (lambda: keras.applications.VGG16(weights=None), True, False),
    "densenet121": (lambda: keras.applications.DenseNet121(weights=None), True, True),
    "mobilenetv2": (lambda: keras.applications.MobileNetV2(weights=None), False, True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_keras_applications_weights_load_in_order(name: str) -> None:
    build, same_function, softmax = CASES[name]
    ref = build()
    randomised(ref)
    ours = keras_model(cnndsl.load(EXAMPLES / f"{name}.cnn"))
    ours.set_weights(ref.get_weights())  # raises on a count or shape mismatch
    x = np.random.default_rng(1).standard_normal((1, 224, 224, 3)).astype("float32")
    got, want = np.asarray(ours(x)), np.asarray(ref(x))
    if softmax:
        got = np.exp(got - got.max(axis=1, keepdims=True))
        got /= got.sum(axis=1, keepdims=True)
    if same_function:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    else:
        # by design: other padding and eps give other outputs — here close (random weights,
        # a 1000-way softmax: 5e-4 of the output's scale) but far above float32 noise
        # (the same functions above agree to about 1e-6 of it)
        assert np.abs(got - want).max() > 1e-4 * np.abs(want).max()


def test_a_swapped_pair_of_weights_is_caught() -> None:
    """The order test can fail: two same-shaped kernels swapped give other outputs."""
    ref = keras.applications.VGG16(weights=None)
    randomised(ref)
    ours = keras_model(cnndsl.load(EXAMPLES / "vgg16.cnn"))
    weights = ref.get_weights()
    i, j = 22, 24  # two 3x3x512x512 kernels of the last stage
    assert weights[i].shape == weights[j].shape
    weights[i], weights[j] = weights[j], weights[i]
    ours.set_weights(weights)
    x = np.random.default_rng(1).standard_normal((1, 224, 224, 3)).astype("float32")
    assert not np.allclose(np.asarray(ours(x)), np.asarray(ref(x)), rtol=1e-3)
