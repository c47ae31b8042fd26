"""The fast path of the parser (cnndsl.fastparse) builds exactly what Lark builds.

The oracle is Lark's LALR parser on the grammar file: whenever the fast path answers,
Lark must accept the text and build equal statements (spans included); whenever Lark
accepts a text within the limits, the fast path must answer too, or the speed is lost.
The inputs are every example, every error case, the tests' own models and the fuzz
generators of tests/test_fuzz.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import TOKENS, mutated_example, program

from cnndsl import fastparse
from cnndsl.lalr import parse_lark
from cnndsl.limits import SourceLimit, SourceLimits
from conftest import EXAMPLES, ROOT
from strategies import models

LITERAL = SourceLimits().literal
SAME = settings(max_examples=150, deadline=None, derandomize=True)


def agree(text: str, literal: int = LITERAL) -> list | None:
    """The property; returns the fast path's statements (None: it declined)."""
    fast = fastparse.parse(text, literal)
    try:
        slow, errors = parse_lark(text, literal)
    except SourceLimit:
        slow, errors = [None], ["limit"]
    if fast is not None:
        assert not errors, (text, errors)
        assert fast == slow, text
    else:
        assert errors, f"the fast path declined a valid text: {text!r}"
    return fast


SOURCES = sorted(EXAMPLES.glob("*.cnn")) + sorted((ROOT / "tests" / "errors").glob("*.cnn"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_files(path: Path) -> None:
    text = path.read_text().replace("\r\n", "\n")
    fast = agree(text)
    if path.parent == EXAMPLES:
        assert fast is not None


def test_terminals_are_the_grammar_s() -> None:
    """Each pattern of the fast lexer is the grammar's, character for character."""
    grammar = (ROOT / "cnndsl" / "grammars" / "cnndsl.lark").read_text()
    found = dict(re.findall(r"^(\w+)(?:\.\d+)?: /(.*)/$", grammar, re.M))
    found.update(
        (name, re.escape(lit)) for name, lit in re.findall(r'^(\w+): "(.)"$', grammar, re.M)
    )
    ours = dict(fastparse.TERMINALS)
    assert {k: ours[k] for k in found} == found
    assert set(ours) - set(found) == {"EQUAL", "COMMA"}  # the rules' anonymous "=" and ","


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n# only a comment\n",
        "input 8x8x3; conv 4 3 same stride=(1, 2) ; relu\n",
        "conv 1 1x1 weights=[\n  [1, 2],\n  [3, 4],\n]\nrelu",
        "block b(f, n=2) { conv f 3; repeat n { relu } } b 4",
        "residual { conv 4 3 } relu",
        "x = 1",
        "conv 8 3x3 =2",
        "conv (1; 2)",
        "conv 1e400 .5 +3 -0.0 " + "9" * 18,
        "conv " + "9" * 19,
        "conv " + "1" + "x1" * 20,
        "a " + "(" * 17 + ")" * 17,
        "a " + "{" * 70 + "}" * 70,
        "é",
    ],
)
def test_edges(text: str) -> None:
    agree(text)


def test_the_literal_budget_is_lark_s() -> None:
    for budget in range(6):
        agree("conv 1 1x1 weights=[[1, 2], [3, (a=1)]]", budget)


@SAME
@given(st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from([" ", "", "\n", "; "]))))
def test_token_soup(pairs: list[tuple[str, str]]) -> None:
    agree("".join(tok + sep for tok, sep in pairs))


@SAME
@given(mutated_example())
def test_mutated_examples(text: str) -> None:
    agree(text)


@settings(max_examples=40, deadline=None, derandomize=True)  # Lark's recovery is slow here
@given(program())
def test_programs(text: str) -> None:
    agree(text)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(models(max_layers=12))
def test_models(text: str) -> None:
    assert agree(text) is not None


def test_check_does_not_import_lark() -> None:
    """Nor what only other commands need: json (--json), fractions (explain), shutil
    (argparse's terminal size, measured without it)."""
    heavy = "{'lark', 'numpy', 'jinja2', 'json', 'fractions', 'shutil'}"
    code = (
        "import sys, cnndsl.cli; cnndsl.cli.main(['check', 'examples/resnet50.cnn']);"
        f"bad = {heavy} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
