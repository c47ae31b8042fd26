"""Fuzzing the front end: whatever the input, cnndsl.parse raises CnnDslError or returns a
model, never another exception, and returns promptly.

Four generators, each derandomised and bounded so that the suite stays CI-friendly
(about 300 examples each): random bytes, a soup of the language's own words and
numbers (huge ones included), token-level mutations of every example model, and
whole programs with structures nested to random depths (past the limits, sometimes).
A model that parses is also summarised and serialised, where large counts are printed.
"""

from __future__ import annotations

import json
import os
import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl import decode_source
from cnndsl.layers import REGISTRY, kinds
from cnndsl.limits import MAX_BRACES, MAX_DIGITS
from cnndsl.structures import STRUCTURES
from conftest import EXAMPLES

#: seconds one parse may take; generous, so that a loaded CI machine does not fail it
PROMPT = 10.0
FUZZ = settings(max_examples=300, deadline=None, derandomize=True)


def parses_or_explains(text: str) -> None:
    """The property: a model, or a CnnDslError that renders; promptly either way."""
    start = time.perf_counter()
    try:
        model = cnndsl.parse(text, "fuzz.cnn")
    except cnndsl.CnnDslError as err:
        assert err.diagnostics
        rendered = err.render()
        assert rendered.startswith("fuzz.cnn")
        json.dumps(err.to_dict())
    else:
        model.summary()
        json.dumps(model.to_dict())
    took = time.perf_counter() - start
    if os.environ.get("FUZZ_TIMES") and took > 0.5:
        print(f"{took:.2f} s: {text[:300]!r}")
    assert took < PROMPT, f"slow: {text[:200]!r}"


# ---------------------------------------------------------------- random bytes


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    try:
        text = decode_source(data, "fuzz.cnn")
    except cnndsl.CnnDslError:
        return
    parses_or_explains(text)


# ---------------------------------------------------------------- token soup


def _words() -> list[str]:
    """Every word the language knows: keywords, structures, option names, choices."""
    words = {*REGISTRY, *STRUCTURES, "model", "true", "false"}
    for cls in kinds():
        for name, spec in cls.options().items():
            words.add(name)
            words.update(getattr(spec.type, "choices", ()))
    return sorted(words)


NUMBERS = [
    "0",
    "1",
    "3",
    "64",
    "-1",
    "+2",
    "0.5",
    "1e3",
    "-0.0",
    "3x3",
    "28x28x1",
    "0x0",
    "1x2x3x4x5",
    "9" * MAX_DIGITS,
    "9" * (MAX_DIGITS + 1),
    "1" + "0" * 4400,  # past Python's int/str conversion limit
    "0" * 5000 + "7",
    "1e400",
    "9" * 30 + "x" + "9" * 30,
]
PUNCTUATION = ["{", "}", "(", ")", "[", "]", "=", ",", ";", "\n", "#", "x", "_", "name"]
TOKENS = _words() + NUMBERS + PUNCTUATION
SEPARATORS = [" ", " ", " ", "", "\n", "; "]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(SEPARATORS)), max_size=80))
def test_token_soup(pairs: list[tuple[str, str]]) -> None:
    parses_or_explains("".join(tok + sep for tok, sep in pairs))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_after_an_input(tokens: list[str]) -> None:
    """The same soup after a valid input, so that the checker sees shapes, not only errors."""
    parses_or_explains("input 16x16x3\n" + " ".join(tokens))


# ---------------------------------------------------------------- mutated examples

SOURCES = [p.read_text() for p in sorted(EXAMPLES.glob("*.cnn"))]
TOKEN = re.compile(r"\s+|[(){}\[\],;=]|[^\s(){}\[\],;=]+")


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    """An example model with tokens deleted, duplicated or swapped (whitespace kept)."""
    tokens = TOKEN.findall(draw(st.sampled_from(SOURCES)))
    words = [i for i, t in enumerate(tokens) if not t.isspace()]
    for _ in range(draw(st.integers(1, 6))):
        i, j = draw(st.sampled_from(words)), draw(st.sampled_from(words))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace"]))
        if op == "delete":
            tokens[i] = ""
        elif op == "duplicate":
            tokens[i] = f"{tokens[i]} {tokens[i]}"
        elif op == "swap":
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens[i] = draw(st.sampled_from(TOKENS))
    return "".join(tokens)


