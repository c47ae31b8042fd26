"""The grammar: lexing traps, separators, comments, positions; no layer kinds in it."""

from __future__ import annotations

import contextlib
import gc
import re
from pathlib import Path

import pytest

import cnndsl
from cnndsl.errors import CnnDslError
from cnndsl.layers import REGISTRY
from cnndsl.parser import parse_statements
from cnndsl.syntax_errors import SYNTAX_ERRORS
from conftest import EXAMPLES


def stmts(text: str):
    got, errors = parse_statements(text)
    assert errors == []
    return got


def test_kernel_is_one_token_not_3_then_x3() -> None:
    (s,) = stmts("conv 64 3x3")
    assert [(a.kind, a.value) for a in s.args] == [("int", 64), ("dims", (3, 3))]
    (s,) = stmts("conv x3 3x1")
    assert [(a.kind, a.value) for a in s.args] == [("name", "x3"), ("dims", (3, 1))]


def test_numbers() -> None:
    (s,) = stmts("f 1 -2 0.5 .5 1e-3 2. 28x28x1")
    kinds = [(a.kind, a.value) for a in s.args]
    assert kinds == [
        ("int", 1),
        ("int", -2),
        ("float", 0.5),
        ("float", 0.5),
        ("float", 0.001),
        ("float", 2.0),
        ("dims", (28, 28, 1)),
    ]


def test_separators_comments_and_blank_lines() -> None:
    text = "# header; not a statement\n\ninput 8x8x1 ; conv 4 3x3 # c; d\n;;\n  relu\n"
    assert [s.keyword for s in stmts(text)] == ["input", "conv", "relu"]


def test_crlf_and_tabs() -> None:
    m = cnndsl.parse("input 8x8x1\r\n\tconv 4 3x3\r\n")
    assert m.node("conv_1").span.line == 2
    assert m.node("conv_1").span.column == 2


def test_positions_are_exact() -> None:
    (_, s) = stmts("input 8x8x1\n  conv 4 3x3 stride=2")
    assert (s.keyword_span.line, s.keyword_span.column) == (2, 3)
    (o,) = s.options
    assert (o.key_span.column, o.value.span.column, o.value.span.end_column) == (14, 21, 22)


def test_newlines_inside_brackets_do_not_end_a_statement() -> None:
    text = (
        "input 5x5x1\nconv 1 3x3 bias=false weights=[[-1, -1, -1],\n"
        "  [-1, 8, -1],\n  [-1, -1, -1]]\nrelu"
    )
    m = cnndsl.parse(text)
    conv = m.node("conv_1").layer
    assert conv.weights.shape == (3, 3, 1, 1)
    assert conv.weights.values[4] == 8.0
    assert [n.keyword for n in m] == ["input", "conv", "relu"]


def test_words_like_max_and_same_are_not_reserved() -> None:
    m = cnndsl.parse("input 8x8x1\nconv 4 3x3 name=same\npool max 2 name=max")
    assert [n.name for n in m] == ["input", "same", "max"]


def test_the_grammar_lists_no_layer_kinds() -> None:
    grammar = (Path(cnndsl.__file__).parent / "grammars" / "cnndsl.lark").read_text()
    code = "\n".join(line.split("//")[0] for line in grammar.splitlines())
    for kw in REGISTRY:
        assert f'"{kw}"' not in code and f"'{kw}'" not in code, kw


def test_syntax_errors_are_all_reported() -> None:
    with pytest.raises(cnndsl.CnnDslError) as info:
        cnndsl.parse("input 8x8x1\nconv 4 3x3 stride=\nconv 4 @\nconv 4 3x3relu\n")
    lines = [d.span.line for d in info.value.diagnostics]
    assert lines == [2, 3, 4]


def test_grammar_loads_from_package_resources() -> None:
    from importlib import resources

    text = resources.files("cnndsl").joinpath("grammars/cnndsl.lark").read_text("utf-8")
    assert "_SEP" in text


