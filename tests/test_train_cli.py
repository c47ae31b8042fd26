"""``cnndsl train``: the done-when checks of LeNet-5 on the digits, in PyTorch (one process
and two under DDP) and Keras, the trained weights read back by the NumPy interpreter
through ``cnndsl run``, and the errors.

The three full trainings run once each (module fixtures), as the user would run them, in a
subprocess with one thread per process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.training import classifier_head, load_data
from conftest import EXAMPLES, ROOT

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")
LENET = str(EXAMPLES / "lenet5.cnn")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", *args], cwd=ROOT, capture_output=True, text=True
    )


def trained(tmp_path_factory, framework: str, *extra: str) -> tuple[dict, str]:
    out = str(tmp_path_factory.mktemp(framework) / "lenet5.npz")
    r = cli("train", LENET, "-f", framework, "--data", "digits", "--threads", "1", "--json",
            "-o", out, *extra)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), out


@pytest.fixture(scope="module")
def pytorch_run(tmp_path_factory):
    return trained(tmp_path_factory, "pytorch")


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    pytest.importorskip("keras")
    return trained(tmp_path_factory, "keras")


@pytest.fixture(scope="module")
def x_test(tmp_path_factory):
    model = cnndsl.load(LENET)
    data = load_data("digits", model, 10)
    path = tmp_path_factory.mktemp("data") / "x_test.npy"
    np.save(path, data.x_test)
    return str(path), data.y_test


def numpy_accuracy(weights: str, x_test, capsys) -> float:
    """The trained .npz through `cnndsl run` on the NumPy interpreter."""
    path, y = x_test
    capsys.readouterr()
    assert main(["run", LENET, "--weights", weights, "--input", path, "--json"]) == 0
    probs = np.array(json.loads(capsys.readouterr().out)["outputs"])
    return float(np.mean(probs.argmax(1) == y))


@pytest.mark.parametrize("fw", ["pytorch", "keras"])
def test_lenet_on_digits_reaches_95_and_numpy_agrees(fw, request, x_test, capsys) -> None:
    doc, weights = request.getfixturevalue(f"{fw}_run")
    assert doc["schema"] == "cnndsl.train/1" and doc["framework"] == fw
    assert doc["test_accuracy"] >= 0.95
    assert len(doc["history"]) == 15
    # inference in the reference gives the framework's accuracy (at most one sample flips
    # where float32 sums in another order move a near-tie)
    assert abs(numpy_accuracy(weights, x_test, capsys) - doc["test_accuracy"]) <= 1 / 359
    print(f"{fw}: test accuracy {doc['test_accuracy']:.4f} in {doc['seconds']:.1f} s")


def test_pytorch_checkpoint_is_the_generated_modules_state_dict(pytorch_run, x_test) -> None:
    from cnndsl.backends.numpy import forward
    from cnndsl.frameworks import torch_module
    from cnndsl.weights import load_weights

    doc, weights = pytorch_run
    model = cnndsl.load(LENET)
    net = torch_module(model)
    net.load_state_dict(torch.load(doc["files"]["checkpoint"]))
    x = np.load(x_test[0])[:16]
    with torch.no_grad():
        got = net(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    want = forward(model, load_weights(model, weights), x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_ddp_two_processes_same_accuracy_identical_weights(pytorch_run, tmp_path_factory):
    doc1, _ = pytorch_run
    doc2, _ = trained(tmp_path_factory, "pytorch", "--nproc", "2")
    digests = doc2["rank_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert abs(doc2["test_accuracy"] - doc1["test_accuracy"]) <= 0.02
    print(f"ddp: {doc2['test_accuracy']:.4f} in {doc2['seconds']:.1f} s")


def test_text_output_and_files(tmp_path, capsys) -> None:
    src = tmp_path / "small.cnn"
    src.write_text("model small\ninput 8x8x1\nconv 4 3x3 relu\nflatten\ndense 10 softmax\n")
    out = tmp_path / "small.npz"
    assert main(["train", str(src), "-f", "pytorch", "--data", "digits", "--epochs", "2",
                 "-o", str(out)]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("test accuracy: 0.") and len(lines[-1]) == len(
        "test accuracy: 0.973"
    )
    assert any(line.startswith("epoch 1/2  loss ") for line in lines)
    for name in ("small.npz", "small.pt", "small.curve.png"):
        assert (tmp_path / name).stat().st_size > 0
    from PIL import Image

    assert Image.open(tmp_path / "small.curve.png").size == (720, 256)


BAD_HEAD = "input 8x8x1\nflatten\ndense 10\n"


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--nproc", "2", "-f", "keras"], 2, "--nproc runs PyTorch's"),
        (["--nproc", "2", "--batch-size", "15"], 2, "does not split over 2"),
        (["--epochs", "0"], 2, "must be > 0"),
        (["--data", "missing.npz"], 1, "missing.npz: error:"),
    ],
)
def test_usage_and_data_errors(tmp_path, capsys, args, status, message) -> None:
    src = tmp_path / "m.cnn"
    src.write_text("input 8x8x1\nflatten\ndense 10 softmax\n")
    argv = ["train", str(src), "-o", str(tmp_path / "o.npz")]
    argv += [] if "-f" in args else ["-f", "pytorch"]
    argv += [] if "--data" in args else ["--data", "digits"]
    try:
        got = main(argv + args)
    except SystemExit as exc:  # argparse's own usage errors
        got = exc.code
    assert got == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_not_a_classifier_points_at_the_head(tmp_path, capsys) -> None:
    src = tmp_path / "m.cnn"
    src.write_text(BAD_HEAD)
    assert main(["train", str(src), "-f", "pytorch", "--data", "digits"]) == 1
    err = capsys.readouterr().err
    assert f"{src}:3:1: error: not a classifier" in err and " 3 | dense 10" in err


def test_labels_outside_the_heads_classes(tmp_path, capsys) -> None:
    src = tmp_path / "m.cnn"
    src.write_text("input 8x8x1\nflatten\ndense 5 softmax\n")
    assert main(["train", str(src), "-f", "pytorch", "--data", "digits"]) == 1
    err = capsys.readouterr().err
    assert (
        "training label 9 is outside the model's 5 classes (0-4)" in err and "Traceback" not in err
    )


@pytest.mark.parametrize("missing", ["torch", "sklearn"])
def test_missing_package(tmp_path, capsys, monkeypatch, missing) -> None:
    import importlib
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == missing else find_spec(n, *a)
    )
    if missing == "sklearn":
        real = importlib.import_module

        def no_sklearn(name, *a):
            if name.startswith("sklearn"):
                raise ImportError(name)
            return real(name, *a)

        monkeypatch.setattr(importlib, "import_module", no_sklearn)
    src = tmp_path / "m.cnn"
    src.write_text("input 8x8x1\nflatten\ndense 10 softmax\n")
    assert main(["train", str(src), "-f", "pytorch", "--data", "digits"]) == 1
    err = capsys.readouterr().err
    want = "pip install 'cnndsl[torch]'" if missing == "torch" else "pip install 'cnndsl[train]'"
    assert want in err and "Traceback" not in err


def test_head_is_checked_before_any_framework(tmp_path) -> None:
    """A non-classifier fails fast, without importing torch (exit 1, the model's error)."""
    src = tmp_path / "m.cnn"
    src.write_text(BAD_HEAD)
    code = (
        "import sys; from cnndsl.cli import main; "
        f"s = main(['train', {str(src)!r}, '-f', 'pytorch', '--data', 'digits']); "
        "print(s, 'torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.split() == ["1", "False"]


def test_classifier_head_of_lenet() -> None:
    head = classifier_head(cnndsl.load(LENET))
    assert head.classes == 10 and head.softmax_node == "dense_3"
