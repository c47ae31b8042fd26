"""explain, lints, summary --columns and help: the arithmetic against hand-worked numbers and
against the checker's own shapes and counts, the warnings' codes, docs and switches."""

from __future__ import annotations

import json
import os
import re
from fractions import Fraction
from pathlib import Path

import pytest

import cnndsl
from cnndsl.backends.table import TABLES
from cnndsl.cli import main
from cnndsl.explain import explain, fields
from cnndsl.layers import kinds
from cnndsl.lessons import LESSONS, lesson
from cnndsl.lints import LINTS
from cnndsl.reference import lints_page
from conftest import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.cnn"))


def _value(expr: str) -> int:
    """Evaluate a printed step: '·' is times, '−' minus; max(a, b) as in Python."""
    text = expr.replace("\N{MIDDLE DOT}", "*").replace("\N{MINUS SIGN}", "-")
    assert re.fullmatch(r"(?:[\d\s+*/(),-]|max|//)+", text), text
    return int(eval(text, {"__builtins__": {}, "max": max}))


def _arithmetic(expr: str) -> bool:
    """A step that is a sum to check, not words (``16 filters``, ``unchanged``)."""
    return not re.search(r"[a-z]", expr.replace("max(", ""))


def test_every_kind_has_a_lesson() -> None:
    assert TABLES["explain"] is LESSONS
    missing = [cls.__name__ for cls in kinds() if cls not in LESSONS]
    assert not missing, missing


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_lessons_agree_with_the_checker(path: Path) -> None:
    """Every number explain prints is the IR's, and every printed sum is true arithmetic."""
    model = cnndsl.load(path)
    for node in model.nodes:
        ls = lesson(node)
        assert ls.out == node.shape, node.name
        assert (ls.params.value if ls.params else 0) == node.params, node.name
        assert (ls.macs.value if ls.macs else 0) == node.macs, node.name
        for step in [*ls.shape, ls.params, ls.macs]:
            if step is not None and _arithmetic(step.expr):
                assert _value(step.expr) == step.value, (node.name, step)
    text = explain(model, path.read_text())
    assert f"total     {model.total_params:,} params" in text


def test_lenet_by_hand() -> None:
    """d2l's LeNet, worked on paper: conv 6 5x5 same on 28x28x1 keeps 28 with 2 pixels of
    padding each side; 5*5*1*6 + 6 = 156 weights; receptive fields 5, 6, 14, 16."""
    src = (ROOT / "examples" / "lenet5.cnn").read_text()
    text = explain(cnndsl.parse(src, "lenet5.cnn"), src)
    assert "(28 + 2 + 2 \N{MINUS SIGN} 5) // 1 + 1 = 28" in text
    assert "5\N{MIDDLE DOT}5\N{MIDDLE DOT}1\N{MIDDLE DOT}6 + 6 = 156" in text
    assert "10·10·16 · 5·5·6 = 240,000" in text
    assert "400\N{MIDDLE DOT}120 + 120 = 48,120" in text
    rf = fields(cnndsl.parse(src))
    got = [rf[n] for n in ("conv_1", "pool_1", "conv_2", "pool_2")]
    assert [f[0] if f else None for f in got] == [
        (Fraction(5), Fraction(1)),
        (Fraction(6), Fraction(2)),
        (Fraction(14), Fraction(2)),
        (Fraction(16), Fraction(4)),
    ]
    assert rf["flatten_1"] is None


