"""Generated Keras and PyTorch code: golden files, safety, and the frameworks' own counts.

Golden files in tests/golden/ are compared byte for byte; refresh them only with
``pytest --update-golden`` and read the diff. Each is also imported and built in its
framework, whose own parameter counts and output shapes must equal the IR's.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, note, settings

import cnndsl
from cnndsl.backends import SOURCE_TARGETS as TARGETS
from cnndsl.backends import emit
from cnndsl.backends.pytorch import MODULE_ATTRIBUTES
from cnndsl.cli import main
from cnndsl.frameworks import module_class
from conftest import EXAMPLES, ROOT
from strategies import models

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
GOLDEN = Path(__file__).parent / "golden"
EXAMPLE_FILES = sorted(p.stem for p in EXAMPLES.glob("*.cnn"))
CASES = [(e, t) for e in EXAMPLE_FILES for t in TARGETS]


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[-1], *shape[:-1]) if len(shape) > 1 else shape


def generated(example: str, target: str) -> str:
    m = cnndsl.load(EXAMPLES / f"{example}.cnn")
    return emit(m, target)


@pytest.mark.parametrize(("example", "target"), CASES)
def test_golden(example: str, target: str, request) -> None:
    path = GOLDEN / f"{example}.{target}.py"
    code = generated(example, target)
    if request.config.getoption("--update-golden"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(code, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run pytest --update-golden"
    assert code == path.read_text(encoding="utf-8"), (
        f"{path} differs: see git diff after pytest --update-golden"
    )


def test_every_example_has_both_goldens_and_nothing_stale() -> None:
    want = {f"{e}.{t}.py" for e, t in CASES}
    assert {p.name for p in GOLDEN.glob("*.py")} == want


def test_goldens_are_ruff_clean() -> None:
    files = [str(p) for p in sorted(GOLDEN.glob("*.py"))]
    ruff = [sys.executable, "-m", "ruff"]
    fmt = subprocess.run(
        [*ruff, "format", "--isolated", "--check", *files], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run(
        [
            *ruff,
            "check",
            "--isolated",
            "--select",
            "E4,E7,E9,F,I,B,UP",
            "--target-version",
            "py310",
            *files,
        ],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_output_is_byte_identical_across_processes(tmp_path) -> None:
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "cnndsl",
                "compile",
                "examples/padding.cnn",
                "--target",
                "keras",
            ],
            cwd=ROOT,
            capture_output=True,
            env=env,
        )
        assert r.returncode == 0
        outs.append(r.stdout)
    assert outs[0] == outs[1] == generated("padding", "keras").encode()


def test_compile_imports_no_framework() -> None:
    code = (
        "import sys; from cnndsl.cli import main\n"
        "for t in ('keras', 'pytorch'):\n"
        "    assert main(['compile', 'examples/vgg16.cnn', '--target', t]) == 0\n"
        "heavy = {'torch', 'tensorflow', 'keras', 'jax'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_compile_writes_atomically(capsys, tmp_path) -> None:
    out = tmp_path / "m.py"
    assert main(["compile", str(EXAMPLES / "lenet5.cnn"), "-t", "keras", "-o", str(out)]) == 0
    assert out.read_text() == generated("lenet5", "keras")
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary left behind
    assert main(["compile", "--list-targets"]) == 0
    assert "pytorch" in capsys.readouterr().out
    assert main(["compile", str(EXAMPLES / "lenet5.cnn")]) == 2  # no target: usage


HOSTILE = {
    'model "x"; import os': "unexpected character '\"'",
    "model x\nimport os": "unknown layer 'import'",
    "model __import__": "'__import__' cannot be a layer name",
    "model class": "'class' cannot be a layer name",
    "model lenеt": "unexpected character 'е'",  # Cyrillic e, a look-alike
    "model x\\\nos": "unexpected character '\\'",
    "model x)": "unexpected ')'",
    "input 8x8x1\nconv 4 3 name=None": "'None' cannot be a layer name",
    "input 8x8x1\nconv 4 3 name=_private": "'_private' cannot be a layer name",
    "input 8x8x1\nconv 4 3 name='a'": "unexpected character",
}


@pytest.mark.parametrize("src", sorted(HOSTILE))
def test_hostile_names_are_refused(src: str, capsys, tmp_path) -> None:
    f = tmp_path / "m.cnn"
    f.write_text(src if "input" in src else src + "\ninput 8x8x1\n", encoding="utf-8")
    for target in TARGETS:
        assert main(["compile", str(f), "-t", target]) == 1
        err = capsys.readouterr().err
        assert HOSTILE[src] in err and "Traceback" not in err


def test_hostile_file_name_stays_in_its_comment(tmp_path) -> None:
    evil = tmp_path / 'm"\nimport os\nos.system("echo pwned")\n.cnn'
    evil.write_text("input 8x8x1\nconv 2 3\n")
    m = cnndsl.load(evil)
    for target in TARGETS:
        code = emit(m, target)
        compile(code, "x.py", "exec")
        assert "\nimport os" not in code and "\nos.system" not in code
    assert m.name == "model_"[:0] + m.name  # a safe identifier was derived
    assert m.name.isidentifier()


def test_names_that_clash_with_module_attributes_are_refused(capsys, tmp_path) -> None:
    f = tmp_path / "m.cnn"
    for bad in ("forward", "training", "to", "F", "nn"):
        f.write_text(f"input 8x8x1\nconv 2 3 name={bad}\n")
        assert main(["compile", str(f), "-t", "pytorch"]) == 1
        assert f"the layer name '{bad}' is taken" in capsys.readouterr().err
        assert main(["compile", str(f), "-t", "keras"]) == 0
        capsys.readouterr()


def test_module_attribute_list_covers_nn_module() -> None:
    torch = pytest.importorskip("torch")
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    assert public <= MODULE_ATTRIBUTES, public - MODULE_ATTRIBUTES


# ---------------------------------------------------------------- the frameworks as oracles


def keras_counts(model) -> tuple[int, int]:
    size = lambda ws: sum(int(np.prod(w.shape)) for w in ws)  # noqa: E731
    return size(model.trainable_weights), size(model.non_trainable_weights)


def torch_counts(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    return trainable, stats


def check_keras(code: str, m: cnndsl.Model, tmp_path: Path) -> None:
    pytest.importorskip("keras")
    path = tmp_path / "gen_keras.py"
    path.write_text(code)
    built = load_module(path, f"gen_keras_{abs(hash(code))}").build_model()
    assert built.count_params() == m.total_params
    assert keras_counts(built) == (m.trainable_params, m.non_trainable_params)
    assert tuple(built.output_shape[1:]) == m.output_shape


def check_torch(code: str, m: cnndsl.Model, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "gen_torch.py"
    path.write_text(code)
    net = module_class(load_module(path, f"gen_torch_{abs(hash(code))}"))().eval()
    assert torch_counts(net) == (m.trainable_params, m.non_trainable_params)
    with torch.no_grad():
        y = net(torch.zeros(2, *nchw(m.input_shape)))
    assert tuple(y.shape) == (2, *nchw(m.output_shape))


@pytest.mark.parametrize(("example", "target"), CASES)
def test_golden_runs_with_the_frameworks_counts(example: str, target: str, tmp_path) -> None:
    m = cnndsl.load(EXAMPLES / f"{example}.cnn")
    code = (GOLDEN / f"{example}.{target}.py").read_text()
    (check_keras if target == "keras" else check_torch)(code, m, tmp_path)


def test_published_counts_through_generated_code(tmp_path) -> None:
    for example, total in (("lenet5", 61_706), ("vgg16", 138_357_544)):
        m = cnndsl.load(EXAMPLES / f"{example}.cnn")
        assert m.total_params == total
        check_keras(emit(m, "keras"), m, tmp_path)
        check_torch(emit(m, "pytorch"), m, tmp_path)


@settings(max_examples=60)
@given(src=models())
def test_random_models_pytorch_counts_and_shapes(src: str, tmp_path_factory) -> None:
    note(f"the model, as .cnn source:\n{src}")
    m = cnndsl.parse(src)
    check_torch(emit(m, "pytorch"), m, tmp_path_factory.mktemp("t"))


@settings(max_examples=25)
@given(src=models())
def test_random_models_keras_counts_and_shapes(src: str, tmp_path_factory) -> None:
    note(f"the model, as .cnn source:\n{src}")
    m = cnndsl.parse(src)
    check_keras(emit(m, "keras"), m, tmp_path_factory.mktemp("k"))


def test_crop_slices_in_pytorch_and_crops_in_keras(tmp_path) -> None:
    """A crop of 0 at an end keeps that end (``1:``, never ``1:-0``, which is empty)."""
    m = cnndsl.parse("input 6x5x2\ncrop (1, 0, 0, 2)\nconv 2 1\ncrop (0, 1)")
    torch_code, keras_code = emit(m, "pytorch"), emit(m, "keras")
    assert "x = x[:, :, 1:, :-2]" in torch_code
    assert "x = x[:, :, :, 1:-1]" in torch_code  # (0, 1) on an image: 0 on the height
    assert 'layers.Cropping2D(cropping=((1, 0), (0, 2)), name="crop_1")' in keras_code
    check_torch(torch_code, m, tmp_path)
    check_keras(keras_code, m, tmp_path)
    seq = cnndsl.parse("input 9x2\ncrop (0, 3)\ncrop 2")
    assert "x = x[:, :, :-3]" in emit(seq, "pytorch")
    assert "x = x[:, :, 2:-2]" in emit(seq, "pytorch")
    assert "layers.Cropping1D(cropping=(0, 3)" in emit(seq, "keras")
    for i, code in enumerate((torch_code, emit(seq, "pytorch"))):
        path = tmp_path / f"crop{i}.py"
        path.write_text(code)
        fmt = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--isolated", "--check", str(path)],
            capture_output=True,
            text=True,
        )
        assert fmt.returncode == 0, fmt.stdout + code


@pytest.mark.parametrize(
    ("src", "shared"),
    [("input 6x6x3", "shared_axes=[1, 2]"), ("input 8x3", "shared_axes=[1]"), ("input 5", None)],
)
def test_prelu_shares_its_slopes_over_the_spatial_axes(src: str, shared, tmp_path) -> None:
    m = cnndsl.parse(f"{src}\nprelu")
    keras_code, torch_code = emit(m, "keras"), emit(m, "pytorch")
    assert "alpha_initializer=keras.initializers.Constant(0.25)" in keras_code
    assert (shared in keras_code) if shared else ("shared_axes" not in keras_code)
    assert f"nn.PReLU({m.input_shape[-1]}, init=0.25)" in torch_code
    check_keras(keras_code, m, tmp_path)
    check_torch(torch_code, m, tmp_path)


@pytest.mark.parametrize("stem", ["class", "None", "__import__", "True", "def", "3d"])
def test_a_model_named_after_a_keyword_compiles(stem: str, tmp_path, capsys) -> None:
    """The model's name comes from the file name; a keyword is fine in a string and is
    capitalised (or suffixed) for the PyTorch class."""
    src = tmp_path / f"{stem}.cnn"
    src.write_text("input 8x8x1\nconv 2 3\n")
    for target in TARGETS:
        out = tmp_path / f"{target}.py"
        assert main(["compile", str(src), "-t", target, "-o", str(out)]) == 0
        compile(out.read_text(), str(out), "exec")  # valid Python
    assert "Traceback" not in capsys.readouterr().err


def test_a_layer_cannot_take_the_input_name(tmp_path, capsys) -> None:
    """`name=input` gave two nodes called input: `input = self.input(input)` in generated
    code, an IndexError in run and summary."""
    src = tmp_path / "m.cnn"
    src.write_text("input 8x8x1\nconv 4 3x3 same name=input\n")
    for command in (
        ["check"],
        ["summary"],
        ["compile", "-t", "keras"],
        ["compile", "-t", "pytorch"],
    ):
        assert main([command[0], str(src), *command[1:]]) == 1
        err = capsys.readouterr().err
        assert "the name 'input' is already taken" in err and "Traceback" not in err
    # a layer may be called input when the input has another name
    src.write_text("input 8x8x1 name=image\nconv 4 3x3 same name=input\nrelu\nconcat input\n")
    for target in TARGETS:
        assert main(["compile", str(src), "-t", target]) == 0
        assert "input = " in capsys.readouterr().out


def long_name_model(n: int) -> str:
    """Every place a layer name reaches generated code, with names of ``n`` + 1 characters."""
    stem = "l" * n
    return (
        "input 16x16x1\n"
        f"conv 1 3x3 same bias=false name={stem}a weights=[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]\n"
        f"conv 2 3x3 same name={stem}b\n"
        f"pool max 2 same stride=1 name={stem}c\n"
        f"concat {stem}a\n"
        f"residual {{ conv 3 3x3 same name={stem}d; batchnorm name={stem}e }}\n"
        f"upsample 2 bilinear name={stem}f\n"
        f"flatten name={stem}g\n"
        f"dense 10 softmax name={stem}h\n"
    )


def test_fixed_weights_with_long_layer_names_are_ruff_clean(tmp_path) -> None:
    """Every generated line goes through the layout helper: ruff format finds nothing to do
    for layer names of 1 to 100 characters, in both targets."""
    files = []
    src = tmp_path / "edges.cnn"
    src.write_text(
        "input 16x16x1\nconv 1 3x3 same bias=false name=laplacian_kernel "
        "weights=[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]\n"
    )
    models = [cnndsl.load(src)] + [cnndsl.parse(long_name_model(n)) for n in range(0, 100, 3)]
    for i, m in enumerate(models):
        for target in TARGETS:
            path = tmp_path / f"m{i}_{target}.py"
            path.write_text(emit(m, target))
            files.append(str(path))
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", *files],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
