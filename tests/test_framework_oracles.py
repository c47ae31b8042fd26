"""The checker's shapes and counts against Keras' and PyTorch's own, built by hand here.

These are outside oracles: ``keras.applications.VGG16``, ``count_params()``,
``compute_output_shape`` and the shapes PyTorch produces on a real tensor.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnndsl
from conftest import EXAMPLES

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")


def test_vgg16_equals_keras_applications() -> None:
    ours = cnndsl.load(EXAMPLES / "vgg16.cnn")
    ref = keras.applications.VGG16(weights=None)
    assert ours.total_params == ref.count_params() == 138_357_544
    theirs = [tuple(layer.output.shape[1:]) for layer in ref.layers if "dropout" not in layer.name]
    mine = [n.shape for n in ours if n.kind != "dropout"]
    assert mine == theirs


def test_lenet5_equals_a_hand_built_keras_model() -> None:
    L = keras.layers
    ref = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(6, 5, padding="same", activation="sigmoid"),
            L.AveragePooling2D(2),
            L.Conv2D(16, 5, activation="sigmoid"),
            L.AveragePooling2D(2),
            L.Flatten(),
            L.Dense(120, activation="sigmoid"),
            L.Dense(84, activation="sigmoid"),
            L.Dense(10, activation="softmax"),
        ]
    )
    ours = cnndsl.load(EXAMPLES / "lenet5.cnn")
    assert ours.total_params == ref.count_params() == 61_706
    assert [n.shape for n in ours][1:] == [tuple(x.output.shape[1:]) for x in ref.layers]


def test_batchnorm_counts_like_keras_and_torch() -> None:
    m = cnndsl.parse("input 8x8x32\nbatchnorm")
    bn = keras.layers.BatchNormalization()
    bn.build((None, 8, 8, 32))
    assert m.total_params == bn.count_params() == 4 * 32
    tbn = torch.nn.BatchNorm2d(32)
    assert m.trainable_params == sum(p.numel() for p in tbn.parameters())
    assert m.non_trainable_params == tbn.running_mean.numel() + tbn.running_var.numel()


@st.composite
def keras_conv(draw):
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    groups = draw(st.sampled_from([1, 2, 4]))
    cin, filters = 4 * draw(st.integers(1, 2)), 4 * draw(st.integers(1, 3))
    bias = draw(st.booleans())
    return h, w, cin, filters, k, stride, padding, groups, bias


@settings(max_examples=40)
@given(keras_conv())
def test_conv2d_matches_keras(case) -> None:
    h, w, cin, filters, k, s, padding, groups, bias = case
    src = (
        f"input {h}x{w}x{cin}\nconv {filters} {k[0]}x{k[1]} {padding} stride={s[0]}x{s[1]} "
        f"groups={groups} bias={'true' if bias else 'false'}"
    )
    layer = keras.layers.Conv2D(
        filters, k, strides=s, padding=padding, groups=groups, use_bias=bias
    )
    try:
        want = layer.compute_output_shape((None, h, w, cin))[1:]
    except ValueError:  # Keras: "Computed output size would be zero or negative"
        want = (0,)
    if min(want) < 1:
        with pytest.raises(cnndsl.CnnDslError):
            cnndsl.parse(src)
        return
    m = cnndsl.parse(src)
    layer.build((None, h, w, cin))
    assert m.output_shape == tuple(want)
    assert m.total_params == layer.count_params()


@st.composite
def torch_case(draw):
    rank = draw(st.sampled_from([1, 2]))
    sizes = [draw(st.integers(3, 20)) for _ in range(rank)]
    k = [draw(st.integers(1, 4)) for _ in range(rank)]
    s = [draw(st.integers(1, 3)) for _ in range(rank)]
    d = [1] * rank if max(s) > 1 else [draw(st.integers(1, 2)) for _ in range(rank)]
    pads = [draw(st.integers(0, 2)) for _ in range(2 * rank)]
    groups = draw(st.sampled_from([1, 3]))
    pool = draw(st.sampled_from(["max", "avg"]))
    return rank, sizes, k, s, d, pads, groups, pool


@settings(max_examples=60)
@given(torch_case())
def test_conv_and_pool_match_torch(case) -> None:
    rank, sizes, k, s, d, pads, groups, pool = case
    F = torch.nn.functional
    cin, filters = 6, 9
    dims = "x".join(map(str, sizes))
    ks, ss, ds = ("x".join(map(str, v)) for v in (k, s, d))
    pad = ",".join(map(str, pads))
    src = (
        f"input {dims}x{cin}\nconv {filters} {ks} stride={ss} dilation={ds} groups={groups} "
        f"pad=({pad})\npool {pool} 2 same"
    )
    conv = (torch.nn.Conv1d if rank == 1 else torch.nn.Conv2d)(
        cin, filters, k, stride=s, dilation=d, groups=groups
    )
    x = torch.zeros(1, cin, *sizes)
    # torch pads the last axis first: (left, right, top, bottom)
    torch_pad = pads if rank == 1 else [pads[2], pads[3], pads[0], pads[1]]
    try:
        y = conv(F.pad(x, torch_pad))
    except RuntimeError:  # the kernel does not fit
        with pytest.raises(cnndsl.CnnDslError):
            cnndsl.parse(src)
        return
    m = cnndsl.parse(src)
    assert m.node("conv_1").shape == (*y.shape[2:], filters)
    assert m.node("conv_1").params == sum(p.numel() for p in conv.parameters())
    # 'same' pooling: TensorFlow's ceil(n / 2)
    assert m.output_shape == (*(-(-n // 2) for n in y.shape[2:]), filters)


def _const_weights_of_every_kind():
    from test_design import KINDS, kind_model

    for cls in KINDS:
        model = kind_model(cls)
        consts = [
            (n.name, w)
            for n in model.nodes
            for w in n.weights
            # per-channel constants; biases are zeros in the language and in Keras, but
            # PyTorch draws them at random (its convention, left to the framework)
            if w.init.kind == "const" and "c" in w.axes
        ]
        if consts:
            yield cls.KIND, model, consts


@pytest.mark.parametrize(
    "kind,model,consts", list(_const_weights_of_every_kind()), ids=lambda v: str(v)[:12]
)
def test_frameworks_start_constant_weights_where_the_language_does(kind, model, consts) -> None:
    """The generated models' own initialisation (no weights loaded) gives every weight the
    language declares as a constant (batchnorm gamma = 1, prelu slope = 0.25, ...) that
    constant, as `init-weights` does: a user who trains the generated code from scratch
    starts where the language says."""
    from cnndsl.frameworks import keras_model, keras_weights, torch_module, torch_weights

    got = {
        "pytorch": torch_weights(model, torch_module(model)),
        "keras": keras_weights(model, keras_model(model)),
    }
    for framework, weights in got.items():
        for node, w in consts:
            np.testing.assert_array_equal(
                weights[node][w.name],
                np.full(w.shape, w.init.value, np.float32),
                err_msg=f"{framework}: {kind} {w.name}",
            )
