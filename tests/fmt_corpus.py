"""Models to format: the examples, the error cases, and every model written as a string in
the test suite (found by parsing the test files, so a new test's model joins by itself)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

import cnndsl
from conftest import EXAMPLES, ROOT

TESTS = ROOT / "tests"


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.cnn"))


def error_case_files() -> list[Path]:
    return sorted((TESTS / "errors").glob("*.cnn"))


@cache
def inline_models() -> tuple[str, ...]:
    """Every string constant in tests/*.py that parses and checks as a model (the parse
    bombs aside: they take seconds to expand, by design)."""
    found: dict[str, None] = {}
    for path in sorted(TESTS.glob("*.py")):
        if "bomb" in path.name:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if "input" in text and len(text) < 20_000 and _checks(text):
                    found[text] = None
    return tuple(found)


def _checks(text: str) -> bool:
    try:
        cnndsl.parse(text)
    except (cnndsl.CnnDslError, RecursionError):
        return False
    return True


def without_spans(doc: Any) -> Any:
    """A model's JSON with every source position dropped: what the model *is*."""
    if isinstance(doc, dict):
        return {k: without_spans(v) for k, v in doc.items() if k != "span"}
    if isinstance(doc, list):
        return [without_spans(v) for v in doc]
    return doc
