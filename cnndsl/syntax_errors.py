"""The error path of the parser: re-parse statement by statement, and say what is wrong.

After a failed parse, the text is split into statements (at top-level ';' and new
lines, as the grammar does), each is parsed on its own, and each that fails becomes
a Diagnostic and a ``None`` in the statement list, so that the checker can still
check the others.

Which mistake a failure is, is read off a table of example bad inputs, the way of
Lark's ``examples/advanced/error_reporting_lalr.py``: a failure gets the label of
the example that failed in the same parser state on the same kind of token. Lark's
own ``UnexpectedInput.match_examples`` also compares the depth of the parser's
stack, so an example written at the top level would not match the same mistake
inside ``residual { ... }``; hence the small lookup below.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import Diagnostic, Span
from .limits import MAX_ERRORS, SourceLimit
from .syntax import Option, Statement, Value

#: parses one statement's text; raises Lark's UnexpectedInput
Parse = Callable[[str], list[Statement]]


class SyntaxCase(NamedTuple):
    """A kind of syntax error: bad inputs that show it, and what the user reads.

    ``message`` may use ``{found}`` (the token) and ``{expected}`` (what the parser
    wanted). ``anywhere``: the kind of token alone decides, in whatever state.
    """

    examples: tuple[str, ...]
    message: str
    hint: str | None = None
    anywhere: bool = False


UNEXPECTED = "unexpected token"

#: label -> case; every example is a test case (tests/test_parser.py)
SYNTAX_ERRORS: dict[str, SyntaxCase] = {
    "stray '='": SyntaxCase(
        ("conv 8 3x3 =2", "conv 8 3x3 stride==2", "=conv 8 3x3"),
        "'=' must follow an option name, as in stride=2",
        anywhere=True,
    ),
    "statement start": SyntaxCase(
        (
            "64 conv",
            "0.5 dropout",
            "3x3 conv",
            "(1, 2) conv",
            "[1, 2] conv",
            ", conv",
            ") conv",
            "] conv",
            "{ conv 8 3x3 }",
        ),
        "a statement starts with a layer name, found {found}",
        hint="for example: conv 64 3x3 relu",
    ),
    "missing value": SyntaxCase(
        (
            "conv 8 3x3 stride=",
            "residual { conv 8 3x3 stride=; relu }",
            "conv 1 1x1 weights=[;]",
            "conv 1 1x1 weights=[1, ;]",
            "conv 1 1x1 weights=[1, 2, ;]",
            "block b(;) { relu }",
            "block b(f, ;) { relu }",
            "block b(f, k, ;) { relu }",
        ),
        "expected a value, found {found}",
    ),
    UNEXPECTED: SyntaxCase(
        ("conv 8 3x3)", "conv 8 (1 2)", "conv 8 3x3 stride=)", "conv 1 1x1 weights=[1, 2; 3, 4]"),
        "unexpected {found}; expected {expected}",
    ),
}


@functools.cache
def _learnt(parse: Parse) -> tuple[dict[str, str], dict[tuple[int, str], str]]:
    """Where the examples fail: label by kind of token, and by (parser state, kind)."""
    by_token: dict[str, str] = {}
    by_state: dict[tuple[int, str], str] = {}
    for label, case in SYNTAX_ERRORS.items():
        for example in case.examples:
            try:
                parse(example)
            except UnexpectedToken as exc:
                kind = exc.token.type
                if case.anywhere:
                    by_token.setdefault(kind, label)
                elif exc.state is not None:
                    by_state.setdefault((exc.state.position, kind), label)
            except UnexpectedInput:
                pass  # not a parser error: the example's test says so
    return by_token, by_state


def _label(exc: UnexpectedToken, parse: Parse) -> str:
    by_token, by_state = _learnt(parse)
    kind = exc.token.type
    state = exc.state.position if exc.state is not None else -1
    return by_token.get(kind) or by_state.get((state, kind), UNEXPECTED)


def recover(text: str, parse: Parse) -> tuple[list[Statement | None], list[Diagnostic]]:
    """Parse ``text`` statement by statement: a broken one is a Diagnostic and a None.

    After MAX_ERRORS broken statements the rest is left unread (one None stands for it).
    A limit of the whole file (cnndsl.limits) propagates, placed in the file.
    """
    statements: list[Statement | None] = []
    diags: list[Diagnostic] = []
    for chunk in _chunks(text):
        if len(diags) >= MAX_ERRORS:
            statements.append(None)
            break
        if isinstance(chunk, Stray):  # a brace too many: the statements around it stand
            diags.append(chunk.diagnostic)
            continue
        if isinstance(chunk, Diagnostic):
            diags.append(chunk)
            statements.append(None)
            continue
        stmts, diag = _one_statement(chunk, parse)
        if diag is not None:
            diags.append(diag)
            statements.append(None)
        statements.extend(stmts)
    return statements, diags


def _one_statement(
    chunk: tuple[int, int, str], parse: Parse
) -> tuple[list[Statement], Diagnostic | None]:
    """One statement's text parsed, in place in the file; or why it cannot be."""
    line, col, piece = chunk
    try:
        stmts = parse(piece)
    except UnexpectedInput as exc:
        return [], diagnose(exc, piece, parse, line, col)
    except SourceLimit as exc:
        diag = _shift_diagnostic(exc.diagnostic, line - 1, col - 1)
        if exc.fatal:
            raise SourceLimit(diag) from None
        return [], diag
    return [_shift_statement(s, line - 1, col - 1) for s in stmts], None


