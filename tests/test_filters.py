"""``cnndsl filters``: a PNG per kernel, grey 128 at zero, white/black at the extremes."""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.filters import kernels, to_grey
from cnndsl.weights import init_weights, save_weights
from conftest import EXAMPLES

Image = pytest.importorskip("PIL.Image")


def test_grey_scale_is_symmetric_about_zero() -> None:
    got = to_grey(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    assert got.tolist() == [1, 64, 128, 192, 255]  # 128 + 127 * w / 2, rounded (by hand)
    assert to_grey(np.zeros(3)).tolist() == [128, 128, 128]


def test_filters_command_draws_each_kernel(tmp_path, capsys) -> None:
    src = tmp_path / "m.cnn"
    src.write_text("input 12x12x1\nconv 4 3x3 relu\nconv 3 3x3\ninput2 = 1\n".replace(
        "input2 = 1\n", "flatten\ndense 2 softmax\n"))  # fmt: skip
    model = cnndsl.load(src)
    assert [n.name for n, _ in kernels(model)] == ["conv_1", "conv_2"]
    weights = init_weights(model, 0)
    k = np.zeros((3, 3, 1, 4), np.float32)
    k[1, 1, 0, 0] = 1.0  # filter 0: one bright centre pixel
    k[0, 0, 0, 1] = -1.0  # filter 1: a dark corner
    weights["conv_1"]["kernel"] = k
    save_weights(weights, tmp_path / "w.npz")
    out = tmp_path / "f"
    assert main(["filters", str(src), "--weights", str(tmp_path / "w.npz"), "-o", str(out)]) == 0
    assert "filters: 2 PNG files" in capsys.readouterr().out
    first = np.asarray(Image.open(out / "00_conv_1_kernel.png"))
    assert (first == 1).sum() == 14 * 14  # the dark corner: one pixel enlarged ceil(40/3)x
    assert 128 in first  # the zero weights
    second = Image.open(out / "01_conv_2_kernel.png")
    assert second.size[1] > first.shape[0]  # 3 filters x 4 input channels: a grid of rows


def test_no_kernels(tmp_path, capsys) -> None:
    src = tmp_path / "m.cnn"
    src.write_text("input 4\ndense 2 softmax\n")
    assert main(["filters", str(src), "-o", str(tmp_path / "f")]) == 1
    assert "no convolution kernels" in capsys.readouterr().err


def test_a_large_kernel_shows_one_tap_in_n(tmp_path, capsys) -> None:
    """500x500 taps: one in ceil(500 / 200) = 3, a 167-pixel tile (not 500 pixels, and
    not 96,000 x 48,000 for a 3000x3000 kernel's grid)."""
    src = tmp_path / "m.cnn"
    src.write_text("input 500x500x1\nconv 1 500x500\n")
    model = cnndsl.load(src)
    weights = init_weights(model, 0)
    k = np.zeros((500, 500, 1, 1), np.float32)
    k[:] = 0.5  # the taps not shown: mid-light grey (192), which must not appear
    k[::3, ::3] = -1.0  # exactly the taps shown: an all-black tile (1)
    weights["conv_1"]["kernel"] = k
    save_weights(weights, tmp_path / "w.npz")
    out = tmp_path / "f"
    assert main(["filters", str(src), "-w", str(tmp_path / "w.npz"), "-o", str(out)]) == 0
    pic = np.asarray(Image.open(out / "00_conv_1_kernel.png"))
    ys, xs = np.nonzero(pic == 1)
    tile = pic[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert tile.shape == (167, 167) and (tile == 1).all()  # no unshown tap in it
    assert pic.shape[1] < 400


def test_filters_keeps_to_the_memory_budget(tmp_path, capsys) -> None:
    src = tmp_path / "m.cnn"
    src.write_text("input 8x8x512\nconv 100000 3x3 same\n")  # 1.72 GiB of weights
    out = tmp_path / "f"
    assert main(["filters", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "filters needs about 5.15 GiB, over the memory budget of 2.00 GiB" in err
    assert "--max-memory 6G" in err and not out.exists()
    assert main(["filters", str(src), "-o", str(out), "--max-memory", "10M"]) == 1


@pytest.mark.parametrize(
    "name", ["lenet5", "edge_detect", "alexnet", "resnet50", "text_cnn", "mobilenetv2"]
)
def test_filter_pixels_are_counted_before_drawing(name: str) -> None:
    """The count from the shapes: never less than what is drawn, and at most a third more
    (a title's width is estimated at 6 pixels a character; it widens small grids)."""
    from cnndsl.filters import _grid, _picture, pixels
    from cnndsl.viz import _require_pillow

    model = cnndsl.load(EXAMPLES / f"{name}.cnn")
    weights = init_weights(model, 0)
    pil = _require_pillow()
    font = pil[2].load_default()
    drawn = 0
    for node, w in kernels(model):
        grid = _grid(np.asarray(weights[node.name][w.name], np.float64), w.axes)
        width, height = _picture(pil, font, node, w, grid).size
        drawn += width * height
    assert drawn <= pixels(model) <= 1.4 * drawn


def test_10000_kernels_are_refused_before_any_is_made(tmp_path, capsys) -> None:
    src = tmp_path / "m.cnn"
    src.write_text("input 8x8x1\nrepeat 10000 { conv 1 1x1 }\n")
    out = tmp_path / "f"
    assert main(["filters", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    # by hand: a 1x1 kernel is one 40-pixel tile, 18 + 40 + 4 + 4 = 66 pixels tall; the title
    # 'conv_N kernel 1x1x1x1, line 2: 1 filters; grey 0' (47 characters + N's digits, which
    # sum to 9 + 180 + 2,700 + 36,000 + 5 = 38,894) at 6 pixels, + 8, sets the width:
    # 66 * (6 * (47 * 10,000 + 38,894) + 8 * 10,000) = 206,802,024
    assert "the pictures of 10,000 kernels would count 1,206,802,024 pixels" in err
    assert "(206,802,024 drawn, and 100,000 for each of 10,000 files)" in err
    assert not out.exists()
