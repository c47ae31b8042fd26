"""Parameter counts and shapes of the shipped examples, against outside figures.

Oracles: published totals (LeNet-5 in d2l: 61,706; VGG-16: 138,357,544) and the
conv/dense arithmetic worked out by hand below, layer by layer.
"""

from __future__ import annotations

import cnndsl
from conftest import EXAMPLES


def load(name: str) -> cnndsl.Model:
    return cnndsl.load(EXAMPLES / f"{name}.cnn")


def test_lenet5_published_total_and_each_layer() -> None:
    m = load("lenet5")
    assert m.name == "lenet5"
    assert m.total_params == 61_706
    assert m.trainable_params == 61_706 and m.non_trainable_params == 0
    shapes = [n.shape for n in m]
    assert shapes == [
        (28, 28, 1),
        (28, 28, 6),  # same: pad 2 each side
        (14, 14, 6),
        (10, 10, 16),  # valid: 14 - 5 + 1
        (5, 5, 16),
        (400,),  # 5 * 5 * 16
        (120,),
        (84,),
        (10,),
    ]
    params = [n.params for n in m]
    assert params == [
        0,
        5 * 5 * 1 * 6 + 6,  # 156
        0,
        5 * 5 * 6 * 16 + 16,  # 2,416
        0,
        0,
        400 * 120 + 120,  # 48,120
        120 * 84 + 84,  # 10,164
        84 * 10 + 10,  # 850
    ]
    # MACs: output positions x filters x window x input channels
    assert m.node("conv_1").macs == 28 * 28 * 6 * 25 * 1
    assert m.node("conv_2").macs == 10 * 10 * 16 * 25 * 6
    assert m.node("dense_1").macs == 400 * 120


def test_vgg16_published_total() -> None:
    m = load("vgg16")
    assert m.total_params == 138_357_544
    assert m.output_shape == (1000,)
    assert m.node("flatten_1").shape == (7 * 7 * 512,)
    # the first dense layer alone: 25088 x 4096 + 4096
    assert m.node("classifier_0").params == 102_764_544
    # VGG-16's 15.47 GMACs per 224x224 image, as commonly published (~15.5 G)
    assert 15.4e9 < m.total_macs < 15.5e9


def test_text_cnn_is_one_dimensional() -> None:
    m = load("text_cnn")
    assert [n.shape for n in m][:5] == [(100, 300), (96, 128), (48, 128), (44, 128), (11, 128)]
    assert m.node("conv_1").layer.kernel == (5,)
    assert m.total_params == (5 * 300 * 128 + 128) + (5 * 128 * 128 + 128) + (1408 * 2 + 2)


def test_oneliner() -> None:
    m = load("oneliner")
    assert m.output_shape == (10,)
    assert m.total_params == (3 * 3 * 1 * 64 + 64) + (14 * 14 * 64 * 10 + 10)


def test_padding_demo_shapes_follow_the_comments() -> None:
    m = load("padding")
    assert [n.shape[:2] for n in m] == [(6, 6), (6, 6), (4, 4), (6, 6), (3, 3), (3, 3), (2, 2)]
    # same with stride 2 on 6: total pad (3 - 1) * 2 + 3 - 6 = 1, the extra at the bottom/right
    assert m.node("conv_4").layer.pads() == ((0, 1), (0, 1))
    assert m.node("conv_3").layer.pads() == ((2, 2), (2, 2))


def test_every_example_checks() -> None:
    files = sorted(EXAMPLES.glob("*.cnn"))
    assert len(files) >= 5
    for f in files:
        cnndsl.load(f)


def test_user_one_liner_without_input_says_so() -> None:
    line = "conv 64 3x3 relu same; pool max 2; flatten; dense 10 softmax"
    try:
        cnndsl.parse(line, "m.cnn")
    except cnndsl.CnnDslError as err:
        text = err.render()
        assert "m.cnn:1:1: error: 'conv' comes before any input" in text
        assert "input 28x28x1" in text
    else:  # pragma: no cover
        raise AssertionError("a model without input must not check")
    m = cnndsl.parse("input 28x28x1; " + line)
    assert m.total_params == 126_090
