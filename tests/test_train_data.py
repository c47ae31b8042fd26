"""Training data offline: the bundled digits resized as documented, .npz and folders checked
against the model before anything big is read."""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.training import load_data
from cnndsl.training.data import resize

pytest.importorskip("sklearn")
Image = pytest.importorskip("PIL.Image")

LENET = "input 28x28x1; conv 6 5x5 sigmoid same; pool avg 2; flatten; dense 10 softmax"


def test_resize_is_pillows_bilinear_upsampling() -> None:
    """Oracle: Pillow's BILINEAR on a float image (half-pixel centres, edges clamped)."""
    img = np.random.default_rng(0).uniform(0, 1, (8, 8)).astype(np.float32)
    want = np.asarray(Image.fromarray(img, mode="F").resize((28, 32), Image.Resampling.BILINEAR))
    got = resize(img[None].astype(np.float64), 32, 28)[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_digits_fixed_stratified_split() -> None:
    model = cnndsl.parse(LENET)
    a, b = load_data("digits", model, 10), load_data("digits", model, 10)
    assert a.x_train.shape == (1438, 28, 28, 1) and a.x_test.shape == (359, 28, 28, 1)
    assert a.x_train.dtype == np.float32 and a.x_train.min() >= 0 and a.x_train.max() <= 1
    np.testing.assert_array_equal(a.y_test, b.y_test)  # the same split every time
    np.testing.assert_array_equal(a.x_test, b.x_test)
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of each class (~180 each)
    rgb = load_data("digits", cnndsl.parse("input 8x8x3; flatten; dense 10 softmax"), 10)
    from sklearn.datasets import load_digits

    # 8x8 is not resized: the pixels are the bundled ones / 16, on every channel
    known = {bytes(im.astype(np.float32).tobytes()) for im in load_digits().images / 16.0}
    sample = rgb.x_test[0]
    assert np.array_equal(sample[..., 0], sample[..., 2])
    assert bytes(sample[..., 0].tobytes()) in known


def test_digits_need_an_image_input() -> None:
    with pytest.raises(cnndsl.CnnDslError, match="digits are 8x8 images"):
        load_data("digits", cnndsl.parse("input 64x1; flatten; dense 10 softmax"), 10)


def test_npz_with_and_without_a_test_set(tmp_path) -> None:
    model = cnndsl.parse("input 4x3; flatten; dense 3 softmax")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 4, 3)), rng.integers(0, 3, 50)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    d = load_data(str(tmp_path / "a.npz"), model, 3)
    assert len(d.y_train) + len(d.y_test) == 50 and d.x_train.dtype == np.float32
    np.savez(tmp_path / "b.npz", x=x, y=y, x_test=x[:7], y_test=y[:7])
    d = load_data(str(tmp_path / "b.npz"), model, 3)
    assert len(d.y_train) == 50 and len(d.y_test) == 7


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((5, 4, 4)), "y": np.zeros(5, int)}, "x has shape 5x4x4, but"),
        ({"x": np.zeros((5, 4, 3)), "y": np.zeros(5)}, "labels are whole numbers"),
        ({"x": np.zeros((5, 4, 3)), "y": np.zeros(4, int)}, "5 samples but y 4 labels"),
        ({"x": np.zeros((5, 4, 3))}, "no readable array 'y'"),
        (
            {"x": np.zeros((5, 4, 3)), "y": np.array([0, 1, 2, 3, 0])},
            "label 3 is outside the model's 3 classes",
        ),
    ],
)
def test_npz_problems(tmp_path, arrays, message) -> None:
    model = cnndsl.parse("input 4x3; flatten; dense 3 softmax")
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(cnndsl.CnnDslError, match=message):
        load_data(str(tmp_path / "bad.npz"), model, 3)


def test_folder_of_classes(tmp_path) -> None:
    for c, value in (("cats", 40), ("dogs", 200)):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.new("L", (16, 16), value + i).save(tmp_path / c / f"{i}.png")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    model = cnndsl.parse("input 8x8x1; flatten; dense 2 softmax")
    d = load_data(str(tmp_path), model, 2)
    assert len(d.y_train) == 8 and len(d.y_test) == 2 and sorted(d.y_test) == [0, 1]
    for x, y in zip(d.x_train, d.y_train):  # dogs are brighter, both scaled to [0, 1]
        assert x.shape == (8, 8, 1)
        assert (x.mean() > 0.7) == (y == 1)