def diagnose(exc: UnexpectedInput, piece: str, parse: Parse, line: int, col: int) -> Diagnostic:
    """Lark's exception in words a user reads, at its place in the file (``piece``,
    the failed statement, starts at ``line``:``col``)."""
    if isinstance(exc, UnexpectedCharacters):
        diag = _bad_characters(exc, piece)
    else:
        assert isinstance(exc, UnexpectedToken)
        tok = exc.token
        case = SYNTAX_ERRORS[_label(exc, parse)]
        expected = set(exc.expected) - {"$END"} if tok.type != "$END" else set(exc.expected)
        message = case.message.format(found=_found(tok), expected=_expected(expected))
        message = message.removesuffix("; expected ")  # nothing could follow here
        diag = Diagnostic(message, _token_span(tok, piece), case.hint)
    return _shift_diagnostic(diag, line - 1, col - 1)


def _shift_diagnostic(diag: Diagnostic, dl: int, dc: int) -> Diagnostic:
    if diag.span is None:
        return diag
    return dataclasses.replace(diag, span=_shift(diag.span, dl, dc))


# ---------------------------------------------------------------- messages

_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "DIMS": "a size like 3x3",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "EQUAL": "'='",
    "_SEP": "the end of the statement",
    "$END": "the end of the file",
}
_VALUE_TERMINALS = {"INT", "FLOAT", "DIMS", "NAME", "LPAR", "LSQB"}
_WORD_RE = re.compile(r"[^\s;,()\[\]=#]+")


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the statement"
    if tok.type == "_SEP":
        return "';'" if tok.startswith(";") else "the end of the line"
    return f"'{tok}'"


def _expected(names: set[str]) -> str:
    names = set(names)
    words = []
    if names >= _VALUE_TERMINALS:
        words.append("a value")
        names -= _VALUE_TERMINALS
    words += sorted(_WORDS.get(n, repr(n)) for n in names)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


#: a size written with a multiplication sign: 3×3, 3 * 3, 28×28×1
_SIZE_TYPO = re.compile(r"\d+(?:\s*[×✕✖⨯*]\s*\d+)+")


def _size_typo(exc: UnexpectedCharacters, piece: str, pos: int) -> Diagnostic | None:
    """``3×3`` or ``3 * 3``: a size with a multiplication sign for the letter x."""
    size = next((m for m in _SIZE_TYPO.finditer(piece) if m.start() <= pos < m.end()), None)
    if size is None:
        return None
    fixed = re.sub(r"\s*[^\d\s]\s*", "x", size.group(0))
    start = exc.column - (pos - size.start())
    return Diagnostic(
        f"'{size.group(0)}' is not a size: sizes are written with the letter x",
        Span(exc.line, start, exc.line, start + len(size.group(0))),
        hint=f"write {fixed}",
    )


def _bad_characters(exc: UnexpectedCharacters, piece: str) -> Diagnostic:
    """A character no token starts with, or a number run into letters (``3x3relu``)."""
    pos = exc.pos_in_stream or 0
    m = _WORD_RE.match(piece, pos)
    word = m.group(0) if m else piece[pos]
    if word[0].isdigit() or word[0] in "+-.":
        return Diagnostic(
            f"'{word}' is not a number or a size",
            Span(exc.line, exc.column, exc.line, exc.column + max(1, len(word))),
            hint="write numbers like 64 or 0.5, sizes like 3x3 or 28x28x1, "
            "and put a space between words",
        )
    ch = exc.char
    hint = None
    typo = _size_typo(exc, piece, pos)
    if typo is not None:
        return typo
    if not ch.isascii():
        hint = "names use ASCII letters, digits and '_'"
    elif ch in "\"'":
        hint = "cnndsl has no strings: write names without quotes"
    shown = ch if ch.isprintable() else repr(ch)[1:-1]
    span = Span(exc.line, exc.column, exc.line, exc.column + 1)
    return Diagnostic(f"unexpected character '{shown}'", span, hint=hint)


