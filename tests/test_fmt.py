"""`cnndsl fmt`: canonical, idempotent, and the model it formats stays the same model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.cli import main
from cnndsl.fmt import format_source
from cnndsl.fmt.comments import find_comments
from fmt_corpus import error_case_files, example_files, inline_models, without_spans
from strategies import models


def same_model(text: str, formatted: str) -> None:
    before = without_spans(cnndsl.parse(text, "m.cnn").to_dict())
    after = without_spans(cnndsl.parse(formatted, "m.cnn").to_dict())
    assert after == before


def comments_of(text: str) -> list[str]:
    return [c.text for c in find_comments(text.split("\n"))]


def assert_formats(text: str, checks: bool = True) -> str:
    out = format_source(text)
    assert format_source(out, verify=False) == out, "not idempotent"
    assert comments_of(out) == comments_of(text.replace("\r", "\n").rstrip())
    if checks:
        same_model(text, out)
    return out


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_every_example(path: Path) -> None:
    assert_formats(path.read_text("utf-8"))


def test_every_model_of_the_test_suite() -> None:
    texts = inline_models()
    assert len(texts) > 50  # the collector finds them (it fails if the suite changes shape)
    for text in texts:
        assert_formats(text)


@pytest.mark.parametrize("path", error_case_files(), ids=lambda p: p.name)
def test_error_cases_format_to_the_same_statements(path: Path) -> None:
    """Models with errors of meaning format too (fmt checks its own output parses to the
    same statements); models with syntax errors are refused."""
    text = path.read_text("utf-8", errors="replace")
    try:
        assert_formats(text, checks=False)
    except cnndsl.CnnDslError as err:
        assert err.diagnostics


@st.composite
def laid_out(draw: st.DrawFn) -> str:
    """A random valid model, its statements laid out at random: some joined by ';', extra
    spaces and blank lines, comments at the end of lines and on lines of their own."""
    lines = draw(models(max_layers=4)).splitlines()
    rnd = random.Random(draw(st.integers(0, 2**32)))
    out: list[str] = []
    for line in lines:
        if out and "#" not in out[-1] and rnd.random() < 0.3:
            out[-1] += ";" + " " * rnd.randint(0, 2) + line
            continue
        if rnd.random() < 0.15:
            out.append("")
        if rnd.random() < 0.15:
            out.append(" " * rnd.randint(0, 4) + f"# note {len(out)}")
        out.append(" " * rnd.randint(0, 3) + line.replace(" ", " " * rnd.randint(1, 2)))
        if rnd.random() < 0.3:
            out[-1] += " " * rnd.randint(0, 3) + f"# after {len(out)}"
    return "\n".join(out) + "\n" * rnd.randint(0, 2)


@settings(max_examples=1000)
@given(laid_out())
def test_random_models_round_trip(text: str) -> None:
    assert_formats(text)


def test_layout_rules() -> None:
    src = (
        "# head\n"
        "input 8x8x1;conv   8 3x3 bias=false stride=1 relu name=c1  # trailing\n"
        "\n\n\n"
        "block b(f, k=3) { conv f k; relu }\n"
        "b k=3 f=4\n"
        "batchnorm eps=.00001\n"
        "residual { conv 4 3x3 same\n"
        "  # before the brace\n"
        "}\n"
    )
    assert format_source(src) == (
        "# head\n"
        "input 8x8x1\n"
        "conv 8 3x3 relu stride=1 bias=false name=c1  # trailing\n"
        "\n"
        "block b(f, k=3) {\n"
        "  conv f k\n"
        "  relu\n"
        "}\n"
        "b f=4 k=3\n"
        "batchnorm eps=1e-5\n"
        "residual {\n"
        "  conv 4 3x3 same\n"
        "  # before the brace\n"
        "}\n"
    )


def test_long_literals_break() -> None:
    row = ", ".join(["1"] * 60)
    out = format_source(f"input 60x1\nconv 1 60 bias=false weights=[{row}]\n")
    assert all(len(line) <= 100 for line in out.splitlines())
    assert out.splitlines()[1].endswith("weights=[") and out.splitlines()[-1] == "]"


def test_cli_check_diff_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = tmp_path / "m.cnn"
    messy.write_text("input 8x8x1; conv 4 3x3  # c\n")
    tidy = tmp_path / "t.cnn"
    tidy.write_text("input 8x8x1\nconv 4 3x3\n")
    assert main(["fmt", "--check", str(tidy)]) == 0
    assert main(["fmt", "--check", str(messy), str(tidy)]) == 1
    assert "would reformat" in capsys.readouterr().err
    assert main(["fmt", "--diff", str(messy)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- {messy}\n+++ {messy}\n") and "+conv 4 3x3  # c" in out
    assert messy.read_text() == "input 8x8x1; conv 4 3x3  # c\n"  # --diff writes nothing
    messy.chmod(0o640)
    assert main(["fmt", str(messy)]) == 0
    assert messy.read_text() == "input 8x8x1\nconv 4 3x3  # c\n"
    assert messy.stat().st_mode & 0o777 == 0o640
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 8x8x1\nconv 4 3x3 )\n")
    assert main(["fmt", str(bad)]) == 1
    assert "bad.cnn:2:12: error" in capsys.readouterr().err
