"""Highlighting: the Pygments lexer and the VS Code (TextMate) grammar classify every
statement keyword, number and comment of every example, and know every layer kind."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import tomllib

from cnndsl.layers import REGISTRY
from cnndsl.parser import parse_statements
from cnndsl.structures import STRUCTURES, walk
from cnndsl.syntax import Option, Value
from conftest import EXAMPLES, ROOT

pygments = pytest.importorskip("pygments")
from pygments.token import Comment, Error, Keyword, Name, Number  # noqa: E402

from cnndsl.pygments_lexer import CnnDslLexer  # noqa: E402

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.cnn"))
GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "cnndsl.tmLanguage.json"


def offsets(text: str) -> list[int]:
    """Character offset of the start of each line (1-based line -> index line - 1)."""
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    return starts


def values(v: Value | Option) -> Iterator[Value]:
    if isinstance(v, Option):
        yield from values(v.value)
    elif v.kind in ("tuple", "list"):
        for x in v.value:
            yield from values(x)
    else:
        yield v


def expectations(text: str) -> Iterator[tuple[int, int, str]]:
    """(line, column, what) for every statement keyword, number and comment."""
    statements, errors = parse_statements(text)
    assert not errors
    for st in walk(statements):
        known = st.keyword in REGISTRY or st.keyword in STRUCTURES or st.keyword == "model"
        yield st.keyword_span.line, st.keyword_span.column, "keyword" if known else "call"
        for v in [*st.args, *st.options]:
            for x in values(v):
                if x.kind in ("int", "float", "dims"):
                    yield x.span.line, x.span.column, "number"
    for number, row in enumerate(text.split("\n"), 1):
        if "#" in row:
            yield number, row.index("#") + 1, "comment"


# ------------------------------------------------------------------ Pygments


PYGMENTS_CLASS = {"keyword": Keyword, "call": Name.Function, "number": Number, "comment": Comment}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_pygments_lexer_on_every_example(path: Path) -> None:
    text = path.read_text("utf-8")
    tokens = list(CnnDslLexer().get_tokens_unprocessed(text))
    assert "".join(v for _, _, v in tokens) == text
    assert not [v for _, t, v in tokens if t in Error]
    at = {i: t for i, t, _ in tokens}
    starts = offsets(text)
    for line, column, what in expectations(text):
        token = at.get(starts[line - 1] + column - 1)
        assert token is not None and token in PYGMENTS_CLASS[what], (path.name, line, what)


def test_pygments_lexer_knows_every_kind() -> None:
    for keyword in [*REGISTRY, *STRUCTURES]:
        tokens = list(CnnDslLexer().get_tokens_unprocessed(f"{keyword} 3\n"))
        assert tokens[0][1] in Keyword, keyword
    words = list(CnnDslLexer().get_tokens_unprocessed("conv 8 3x3 relu same bias=false\n"))
    kinds = [t for _, t, v in words if v.strip()]
    assert kinds[3] in Name.Builtin and kinds[4] in Name.Builtin and kinds[5] in Name.Attribute


def test_pygments_entry_point() -> None:
    """Declared in pyproject.toml (checked here always) and, once installed, found by
    Pygments by name."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    target = meta["project"]["entry-points"]["pygments.lexers"]["cnndsl"]
    assert target == "cnndsl.pygments_lexer:CnnDslLexer"
    if not any(ep.name == "cnndsl" for ep in entry_points(group="pygments.lexers")):
        pytest.skip("cnndsl was installed before its entry point existed: pip install -e .")
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    assert isinstance(get_lexer_by_name("cnndsl"), CnnDslLexer)
    assert isinstance(get_lexer_for_filename("model.cnn"), CnnDslLexer)


# ------------------------------------------------------------------ TextMate


def rules(grammar: dict[str, Any], node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The grammar's match rules, includes followed, in order."""
    for p in node.get("patterns", []):
        if "include" in p:
            yield from rules(grammar, grammar["repository"][p["include"][1:]])
        elif "patterns" in p:
            yield from rules(grammar, p)
        else:
            yield p
    if "match" in node:
        yield node


def scopes(grammar: dict[str, Any], line: str) -> dict[int, str]:
    """Column (0-based) -> scope of each token start, matched as a TextMate engine does:
    at each position the rule whose match starts first wins, the earlier rule on a tie."""
    compiled = [(re.compile(r["match"]), r) for r in rules(grammar, grammar)]
    found: dict[int, str] = {}
    pos = 0
    while pos < len(line):
        best = None
        for rx, rule in compiled:
            m = rx.search(line, pos)
            if m and (best is None or m.start() < best[0].start()):
                best = (m, rule)
        if best is None:
            break
        m, rule = best
        if "name" in rule:
            found[m.start()] = rule["name"]
        for group, cap in rule.get("captures", {}).items():
            if m.group(int(group)) is not None:
                found[m.start(int(group))] = cap["name"]
        pos = max(m.end(), pos + 1)
    return found


TM_SCOPE = {
    "keyword": "keyword.",
    "call": "entity.name.function",
    "number": "constant.numeric",
    "comment": "comment.line",
}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_textmate_scopes_on_every_example(path: Path) -> None:
    grammar = json.loads(GRAMMAR.read_text("utf-8"))
    text = path.read_text("utf-8")
    lines = text.split("\n")
    per_line = [scopes(grammar, row) for row in lines]
    for line, column, what in expectations(text):
        scope = per_line[line - 1].get(column - 1, "")
        assert scope.startswith(TM_SCOPE[what]), (path.name, line, column, what, scope)


def test_textmate_grammar_knows_every_kind() -> None:
    """A layer kind added to the registry must be added to the grammar (and the
    structures too)."""
    grammar = json.loads(GRAMMAR.read_text("utf-8"))
    for keyword in [*REGISTRY, *STRUCTURES, "model"]:
        scope = scopes(grammar, f"{keyword} 3").get(0, "")
        assert scope.startswith("keyword."), f"{keyword} is not a keyword of the TextMate grammar"
    assert scopes(grammar, "myblock 3").get(0, "").startswith("entity.name.function")


def test_vscode_package_points_at_its_files() -> None:
    folder = ROOT / "editors" / "vscode"
    package = json.loads((folder / "package.json").read_text("utf-8"))
    lang = package["contributes"]["languages"][0]
    assert ".cnn" in lang["extensions"]
    config = json.loads((folder / lang["configuration"]).read_text("utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"]
    grammar = package["contributes"]["grammars"][0]
    assert (folder / grammar["path"]).resolve() == GRAMMAR.resolve()
