"""`cnndsl verify` and `cnndsl export-weights`, with the frameworks installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cnndsl
from cnndsl import convert, frameworks
from cnndsl.backends.numpy import forward
from cnndsl.cli import main
from cnndsl.frameworks import keras_model, load_generated
from cnndsl.weights import init_weights, save_weights
from conftest import EXAMPLES

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
LENET = str(EXAMPLES / "lenet5.cnn")


def test_verify_passes_and_prints_errors(capsys) -> None:
    assert main(["verify", LENET, "--samples", "3"]) == 0
    out = capsys.readouterr().out
    for pair in ("numpy   vs keras", "numpy   vs pytorch", "keras   vs pytorch"):
        assert pair in out
    # six pairs of four backends, and the verdict
    assert out.count("PASS") == 7 and "max abs" in out


def test_verify_json(capsys) -> None:
    assert main(["verify", LENET, "--json", "--seed", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "cnndsl.verify/1" and doc["passed"] is True
    assert doc["compared"] == ["numpy", "keras", "pytorch", "onnx"]
    assert all(p["max_abs"] < 1e-5 for p in doc["pairs"])


def test_verify_names_the_first_diverging_layer(capsys, monkeypatch) -> None:
    """A planted bug: the flatten permutation forgotten. The first bad layer is dense_1."""
    real = convert.to_pytorch

    def forgetful(model, weights):
        with monkeypatch.context() as mp:
            mp.setattr(convert, "feature_order", lambda m: dict.fromkeys(n.name for n in m.nodes))
            return real(model, weights)

    monkeypatch.setattr(frameworks, "to_pytorch", forgetful)
    assert main(["verify", LENET]) == 1
    out = capsys.readouterr().out
    assert "numpy   vs pytorch" in out and "FAIL" in out
    assert f"{LENET}:9:1: error: pytorch first diverges from numpy at layer 'dense_1'" in out
    assert " 9 | dense 120 sigmoid" in out


def test_verify_with_a_framework_missing(capsys, monkeypatch) -> None:
    import cnndsl.frameworks as fw

    real = fw.importlib.util.find_spec
    monkeypatch.setattr(
        fw.importlib.util, "find_spec", lambda name: None if name == "keras" else real(name)
    )
    assert main(["verify", LENET]) == 0
    out = capsys.readouterr().out
    assert "skipped: keras is not installed: pip install 'cnndsl[keras]'" in out
    assert "numpy   vs pytorch" in out and "keras   vs" not in out


def test_export_weights_load_into_the_generated_code(capsys, tmp_path) -> None:
    m = cnndsl.load(LENET)
    w = init_weights(m, 5)
    w["dense_1"]["bias"] = np.linspace(-1, 1, 120, dtype=np.float32)
    npz = tmp_path / "w.npz"
    save_weights(w, npz)
    x = np.random.default_rng(0).standard_normal((2, 28, 28, 1)).astype(np.float32)
    ref = forward(m, w, x)

    pt = tmp_path / "lenet5.pt"
    assert main(["export-weights", str(npz), "--model", LENET, "-t", "pytorch", "-o", str(pt)]) == 0
    net = load_generated(m, "pytorch").Lenet5().eval()
    net.load_state_dict(torch.load(pt))  # strict: every key, nothing extra
    with torch.no_grad():
        y = net(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-6)

    h5 = tmp_path / "lenet5.weights.h5"
    assert main(["export-weights", str(npz), "--model", LENET, "-t", "keras", "-o", str(h5)]) == 0
    built = keras_model(m)
    built.load_weights(h5)
    np.testing.assert_allclose(np.asarray(built(x)), ref, rtol=1e-4, atol=1e-6)
    capsys.readouterr()

    assert (
        main(
            [
                "export-weights",
                str(npz),
                "--model",
                LENET,
                "-t",
                "keras",
                "-o",
                str(tmp_path / "x.h5"),
            ]
        )
        == 2
    )
    assert "must end in .weights.h5" in capsys.readouterr().err
    assert (
        main(
            [
                "export-weights",
                str(tmp_path / "nope.npz"),
                "--model",
                LENET,
                "-t",
                "pytorch",
                "-o",
                str(pt),
            ]
        )
        == 1
    )
    assert "no such file" in capsys.readouterr().err


def test_round_trip_through_both_frameworks() -> None:
    """canonical -> framework -> canonical is the identity, flatten permutation included."""
    m = cnndsl.parse("input 4x3x2\nconv 3 2x2 same\nflatten\nbatchnorm\ndropout 0.1\ndense 5")
    w = init_weights(m, 1)
    rng = np.random.default_rng(0)
    for ws in w.values():
        for k in ws:
            ws[k] = rng.standard_normal(ws[k].shape).astype(np.float32)
    for to, back in (
        (convert.to_pytorch, convert.from_pytorch),
        (convert.to_keras, convert.from_keras),
    ):
        again = back(m, to(m, w))
        for node, ws in w.items():
            for k, arr in ws.items():
                np.testing.assert_array_equal(again[node][k], arr)
    # and the permutation is real: PyTorch's dense rows differ from the canonical order
    state = convert.to_pytorch(m, w)
    assert not np.array_equal(state["dense_1.weight"], w["dense_1"]["kernel"].T)


PRELU_CROP = "input 6x6x3\nconv 4 3x3\nprelu\ncrop 1\nflatten\nprelu\ndense 5\n"


def test_verify_passes_with_prelu_and_crop(capsys, tmp_path) -> None:
    """Probe weights: every prelu slope differs, so the flatten order of the second prelu's
    slopes (indexed by the flattened features) must be right for PyTorch to agree."""
    path = tmp_path / "prelu_crop.cnn"
    path.write_text(PRELU_CROP)
    assert main(["verify", str(path), "--samples", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 7
    seq = tmp_path / "seq.cnn"
    seq.write_text("input 10x3\nprelu\ncrop (2, 0)\nconv 2 3\ncrop (0, 1)\nprelu\n")
    assert main(["verify", str(seq)]) == 0
    assert capsys.readouterr().out.count("PASS") == 7


def test_prelu_slopes_after_flatten_are_reordered_for_pytorch_only() -> None:
    m = cnndsl.parse(PRELU_CROP)
    w = init_weights(m, 1)
    rng = np.random.default_rng(0)
    for ws in w.values():
        for k in ws:
            ws[k] = rng.standard_normal(ws[k].shape).astype(np.float32)
    state = convert.to_pytorch(m, w)
    alpha = w["prelu_2"]["alpha"]  # 16 = 2x2x4 features in (H, W, C) order
    # PyTorch flattens (C, H, W): feature c*4 + h*2 + w is canonical (h*2 + w)*4 + c, by hand
    want = [alpha[(h * 2 + x) * 4 + c] for c in range(4) for h in range(2) for x in range(2)]
    np.testing.assert_array_equal(state["prelu_2.weight"], want)
    np.testing.assert_array_equal(state["prelu_1.weight"], w["prelu_1"]["alpha"])
    keras_w = convert.to_keras(m, w)
    assert keras_w["prelu_1"][0].shape == (1, 1, 4)  # shared over height and width
    np.testing.assert_array_equal(keras_w["prelu_2"][0], alpha)  # Keras flattens like us
    for to, back in (
        (convert.to_pytorch, convert.from_pytorch),
        (convert.to_keras, convert.from_keras),
    ):
        again = back(m, to(m, w))
        for node, ws in w.items():
            for k, arr in ws.items():
                np.testing.assert_array_equal(again[node][k], arr)


def test_frameworks_initialise_prelu_like_init_weights() -> None:
    """The generated code's own initial slope is the language's 0.25 (Keras' default is 0)."""
    m = cnndsl.parse("input 4x4x2\nprelu\nflatten\nprelu")
    assert init_weights(m)["prelu_1"]["alpha"].tolist() == [0.25, 0.25]
    keras_arrays = [v for layer in keras_model(m).layers for v in layer.get_weights()]
    assert [a.shape for a in keras_arrays] == [(1, 1, 2), (32,)]
    assert all(np.all(a == 0.25) for a in keras_arrays)
    net = frameworks.module_class(load_generated(m, "pytorch"))()
    torch_arrays = [p.detach().numpy() for p in net.parameters()]
    assert [a.shape for a in torch_arrays] == [(2,), (32,)]
    assert all(np.all(a == 0.25) for a in torch_arrays)


def test_verify_reports_a_name_pytorch_refuses(capsys, tmp_path) -> None:
    """A layer named `float` cannot be an nn.Module attribute: verify says so with compile's
    error (no traceback), still compares NumPy and Keras, and fails."""
    path = tmp_path / "float.cnn"
    path.write_text("input 4x4x1; conv 2 3x3 name=float\n")
    assert main(["compile", str(path), "--target", "pytorch"]) == 1
    compile_err = capsys.readouterr().err
    assert "the layer name 'float' is taken in generated PyTorch code" in compile_err
    assert main(["verify", str(path)]) == 1
    out, err = capsys.readouterr()
    assert err == compile_err and "Traceback" not in err
    assert "numpy   vs keras" in out and "PASS" in out and "vs pytorch" not in out
    assert "not compared: pytorch" in out and out.rstrip().endswith("FAIL")
    assert main(["verify", str(path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is False and doc["compared"] == ["numpy", "keras", "onnx"]
    [error] = doc["refused"]["pytorch"]["errors"]
    assert error["span"]["line"] == 1 and "'float'" in error["message"]
