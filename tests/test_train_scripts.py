"""Logits in the generated PyTorch module, and standalone training scripts
(``cnndsl compile --target pytorch|keras --train``).

The scripts are golden-tested like the other generated code (``pytest --update-golden``) and
run for one short epoch on the digits in a fresh interpreter that cannot import cnndsl:
``python -I`` from a temporary directory, and under ``torch.distributed.run`` with two
processes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnndsl
from cnndsl.backends import emit
from cnndsl.backends.scripts import emit_train
from cnndsl.cli import main
from cnndsl.frameworks import torch_module
from cnndsl.weights import init_weights
from conftest import EXAMPLES

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("example", ["lenet5", "kim_cnn"])
def test_logits_is_log_of_forward_up_to_a_row_constant(example: str) -> None:
    model = cnndsl.load(EXAMPLES / f"{example}.cnn")
    assert "def logits(self, x: torch.Tensor)" in emit(model, "pytorch")
    net = torch_module(model, init_weights(model, seed=3)).double()
    x = torch.from_numpy(np.random.default_rng(0).random((5, *model.input_shape)))
    x = x.movedim(-1, 1)
    with torch.no_grad():
        logits, probs = net.logits(x), net(x)
    diff = (logits - torch.log(probs)).numpy()
    # log softmax(z) = z - logsumexp(z): the difference is one constant per row
    assert np.allclose(diff, diff[:, :1], atol=1e-9)
    assert not np.allclose(logits.numpy(), torch.log(probs).numpy())  # not a softmax itself
    assert np.allclose(probs.sum(1).numpy(), 1)


def test_a_model_without_a_softmax_head_has_no_logits_method() -> None:
    for example in ("unet_small", "resnet18"):
        assert "def logits" not in emit(cnndsl.load(EXAMPLES / f"{example}.cnn"), "pytorch")


def test_a_classifier_cannot_name_a_layer_logits() -> None:
    src = "input 4x4x1\nflatten\ndense 3 softmax name=logits\n"
    with pytest.raises(cnndsl.CnnDslError, match="logits"):
        emit(cnndsl.parse(src, "t.cnn"), "pytorch")
    emit(cnndsl.parse(src.replace(" softmax", ""), "t.cnn"), "pytorch")  # no head, no method


# ------------------------------------------------------------------ training scripts

SCRIPTS = Path(__file__).parent / "golden" / "scripts"
TARGETS = ("pytorch", "keras")
#: runs a script with cnndsl made unimportable (it is installed in the test environment)
BLOCKER = """import runpy, sys
sys.modules["cnndsl"] = None
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


def script(target: str) -> str:
    return emit_train(cnndsl.load(EXAMPLES / "lenet5.cnn"), target, "train_lenet5.py")


@pytest.mark.parametrize("target", TARGETS)
def test_script_golden(target: str, request) -> None:
    path = SCRIPTS / f"train_lenet5.{target}.py"
    code = script(target)
    if request.config.getoption("--update-golden"):
        SCRIPTS.mkdir(exist_ok=True)
        path.write_text(code, encoding="utf-8")
    assert code == path.read_text(encoding="utf-8"), (
        f"{path} differs: see git diff after pytest --update-golden"
    )
    assert not re.search(r"^\s*(import|from) cnndsl", code, re.M)


