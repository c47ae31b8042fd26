"""The model zoo against published figures, and through all three backends.

Oracles: torchvision's published parameter counts (its ``numel()`` sum: the trainable
parameters; batchnorm statistics are buffers) and its published GFLOPS table (multiply-
accumulates), and for MobileNetV2 and DenseNet-121 the totals of keras.applications,
which count the batchnorm statistics too.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnndsl
from cnndsl.verify import verify
from cnndsl.weights import init_weights
from conftest import EXAMPLES

# model: (torchvision parameters, torchvision GFLOPS, i.e. G multiply-accumulates)
PUBLISHED = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "resnet18": (11_689_512, 1.81),
    "resnet50": (25_557_032, 4.09),
    "mobilenetv2": (3_504_872, 0.30),
    "densenet121": (7_978_856, 2.83),
    "googlenet": (6_624_904, 1.50),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_counts(name: str) -> None:
    m = cnndsl.load(EXAMPLES / f"{name}.cnn")
    params, gmacs = PUBLISHED[name]
    assert m.trainable_params == params
    assert m.output_shape == (1000,)
    assert round(m.total_macs / 1e9, 2) == gmacs


def test_resnet50_is_short() -> None:
    lines = (EXAMPLES / "resnet50.cnn").read_text().splitlines()
    assert len(lines) <= 50
    # blocks, not copies: the stem, and the three convs of each of the two bottleneck blocks
    # (written in both so that they sit at the block's level, conv1..conv3, as torchvision's)
    assert sum(1 for ln in lines if ln.strip().startswith("conv")) <= 7


def test_kim_cnn_and_nin_by_hand() -> None:
    kim = cnndsl.load(EXAMPLES / "kim_cnn.cnn")
    # three branches of 100 filters over 300-d words, windows of 3, 4 and 5, then 300 -> 2
    assert kim.total_params == sum(k * 300 * 100 + 100 for k in (3, 4, 5)) + 300 * 2 + 2
    nin = cnndsl.load(EXAMPLES / "nin.cnn")
    blocks = [(1, 96, 11), (96, 256, 5), (256, 384, 3), (384, 10, 3)]
    want = sum(k * k * cin * c + c + 2 * (c * c + c) for cin, c, k in blocks)
    assert nin.total_params == want
    assert nin.output_shape == (10,)


def test_unet_skip_connections() -> None:
    m = cnndsl.load(EXAMPLES / "unet_small.cnn")
    assert m.output_shape == (64, 64, 2)
    concats = [n for n in m if n.kind == "concat"]
    assert [n.inputs[1] for n in concats] == ["enc2", "enc1"]
    assert [n.shape for n in concats] == [(32, 32, 64), (64, 64, 32)]


def test_keras_applications_agree_on_totals() -> None:
    keras = pytest.importorskip("keras")
    for name, build in (
        ("mobilenetv2", keras.applications.MobileNetV2),
        ("densenet121", keras.applications.DenseNet121),
    ):
        ref = build(weights=None)
        assert cnndsl.load(EXAMPLES / f"{name}.cnn").total_params == ref.count_params()


# reduced input sizes so that three backends run the zoo in seconds
SMALL = {
    "alexnet": "96x96x3",
    "vgg16": "32x32x3",
    "resnet18": "64x64x3",
    "resnet50": "64x64x3",
    "mobilenetv2": "64x64x3",
    "densenet121": "64x64x3",
    "googlenet": "64x64x3",
    "nin": "96x96x1",
    "unet_small": "32x32x1",
    "kim_cnn": "20x300",
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_zoo_passes_verify(name: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    text = (EXAMPLES / f"{name}.cnn").read_text()
    text = re.sub(r"^input \S+", f"input {SMALL[name]}", text, count=1, flags=re.M)
    m = cnndsl.parse(text, f"{name}.cnn")
    weights = init_weights(m, 0)
    rng = np.random.default_rng(1)
    for ws in weights.values():  # make batchnorm and biases do something
        for k in ("bias", "beta", "moving_mean"):
            if k in ws:
                ws[k] = rng.normal(0, 0.1, ws[k].shape).astype(np.float32)
        if "moving_variance" in ws:
            ws["moving_variance"] = rng.uniform(0.5, 1.5, ws["gamma"].shape).astype(np.float32)
    x = rng.standard_normal((2, *m.input_shape)).astype(np.float32)
    report = verify(m, weights, x)
    assert report.compared == ["numpy", "keras", "pytorch", "onnx"]
    assert report.passed, [p for p in report.pairs if not p.passed]