def _check_with_cache(cache_dir, model: str = "examples/lenet5.cnn"):
    """Lark's tables are cached for the error path: a well-formed model never loads them
    (cnndsl.fastparse), so the cache is exercised with a syntax error."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "CNNDSL_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    env.pop("CNNDSL_NO_CACHE", None)
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", "check", model],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_parser_cache_is_written_reused_and_survives_corruption(tmp_path) -> None:
    cache, bad = tmp_path / "cache", tmp_path / "bad.cnn"
    bad.write_text("input 8x8x1\nconv 8 3x3 =2\n")
    first = _check_with_cache(cache, str(bad))
    assert first.returncode == 1 and "'=' must follow an option name" in first.stderr
    (entry,) = list(cache.iterdir())  # one file, no temporary left
    assert _check_with_cache(cache, str(bad)).stderr == first.stderr  # loaded from the cache
    garbage = b"garbage, as if a write had been cut short"
    entry.write_bytes(garbage)
    again = _check_with_cache(cache, str(bad))
    assert again.returncode == 1 and again.stderr == first.stderr
    assert "Traceback" not in again.stderr
    assert entry.read_bytes() != garbage  # rebuilt and rewritten
    assert _check_with_cache(cache, str(bad)).stderr == first.stderr


def test_a_well_formed_model_needs_no_parser_cache(tmp_path) -> None:
    r = _check_with_cache(tmp_path / "cache")
    assert r.returncode == 0 and "61,706" in r.stdout
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_parser_cache_refuses_a_shared_directory(tmp_path) -> None:
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)  # anyone could plant a file here: never read it
    r = _check_with_cache(cache)
    assert r.returncode == 0
    assert list(cache.iterdir()) == []


def _message_pattern(message: str) -> re.Pattern[str]:
    """A table message with its {found} and {expected} as wildcards."""
    wild = re.escape(message)
    for field in ("{found}", "{expected}"):
        wild = wild.replace(re.escape(field), ".+")
    return re.compile(wild)


@pytest.mark.parametrize(
    ("label", "example"),
    [(label, example) for label, case in SYNTAX_ERRORS.items() for example in case.examples],
)
def test_syntax_error_examples_get_their_labels_message(label: str, example: str) -> None:
    """The examples are what the error path learns from: each must read as its label."""
    _, diags = parse_statements(example)
    (diag,) = diags
    matching = [
        other
        for other, case in SYNTAX_ERRORS.items()
        if _message_pattern(case.message).fullmatch(diag.message)
    ]
    assert matching == [label], diag.message
    assert diag.hint == SYNTAX_ERRORS[label].hint


@pytest.mark.parametrize(
    "source",
    [
        (EXAMPLES / "resnet18.cnn").read_text(),  # stages, residual blocks, repeats
        (EXAMPLES / "unet_small.cnn").read_text(),  # concat, skip connections
        "input 8x8x1\nblock b(n) { conv n 3 same; relu }\nb(4)\nresidual { conv 4 3 same }",
        "input 28x28x1\nconv 6 5x5 sigmod same\nresidual { conv 8 3 same }",  # an error
    ],
    ids=["resnet18", "unet_small", "block", "error"],
)
def test_a_parse_leaves_no_reference_cycles(source: str) -> None:
    """What a parse makes goes by reference counting when its last reference does. The
    checker and its structures pointed at each other, which left a whole file's
    statements, spans and values to the cyclic collector: after a parse of 10k
    statements, 170k objects more to scan, 3/4 of that collection's time."""
    cnndsl.parse("input 4x4x1; flatten")
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds unreachable stays in gc.garbage
    try:
        with contextlib.suppress(CnnDslError):
            cnndsl.parse(source)
        gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith(("cnndsl", "lark"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert [type(o).__name__ for o in ours] == []


def test_a_name_of_200_characters_is_the_longest() -> None:
    ok = cnndsl.parse(f"input 8x8x1\nrelu name={'a' * 200}\n")
    assert ok.nodes[-1].name == "a" * 200
    with pytest.raises(CnnDslError) as err:
        cnndsl.parse(f"input 8x8x1\nrelu name={'a' * 201}\n")
    assert "201 characters long; names are at most 200" in err.value.diagnostics[0].message
    # a path: the stage labels and the layer's label in the innermost stage, joined by '_'
    inner = f"stage {'s' * 98} {{ stage {'t' * 99} {{ relu }} }}"  # s..._t..._0: 98+99+3
    assert len(cnndsl.parse(f"input 8x8x1\n{inner}\n").nodes[-1].name) == 200
    with pytest.raises(CnnDslError):
        cnndsl.parse(f"input 8x8x1\n{inner.replace('t' * 99, 't' * 100)}\n")