def test_scripts_are_ruff_clean() -> None:
    files = [str(p) for p in sorted(SCRIPTS.glob("*.py"))]
    assert len(files) == len(TARGETS)
    ruff = [sys.executable, "-m", "ruff"]
    fmt = subprocess.run([*ruff, "format", "--isolated", "--check", *files], capture_output=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    rules = ["--select", "E4,E7,E9,F,I,B,UP", "--target-version", "py310"]
    lint = subprocess.run([*ruff, "check", "--isolated", *rules, *files], capture_output=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def run_script(tmp_path: Path, target: str, *command: str) -> tuple[str, float]:
    """Run the golden script in ``tmp_path`` with cnndsl unimportable; (output, the
    final test accuracy)."""
    shutil.copy(SCRIPTS / f"train_lenet5.{target}.py", tmp_path / "train_lenet5.py")
    (tmp_path / "blocker.py").write_text(BLOCKER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    args = ["blocker.py", "train_lenet5.py", "--data", "digits", "--epochs", "4"]
    done = subprocess.run(
        [sys.executable, "-I", *command, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.findall(r"^test accuracy: ([0-9.]+)$", done.stdout, re.M)
    assert len(found) == 1, done.stdout  # printed once: by rank 0 only
    assert re.findall(r"^epoch \d/4 ", done.stdout, re.M) == [f"epoch {e}/4 " for e in range(1, 5)]
    return done.stdout, float(found[0])


def test_pytorch_script_trains_alone_and_under_torchrun(tmp_path) -> None:
    """LeNet-5's sigmoids sit on a plateau for about two epochs (docs/training.md), so
    four short epochs: 10 classes, chance is 0.1."""
    pytest.importorskip("sklearn")
    (tmp_path / "alone").mkdir()
    (tmp_path / "ddp").mkdir()
    out, alone = run_script(tmp_path / "alone", "pytorch")
    assert "1438 training and 359 test samples; 1 process on cpu" in out  # as cnndsl train
    assert alone > 0.5
    assert torch.load(tmp_path / "alone" / "lenet5_trained.pt")["dense_3.weight"].shape == (10, 84)
    ddp = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    out, two = run_script(tmp_path / "ddp", "pytorch", *ddp)
    assert "; 2 processes on cpu" in out
    # the same global batches, gradients averaged: the same steps up to float sums
    assert two == pytest.approx(alone, abs=0.02)


def test_keras_script_trains(tmp_path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("keras")
    _, acc = run_script(tmp_path, "keras")
    assert acc > 0.3  # chance is 0.1
    assert (tmp_path / "lenet5_trained.weights.h5").is_file()


@pytest.mark.parametrize("head", ["dense 5 softmax", "dense 5\nsoftmax", "kim_cnn"])
def test_keras_logits_model_is_the_model_without_its_softmax(head: str, tmp_path) -> None:
    """The script's logits_model, for a fused softmax and for a softmax layer of its own in
    a keras.Sequential, and for a functional model (kim_cnn's branches): softmax of its
    output is the model's output."""
    keras = pytest.importorskip("keras")
    src = f"input 6x6x1\nconv 3 3x3 relu\nflatten\n{head}\n"
    m = cnndsl.load(EXAMPLES / "kim_cnn.cnn") if head == "kim_cnn" else cnndsl.parse(src, "t.cnn")
    path = tmp_path / "train_t.py"
    path.write_text(emit_train(m, "keras"), encoding="utf-8")
    module = load(path)
    model = module.build_model()
    logits = module.logits_model(model)
    x = np.random.default_rng(0).random((4, *m.input_shape)).astype(np.float32)
    z = np.asarray(logits(x))
    assert not np.allclose(z.sum(1), 1)
    p = np.exp(z - z.max(1, keepdims=True))
    assert np.allclose(p / p.sum(1, keepdims=True), np.asarray(model(x)), atol=1e-6)
    assert keras.losses.SparseCategoricalCrossentropy(from_logits=True) is not None


def test_script_loads_the_digits_as_cnndsl_train_does() -> None:
    pytest.importorskip("sklearn")
    from cnndsl.training.data import digits

    model = cnndsl.load(EXAMPLES / "lenet5.cnn")
    theirs = load(SCRIPTS / "train_lenet5.pytorch.py").load_data("digits")
    ours = digits(model)
    assert len(theirs[0]) == 1438 and len(theirs[2]) == 359
    for a, b in zip(theirs, (ours.x_train, ours.y_train, ours.x_test, ours.y_test), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_script_refuses_data_that_does_not_fit(tmp_path) -> None:
    module = load(SCRIPTS / "train_lenet5.pytorch.py")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((3, 28, 28, 3), np.float32), y=np.zeros(3, np.int64))
    with pytest.raises(SystemExit, match=r"inputs \(28, 28, 3\), not \(28, 28, 1\)"):
        module.load_data(str(bad))
    np.savez(bad, x=np.zeros((3, 28, 28, 1), np.float32), y=np.array([0, 10, 1]))
    with pytest.raises(SystemExit, match=r"label in 0\.\.9"):
        module.load_data(str(bad))


def test_compile_train_writes_a_script_and_refuses_what_it_cannot(tmp_path, capsys) -> None:
    out = tmp_path / "train_lenet5.py"
    lenet = str(EXAMPLES / "lenet5.cnn")
    assert main(["compile", lenet, "--target", "pytorch", "--train", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == (SCRIPTS / "train_lenet5.pytorch.py").read_text(
        encoding="utf-8"
    )
    unet = str(EXAMPLES / "unet_small.cnn")
    assert main(["compile", unet, "--target", "keras", "--train"]) == 1
    assert "not a classifier" in capsys.readouterr().err
    assert main(["compile", lenet, "--target", "onnx", "--train", "-o", str(out)]) == 2


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
