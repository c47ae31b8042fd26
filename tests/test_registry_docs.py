"""The registry is complete and documented; the docs' examples run."""

from __future__ import annotations

import re
from pathlib import Path

import cnndsl
from cnndsl import docgen
from cnndsl.layers import REGISTRY, kinds
from conftest import ROOT

LANGUAGE = (ROOT / "docs" / "language.md").read_text()
INPUT_FOR = {1: "input 64", 2: "input 32x16", 3: "input 16x16x8"}


def test_generated_reference_is_current() -> None:
    assert docgen.splice(LANGUAGE) == LANGUAGE, "run: python -m cnndsl.docgen --write"


def test_every_keyword_and_option_is_documented() -> None:
    for kw, entry in REGISTRY.items():
        assert f"`{kw}`" in LANGUAGE, kw
        for opt in entry.cls.options():
            assert f"`{opt}`" in LANGUAGE, (kw, opt)
    assert "`name=NAME`" in LANGUAGE


def test_every_kind_has_a_working_example() -> None:
    for cls in kinds():
        if cls.KIND == "input":
            cnndsl.parse(cls.EXAMPLE)
            continue
        ok = []
        prelude = ""
        if cls.ARITY < 0:  # a merge names the tensor it merges with
            prelude = f"relu name={cls.EXAMPLE.split()[1]}\nrelu\n"
        for src in INPUT_FOR.values():
            try:
                cnndsl.parse(f"{src}\n{prelude}{cls.EXAMPLE}")
                ok.append(src)
            except cnndsl.CnnDslError:
                pass
        assert ok, cls.EXAMPLE


def test_api_doc_example_runs(capsys) -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), {})
    assert "bad.cnn:2:8: error: kernel 7x7 does not fit" in capsys.readouterr().out


def test_package_ships_grammar_and_py_typed() -> None:
    pkg = Path(cnndsl.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "grammars" / "cnndsl.lark").exists()


def test_package_is_ruff_and_mypy_clean() -> None:
    """The style the project promises, checked by the test command itself."""
    import subprocess
    import sys

    for cmd in (
        ["ruff", "check", "cnndsl", "tests", "bench", "examples"],
        ["ruff", "format", "--check", "cnndsl", "tests", "bench", "examples"],
        ["mypy"],
    ):
        r = subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