def _token_span(tok: Token, piece: str) -> Span:
    """The token; at the end of a statement, just past its last word (not a comment)."""
    if tok.type not in ("$END", "_SEP"):
        assert tok.line is not None and tok.column is not None
        return Span(tok.line, tok.column, tok.line, tok.column + max(1, len(str(tok))))
    before = piece[: tok.start_pos] if tok.type == "_SEP" else piece
    lines = before.split("\n")
    while len(lines) > 1 and not lines[-1].split("#", 1)[0].strip():
        lines.pop()
    last = lines[-1].split("#", 1)[0].rstrip()
    return Span.point(len(lines), len(last) + 1)


# ---------------------------------------------------------------- statements

_MARKS = re.compile(r"#[^\n]*|[;\n()\[\]{}]")  # comments, separators, brackets
_CLOSER_OF = {"(": ")", "[": "]", "{": "}"}


def _chunks(text: str) -> Iterator[tuple[int, int, str] | Diagnostic | Stray]:
    """Split at top-level ';' and newlines, as the grammar does, keeping positions.

    Yields ``(line, column, text)`` for each statement, or a Diagnostic for a
    statement whose bracket never closes.
    """
    newlines = [m.start() for m in re.finditer("\n", text)]
    opened: list[int] = []  # offsets of the brackets still open
    start = 0
    for m in _MARKS.finditer(text):
        mark = m.group()
        if mark in _CLOSER_OF:
            opened.append(m.start())
        elif mark in (")", "]", "}") and opened:
            opened.pop()
        elif mark == "}":  # closes nothing: report it alone, read the rest without it
            yield from _statement(text, start, m.start(), newlines)
            yield _stray_brace(newlines, m.start())
            start = m.end()
        elif mark in (";", "\n") and not opened:
            yield from _statement(text, start, m.start(), newlines)
            start = m.end()
    if not opened:
        yield from _statement(text, start, len(text), newlines)
        return
    bracket = text[opened[0]]
    line, col = _position(newlines, opened[0])
    yield Diagnostic(
        f"'{bracket}' is never closed",
        Span(line, col, line, col + 1),
        hint=f"add the matching '{_CLOSER_OF[bracket]}'",
    )


class Stray(NamedTuple):
    """A closing brace that closes nothing."""

    diagnostic: Diagnostic


def _stray_brace(newlines: list[int], offset: int) -> Stray:
    line, col = _position(newlines, offset)
    return Stray(
        Diagnostic(
            "this '}' closes no '{'",
            Span(line, col, line, col + 1),
            hint="delete it, or add the '{' it should close",
        )
    )


def _statement(
    text: str, start: int, end: int, newlines: list[int]
) -> Iterator[tuple[int, int, str]]:
    if text[start:end].strip():
        yield (*_position(newlines, start), text[start:end])


def _position(newlines: list[int], offset: int) -> tuple[int, int]:
    """Line and column (from 1) of ``offset``, given the offsets of the newlines."""
    line = bisect.bisect_left(newlines, offset)
    return line + 1, offset - (newlines[line - 1] + 1 if line else 0) + 1


def _shift(span: Span, dl: int, dc: int) -> Span:
    return Span(
        span.line + dl,
        span.column + (dc if span.line == 1 else 0),
        span.end_line + dl,
        span.end_column + (dc if span.end_line == 1 else 0),
    )


def _shift_value(v: Value, dl: int, dc: int) -> Value:
    inner = v.value
    if v.kind in ("tuple", "list"):
        inner = tuple(_shift_value(x, dl, dc) for x in v.value)
    return Value(v.kind, inner, _shift(v.span, dl, dc))


def _shift_statement(s: Statement, dl: int, dc: int) -> Statement:
    """The statement, and its body, where it stands in the file (braces nest at most
    MAX_BRACES deep, so the recursion is bounded)."""
    return Statement(
        s.keyword,
        _shift(s.keyword_span, dl, dc),
        tuple(_shift_value(a, dl, dc) for a in s.args),
        tuple(
            Option(
                o.key,
                _shift(o.key_span, dl, dc),
                _shift_value(o.value, dl, dc),
                _shift(o.span, dl, dc),
            )
            for o in s.options
        ),
        _shift(s.span, dl, dc),
        None if s.body is None else tuple(_shift_statement(b, dl, dc) for b in s.body),
    )