def test_explain_by_hand_stride_dilation_and_the_issue_example() -> None:
    m = cnndsl.parse("input 28x28x1\nconv 32 3x3 same\nconv 8 3x3 dilation=2 stride=1\npool max 2")
    text = explain(m)
    assert "(28 + 1 + 1 \N{MINUS SIGN} 3) // 1 + 1 = 28" in text
    assert "3\N{MIDDLE DOT}3\N{MIDDLE DOT}1\N{MIDDLE DOT}32 + 32 = 320" in text
    # dilation 2: the window spans 2*(3-1)+1 = 5, so 28 -> 24; field 3 + 4 = 7
    assert (
        "(28 + 0 + 0 \N{MINUS SIGN} (2\N{MIDDLE DOT}(3 \N{MINUS SIGN} 1) + 1)) // 1 + 1 = 24"
        in text
    )
    rf = fields(m)
    assert rf["conv_2"] == ((7, 1), (7, 1))
    assert rf["pool_1"] == ((8, 2), (8, 2))


def test_deconv_and_upsample_by_hand() -> None:
    """TensorFlow's transposed conv, 'valid': (n - 1)·s + k = 6·2 + 3 = 15 = 7·2 + max(3 - 2, 0);
    weights 3·3·8·4 + 8 = 296; each output reads ceil(3 / 2) = 2 inputs, half a pixel apart."""
    m = cnndsl.parse("input 7x7x4\ndeconv 8 3x3 stride=2\nupsample 2")
    ls = lesson(m.node("deconv_1"))
    assert ls.out == (15, 15, 8)
    assert str(ls.shape[0]) == "7·2 + max(3 − 2, 0) = 15"
    assert _value(ls.shape[0].expr) == 15
    assert ls.params is not None and ls.params.value == 296
    rf = fields(m)
    assert rf["deconv_1"] == ((2, Fraction(1, 2)), (2, Fraction(1, 2)))
    assert rf["upsample_1"] == ((2, Fraction(1, 4)), (2, Fraction(1, 4)))