def test_every_example_is_mutated() -> None:
    assert len(SOURCES) >= 5
    for text in SOURCES:
        assert [t for t in TOKEN.findall(text) if not t.isspace()]


@FUZZ
@given(mutated_example())
def test_mutated_examples(text: str) -> None:
    parses_or_explains(text)


# ---------------------------------------------------------------- whole programs

LEAVES = [
    "relu",
    "conv 4 3x3 same",
    "conv 2 1x1 relu",
    "pool max 2",
    "batchnorm",
    "dropout 0.5",
    "zeropad 1",
    "crop 1",
    "upsample 2",
    "dense 3",
    "flatten",
    "bogus",
    "conv 8 99x99",
    "conv 1 1x1 weights=[[[[1]]]]",
    "relu name=skip",
    "add skip",
    "concat skip",
    "f",
]


STRUCTURE = ["repeat", "residual", "shortcut", "branches", "call"]


def wrap(kind: str, body: str, level: int, pick: int) -> str:
    """``body`` inside a structure of ``kind``, ``level`` structures from the innermost;
    ``pick`` chooses among the variants of the kind."""
    if kind == "repeat":  # counts that multiply only in shallow chains (the step budget
        # is for tests/test_bombs_parse.py), and that go on expanding in deep ones
        counts = ["1"]
        if level < 8:
            counts = ["0", "1", "-1", "x", *(["3", "10000"] if level == 1 else ["2"])]
        return f"repeat {counts[pick % len(counts)]} {{ {body} }}"
    if kind == "residual":
        return f"residual {{ {body} }}"
    if kind == "shortcut":
        return f"residual {{ relu; shortcut {{ {body} }} }}"
    if kind == "branches":
        return f"{['concat', 'add'][pick % 2]} {{ branch {{ {body} }} branch {{ }} }}"
    return f"b{pick % 4} {['4', '(4)', '[4]', 'f'][pick % 4]}; {body}"


@st.composite
def nested(draw: st.DrawFn, depth: int) -> str:
    """A chain of ``depth`` structures, each with leaves beside the one it holds (drawn
    in one go: a recursive strategy would spend the test's time generating)."""
    kinds = draw(st.lists(st.sampled_from(STRUCTURE), min_size=depth, max_size=depth))
    picks = draw(st.lists(st.integers(0, 11), min_size=depth, max_size=depth))
    leaves = draw(st.lists(st.sampled_from(LEAVES), min_size=depth + 1, max_size=depth + 1))
    text = leaves[0]
    for level, (kind, pick, leaf) in enumerate(zip(kinds, picks, leaves[1:]), 1):
        body = f"{leaf}; {text}" if pick % 3 else text
        text = wrap(kind, body, level, pick)
    return text


@st.composite
def program(draw: st.DrawFn) -> str:
    """Block definitions (each may call the ones before it, or itself), then a model whose
    structures nest a little, or about MAX_BRACES deep, or far deeper."""
    lines = []
    for k in range(draw(st.integers(0, 4))):
        calls = [f"b{j} f" for j in range(k + 1)]
        body = draw(st.lists(st.sampled_from([*LEAVES, *calls]), min_size=1, max_size=3))
        lines.append(f"block b{k}(f=2) {{ {'; '.join(body)} }}")
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["input 16x16x3", "input 40x6", "input 48"])))
    depth = draw(
        st.one_of(
            st.integers(0, 6),
            st.integers(MAX_BRACES - 2, MAX_BRACES + 2),
            st.just(6 * MAX_BRACES),  # past Python's recursion limit, were it unbounded
        )
    )
    lines += draw(st.lists(nested(depth), min_size=1, max_size=3))
    return "\n".join(lines)


@FUZZ
@given(program())
def test_generated_programs(text: str) -> None:
    parses_or_explains(text)
