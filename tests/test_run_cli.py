"""`cnndsl run` and `cnndsl init-weights`: outputs, feature maps, and every bad input named."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.weights import check_weights, init_weights, load_weights, save_weights
from conftest import EXAMPLES

PIL = pytest.importorskip("PIL.Image")
EDGE = str(EXAMPLES / "edge_detect.cnn")
SHAPES = str(EXAMPLES / "shapes.png")
LENET = str(EXAMPLES / "lenet5.cnn")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_edge_detector_feature_maps_show_the_edges(capsys, tmp_path) -> None:
    status, out, _ = run_cli(
        capsys, "run", EDGE, "--input", SHAPES, "--feature-maps", str(tmp_path), "--json"
    )
    assert status == 0
    doc = json.loads(out)
    assert doc["schema"] == "cnndsl.run/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "00_input.png",
        "01_conv_1.png",
        "02_relu_1.png",
    ]
    y = np.array(doc["outputs"])[0]  # 64x64x3
    # examples/make_shapes.py draws a square from (6, 6) to (26, 26) on a dark background:
    # the Laplacian responds on its outline and is zero inside and far outside it.
    lap = y[:, :, 0]
    assert lap[16, 6] > 0.5 and lap[6, 16] > 0.5  # left and top edges
    assert abs(lap[16, 16]) < 1e-5 and abs(lap[16, 31]) < 1e-5  # inside; between shapes
    # Sobel x (vertical edges) fires on the square's left side, not on its top side
    assert y[16, 6, 1] > 0.5 and abs(y[6, 16, 1]) < 1e-5
    with PIL.open(tmp_path / "02_relu_1.png") as img:
        assert img.size[0] > 3 * 64  # three tiles side by side


def test_softmax_head_prints_top5(capsys, tmp_path) -> None:
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)  # no channel axis
    np.save(tmp_path / "x.npy", x)
    status, out, _ = run_cli(capsys, "run", LENET, "-i", str(tmp_path / "x.npy"))
    assert status == 0
    assert out.count("top-5 classes") == 3
    status, out, _ = run_cli(capsys, "run", LENET, "-i", str(tmp_path / "x.npy"), "--json")
    doc = json.loads(out)
    assert len(doc["top5"]) == 3 and len(doc["top5"][0]) == 5
    probs = np.array(doc["outputs"])
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    assert doc["top5"][0][0]["class"] == int(np.argmax(probs[0]))


def test_image_is_resized_and_said_so(capsys) -> None:
    status, out, _ = run_cli(capsys, "run", LENET, "-i", SHAPES)
    assert status == 0
    assert "resized 64x64 to 28x28" in out


def test_init_weights_is_deterministic_and_round_trips(capsys, tmp_path) -> None:
    a, b, c = (tmp_path / n for n in ("a.npz", "b.npz", "c.npz"))
    assert run_cli(capsys, "init-weights", LENET, "-o", str(a), "--seed", "7")[0] == 0
    assert run_cli(capsys, "init-weights", LENET, "-o", str(b), "--seed", "7")[0] == 0
    assert run_cli(capsys, "init-weights", LENET, "-o", str(c), "--seed", "8")[0] == 0
    model = cnndsl.load(LENET)
    wa, wb, wc = (load_weights(model, p) for p in (a, b, c))
    for node, ws in wa.items():
        for name, arr in ws.items():
            np.testing.assert_array_equal(arr, wb[node][name])
    assert not np.array_equal(wa["conv_1"]["kernel"], wc["conv_1"]["kernel"])
    assert sum(v.size for ws in wa.values() for v in ws.values()) == 61_706
    # Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out)); conv_1: fans 25*1 and 25*6
    assert np.abs(wa["conv_1"]["kernel"]).max() <= (6 / (25 + 150)) ** 0.5
    assert not wa["conv_1"]["bias"].any()


def test_literal_weights_are_used(tmp_path) -> None:
    m = cnndsl.load(EDGE)
    w = init_weights(m)
    k = w["conv_1"]["kernel"]
    assert k.shape == (3, 3, 1, 3)
    np.testing.assert_array_equal(k[:, :, 0, 1], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(k[1, 1, 0], [8, 0, 0])


def test_bad_weight_files(capsys, tmp_path) -> None:
    model = cnndsl.load(LENET)
    good = init_weights(model)
    cases = {}
    missing = {k: dict(v) for k, v in good.items()}
    del missing["dense_2"]["bias"]
    cases["missing"] = (missing, "missing dense_2/bias (84) for the dense layer at")
    extra = {k: dict(v) for k, v in good.items()}
    extra["conv_9"] = {"kernel": np.zeros(3, np.float32)}
    cases["extra"] = (extra, "unexpected array conv_9/kernel: the model has no such layer")
    shaped = {k: dict(v) for k, v in good.items()}
    shaped["conv_1"]["kernel"] = np.zeros((3, 3, 1, 6), np.float32)
    cases["shape"] = (
        shaped,
        f"conv_1/kernel has shape 3x3x1x6, but the conv layer at {LENET}:4 needs 5x5x1x6",
    )
    for what, (weights, message) in cases.items():
        path = tmp_path / f"{what}.npz"
        save_weights(weights, path)
        status, _, err = run_cli(capsys, "run", LENET, "-i", SHAPES, "-w", str(path))
        assert status == 1, what
        assert f"{path}: error: {message}" in err, err
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    status, _, err = run_cli(capsys, "run", LENET, "-i", SHAPES, "-w", str(junk))
    assert status == 1 and "not a readable .npz weight file" in err
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"conv_1/kernel": np.array([object()], dtype=object)})
    status, _, err = run_cli(capsys, "run", LENET, "-i", SHAPES, "-w", str(pickled))
    assert status == 1 and "error" in err  # refused: allow_pickle=False


def test_bad_inputs(capsys, tmp_path) -> None:
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((32, 32, 3), np.float32))
    fake = tmp_path / "fake.png"
    fake.write_text("this is not a picture")
    text = tmp_path / "x.txt"
    text.write_text("1 2 3")
    scalar = tmp_path / "scalar.npy"
    np.save(scalar, np.float32(1))
    cases = {
        str(scalar): "the array is a scalar, but the model takes 28x28x1",
        str(wrong): "the array has shape 32x32x3, but the model takes 28x28x1",
        str(fake): "not a readable image",
        str(text): "cannot read '.txt' input",
        str(tmp_path / "nope.npy"): "no such file",
        str(tmp_path): "is a directory",
    }
    for path, message in cases.items():
        status, _, err = run_cli(capsys, "run", LENET, "-i", path)
        assert status == 1, path
        assert f"{path}: error: {message}" in err, err
    # a model whose input is no image
    status, _, err = run_cli(capsys, "run", str(EXAMPLES / "text_cnn.cnn"), "-i", SHAPES)
    assert status == 1 and "an image cannot feed an input of shape 100x300" in err


def test_missing_pillow_is_a_clear_error(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now fails
    status, _, err = run_cli(capsys, "run", LENET, "-i", SHAPES)
    assert status == 1 and "reading images needs Pillow" in err and "cnndsl[viz]" in err
    np.save(tmp_path / "x.npy", np.zeros((28, 28, 1), np.float32))
    status, _, err = run_cli(
        capsys,
        "run",
        LENET,
        "-i",
        str(tmp_path / "x.npy"),
        "--feature-maps",
        str(tmp_path / "maps"),
    )
    assert status == 1 and "feature maps needs Pillow" in err


def test_check_weights_accepts_exact_files() -> None:
    model = cnndsl.load(LENET)
    flat = {f"{n}/{k}": v for n, ws in init_weights(model).items() for k, v in ws.items()}
    nested = check_weights(model, flat)
    assert set(nested) == {"conv_1", "conv_2", "dense_1", "dense_2", "dense_3"}


@pytest.mark.parametrize(
    "src",
    [
        "input 16x16x64; relu; conv 3 3x3; pool max 2",  # 64 tiles, 3 tiles, enlarged
        "input 100x300; conv 8 5 relu; pool max 2; flatten; dense 2 softmax",  # 1-D, strips
        "input 200x3x2; relu",  # tall tiles
        "input 300x300x1; relu",  # larger than MIN_TILE: not enlarged
    ],
)
def test_feature_map_pixels_are_counted_before_drawing(src: str) -> None:
    """What the limit counts from the shapes is what the pictures hold."""
    from cnndsl.backends.numpy import forward_all
    from cnndsl.viz import _picture, _require_pillow, pixels

    m = cnndsl.parse(src)
    acts = forward_all(m, init_weights(m, 0), np.ones((1, *m.input_shape), np.float32))
    pil = _require_pillow()
    font = pil[2].load_default()
    sizes = [_picture(pil, font, n, acts[n.name][0]).size for n in m.nodes]
    assert pixels(m) == sum(w * h for w, h in sizes)


def test_feature_maps_of_10000_layers_are_refused_before_the_run(capsys, tmp_path) -> None:
    model = tmp_path / "deep.cnn"
    model.write_text("input 16x16x64\nrepeat 10000 { relu }\n")
    x = tmp_path / "x.npy"
    np.save(x, np.ones((16, 16, 64), np.float32))
    maps = tmp_path / "maps"
    status, _, err = run_cli(capsys, "run", str(model), "-i", str(x), "--feature-maps", str(maps))
    assert status == 1 and not maps.exists()  # nothing drawn, not even the directory
    # by hand: 64 tiles of 16x16 enlarged 8x to 128: 8 columns, 8 rows; width 8 * (128 + 4)
    # + 4 = 1060, height 18 + 8 * (128 + 12 + 4) + 4 = 1174: 1,244,440 a layer, x 10,001
    assert "the feature maps of 10,001 layers would count 13,445,744,440 pixels" in err
    assert "(12,445,644,440 drawn, and 100,000 for each of 10,001 files)" in err
    assert "over the limit of 1,000,000,000" in err and "without --feature-maps" in err
    status, _, _ = run_cli(capsys, "run", str(model), "-i", str(x))  # without: it runs
    assert status == 0