def test_explain_cli_layer(capsys: pytest.CaptureFixture[str]) -> None:
    lenet = str(ROOT / "examples" / "lenet5.cnn")
    assert main(["explain", lenet, "--layer", "conv_2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("conv_2  (conv, line 6)  conv 16 5x5 sigmoid")
    assert "pool_1" not in out
    assert main(["explain", lenet, "--layer", "nope"]) == 1
    assert "no layer named 'nope'" in capsys.readouterr().err


def test_readme_shows_an_explain_excerpt() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "cnndsl explain" in readme
    assert "5\N{MIDDLE DOT}5\N{MIDDLE DOT}6\N{MIDDLE DOT}16 + 16 = 2,416" in readme


# ---------------------------------------------------------------- lints


def test_lint_api_codes_and_silencing() -> None:
    src = "input 3x32x32\nconv 8 3x3 relu same\nrelu\n"
    m = cnndsl.parse(src)
    assert [d.code for d in cnndsl.lint(m)] == ["W101", "W203"]
    assert all(d.severity == "warning" for d in cnndsl.lint(m))
    assert [d.code for d in cnndsl.lint(m, ignore=["w101"])] == ["W203"]
    wrong_line = "input 3x32x32\nconv 8 3x3 relu same  # cnndsl: ignore[W203]\nrelu\n"
    assert [d.code for d in cnndsl.lint(m, wrong_line)] == ["W101", "W203"]
    quiet = "input 3x32x32  # cnndsl: ignore\nconv 8 3x3 relu same\nrelu # cnndsl: ignore[W203]\n"
    assert cnndsl.lint(cnndsl.parse(quiet), quiet) == []


def test_lint_makes_each_lesson_once_and_warns_as_without_the_memo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rules ask for a node's lesson several times; a lint run makes each once (ResNet-50:
    175 lessons, not 798) and warns exactly as the rules do when every call makes it anew."""
    import cnndsl.lints as lints

    made: list[int] = []

    def counting(node: cnndsl.Node) -> object:
        made.append(id(node))
        return lesson(node)

    monkeypatch.setattr(lints, "lesson", counting)
    for path in EXAMPLES:
        m = cnndsl.load(path)
        made.clear()
        memoized = cnndsl.lint(m)
        assert len(made) == len(set(made)) <= len(m.nodes), path
        assert lints._LESSONS.get() is None  # the memo is gone with the run
        anew = [d for entry in LINTS.values() for d in entry.rule(m)]  # outside a run
        assert len(made) > len(m.nodes), path  # outside a run: each call anew
        assert sorted(memoized, key=repr) == sorted(
            {(d.code, d.span): d for d in reversed(anew)}.values(), key=repr
        ), path


def test_no_false_alarms_on_tidy_models() -> None:
    for src in (
        "input 28x28x1; conv 8 3x3 relu same; pool max 2; flatten; dense 10 softmax",
        "input 32x32x3; conv 16 3x3 same bias=false; batchnorm; relu; globalpool avg; dense 10",
        "input 100x300; conv 64 3 relu; globalpool max; dropout 0.5; dense 2 softmax",
        "input 56x56x64; conv 128 1x1 stride=2 bias=false",  # a stride past the window
    ):
        assert cnndsl.lint(cnndsl.parse(src)) == [], src


def test_window_that_drops_rows_counts_them_by_hand() -> None:
    # 9 rows, window 3, stride 3: 3 windows cover all 9; 10 rows leave 1; 11 leave 2
    for n, lost in ((9, 0), (10, 1), (11, 2)):
        m = cnndsl.parse(f"input {n}x9x1; pool max 3")
        ws = cnndsl.lint(m)
        assert [w.code for w in ws] == (["W401"] if lost else [])
        if lost:
            plural = "s" if lost > 1 else ""
            assert f"never reads the last {lost} row{plural} of its" in ws[0].message


def test_strict_json_and_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "m.cnn"
    f.write_text("input 8x8x1\nconv 4 3x3 relu same\nrelu\n")
    assert main(["check", str(f)]) == 0
    out, err = capsys.readouterr()
    assert out.endswith("1 warning\n")
    assert f"{f}:3:1: warning[W203]: relu is applied twice" in err
    assert main(["check", "--strict", str(f)]) == 1
    assert f"{f}:3:1: error[W203]: " in capsys.readouterr().err
    assert main(["check", "--ignore", "W203", "--strict", str(f)]) == 0
    capsys.readouterr()
    assert main(["check", "--json", str(f)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (w,) = doc["files"][0]["warnings"]
    assert (w["severity"], w["code"], w["span"]["line"]) == ("warning", "W203", 3)
    assert main(["check", "--ignore", "W999", str(f)]) == 2


def test_lints_page_is_current_and_complete() -> None:
    page = (ROOT / "docs" / "lints.md").read_text()
    assert page == lints_page(), "run: python -m cnndsl.reference --write"
    for code in LINTS:
        assert re.fullmatch(r"W\d{3}", code)
        assert f"`{code}`" in page
    cases = " ".join(p.read_text() for p in (ROOT / "tests" / "errors").glob("*.expected"))
    assert not [c for c in LINTS if f"warning[{c}]" not in cases], "each lint needs a case"


# ---------------------------------------------------------------- summary, help


def test_summary_of_several_files_with_columns(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(ROOT / "examples" / f) for f in ("lenet5.cnn", "oneliner.cnn")]
    cols = "kernel,stride,padding,activation"
    assert main(["summary", *files, "--columns", cols]) == 0
    out = capsys.readouterr().out
    assert out.count("Total params:") == 2
    assert 'Model "lenet5"' in out and 'Model "oneliner"' in out
    header = next(line for line in out.splitlines() if line.startswith("Layer"))
    assert header.split() == [
        "Layer", "Kind", "Output", "shape", "Kernel", "Stride", "Padding", "Activation",
        "Params", "MACs", "Line",
    ]  # fmt: skip
    conv = next(line for line in out.splitlines() if line.startswith("conv_1"))
    assert conv.split() == ["conv_1", "conv", "28x28x6", "5x5", "1x1", "2", "sigmoid", "156",
                            "117,600", "4"]  # fmt: skip
    assert main(["summary", files[0]]) == 0
    assert "Kernel" not in capsys.readouterr().out


def test_help_topics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help", "conv"]) == 0
    assert "`filters`" in capsys.readouterr().out
    assert main(["help", "W401"]) == 0
    assert "W401" in capsys.readouterr().out
    assert main(["help", "nothing"]) == 2


# ---------------------------------------------------------------- small things


def test_torch_alias_and_extra_range(capsys: pytest.CaptureFixture[str]) -> None:
    lenet = str(ROOT / "examples" / "lenet5.cnn")
    assert main(["compile", lenet, "--target", "torch"]) == 0
    assert "nn.Module" in capsys.readouterr().out
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^torch = \["torch>=2\.\d+"\]', pyproject, re.M)
    assert re.search(r"^torch==\d", (ROOT / "constraints.txt").read_text(), re.M)


def test_keras_is_imported_quiet_unless_the_user_says_otherwise(monkeypatch) -> None:
    """TensorFlow's C++ log level is set before it is imported, and a user's own wins."""
    import importlib

    from cnndsl import frameworks

    seen = {}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(
        importlib, "import_module", lambda name: seen.setdefault(name, dict(os.environ))
    )
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    frameworks.framework("keras")
    assert seen["keras"]["TF_CPP_MIN_LOG_LEVEL"] in ("2", "3")
    seen.clear()
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    frameworks.framework("keras")
    assert seen["keras"]["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_run_names_fixed_weights_and_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("numpy")
    np = pytest.importorskip("numpy")
    x = tmp_path / "x.npy"
    np.save(x, np.ones((1, 5, 5, 1), dtype=np.float32))
    model = tmp_path / "fixed.cnn"
    model.write_text("input 5x5x1\nconv 1 3x3 bias=false weights=[[0,0,0],[0,1,0],[0,0,0]]\n")
    assert main(["run", str(model), "--input", str(x)]) == 0
    out = capsys.readouterr().out
    assert "the weights written in the model" in out and "seed" not in out
    model.write_text("input 5x5x1\nconv 1 3x3 weights=[[0,0,0],[0,1,0],[0,0,0]]\n")  # a bias
    assert main(["run", str(model), "--input", str(x)]) == 0
    assert "seeded weights (seed 0)" in capsys.readouterr().out


def test_a_field_stays_exact_to_a_trillionth_then_is_approximate() -> None:
    """Each upsample 10 divides the jump by 10 (a crop keeps it): 10 ** -12 is still a
    fraction, 10 ** -13 a float marked ≈; the receptive field stays 1 pixel."""
    m = cnndsl.parse("input 4x4x1\nrepeat 13 { upsample 10; crop 18 }\n")
    lines = [line for line in explain(m).splitlines() if line.startswith("  field")]
    assert lines[-3] == "  field     1x1 pixels, jump 1/1000000000000x1/1000000000000"
    assert lines[-1] == "  field     1x1 pixels, jump \u22481e-13x\u22481e-13"


def test_fields_that_shrink_forever_stay_small() -> None:
    """upsample 3 then pool 2 multiplies the jump by 2/3: exact, 2,000 rounds made numbers
    of 1,000 digits (10,000: 39 s, 2.2 GB, then Python's limit of 4,300 digits)."""
    m = cnndsl.parse("input 4x4x1\nrepeat 2000 { upsample 3; pool max 2; crop 1 }\n")
    text = explain(m, layer=m.nodes[-1].name)
    assert max(len(word) for word in re.split(r"[\s(),;x·=+−]+", text)) < 20, text
    assert "\u2248" in text


def test_a_jump_past_the_floats_stays_a_number() -> None:
    """1,030 strides of 2: a jump of 2**1030 overflowed a float to inf, then 0 * inf = nan."""
    m = cnndsl.parse("input 1x1x1\nrepeat 1030 { pool max 2 same }\nconv 1 1x1\n")
    text = explain(m, layer=m.nodes[-1].name)
    assert "nan" not in text and "inf" not in text and "\u22481e+300" in text, text
