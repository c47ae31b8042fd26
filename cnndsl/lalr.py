"""The Lark LALR parser: the grammar's reference implementation, and its errors.

:mod:`cnndsl.parser` tries :mod:`cnndsl.fastparse` first and comes here (importing
Lark only then) for what that declines: every source with a syntax error, or one
that reaches a limit. The grammar is loaded once per process and the LALR parser
calls the AST builder directly, so no parse tree is ever built. A syntax error
switches to a slower, statement-by-statement re-parse (:mod:`cnndsl.syntax_errors`)
that reports every broken statement, not just the first, and marks each as ``None``
so that the checker can still report independent errors in the statements that did
parse.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import zlib
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any, cast

import lark
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput, VisitError
from lark.lark import PostLex

from .errors import Diagnostic, Span
from .limits import (
    MAX_BRACES,
    MAX_BRACKETS,
    MAX_DIGITS,
    SourceLimit,
    SourceLimits,
    raise_hint,
)
from .syntax import Option, Statement, Value
from .syntax_errors import recover

#: token -> (change of bracket depth, change of brace depth)
_NEST = {
    "LPAR": (1, 0),
    "LSQB": (1, 0),
    "RPAR": (-1, 0),
    "RSQB": (-1, 0),
    "LBRACE": (0, 1),
    "RBRACE": (0, -1),
}


class _Budget:
    """What the parse under way may still read: values inside brackets, over the file.
    Set by :func:`parse_statements`, spent by the post-lexer (one Lark parser serves
    every parse, under a lock, so the budget is the module's)."""

    __slots__ = ("left", "limit")

    def __init__(self) -> None:
        self.limit = self.left = SourceLimits().literal

    def reset(self, limit: int) -> None:
        self.limit = self.left = limit

    def spent(self, tok: Token) -> SourceLimit:
        return SourceLimit(
            Diagnostic(
                f"the model's literals hold more than {self.limit:,} values",
                _span(tok),
                raise_hint("literal", self.limit),
            )
        )


_budget = _Budget()


class BracketPostLex(PostLex):
    """Drop statement separators inside (...) and [...]: a weight literal may span lines.

    It sees every token before the parser does, so it also enforces the limits that
    keep a hostile file cheap to parse: how deep brackets and braces nest, and how
    many values the literals hold in all (cnndsl.limits).
    """

    always_accept = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        budget = _budget
        brackets = braces = 0
        for tok in stream:
            kind = tok.type
            if kind in _NEST:
                brackets, braces = _nest(tok, brackets, braces)
            elif brackets:
                if kind == "_SEP":
                    if ";" not in tok:
                        continue
                elif kind != "COMMA":
                    budget.left -= 1
                    if budget.left < 0:
                        raise budget.spent(tok)
            yield tok


def _nest(tok: Token, brackets: int, braces: int) -> tuple[int, int]:
    """The depths after a bracket or a brace; too deep is an error at it."""
    db, dc = _NEST[tok.type]
    brackets = max(0, brackets + db)
    braces = max(0, braces + dc)
    if brackets > MAX_BRACKETS:
        raise SourceLimit(
            Diagnostic(
                f"brackets nest more than {MAX_BRACKETS} deep",
                _span(tok),
                "a weight literal needs one level of brackets per axis",
            )
        )
    if braces > MAX_BRACES:
        raise SourceLimit(
            Diagnostic(
                f"braces nest more than {MAX_BRACES} deep",
                _span(tok),
                "define a block for the inner part and use it by name",
            )
        )
    return brackets, braces


def _span(tok: Token) -> Span:
    # Lark types token positions as optional; its lexer always sets them.
    return Span(tok.line, tok.column, tok.end_line, tok.end_column)  # type: ignore[arg-type]


def _join(a: Span, b: Span) -> Span:
    return Span(a.line, a.column, b.end_line, b.end_column)


class _Body:
    """The braces of a statement while the parser assembles it."""

    __slots__ = ("span", "statements")

    def __init__(self, statements: tuple[Statement, ...], span: Span):
        self.statements = statements
        self.span = span


def _scalar(tok: Token) -> Value:
    kind = tok.type
    # as in _span (inlined: this runs for every value in the file)
    span = Span(tok.line, tok.column, tok.end_line, tok.end_column)  # type: ignore[arg-type]
    if kind == "INT":
        return Value("int", int(tok) if len(tok) <= MAX_DIGITS else _long_int(tok, span), span)
    if kind == "NAME":
        return Value("name", str(tok), span)
    if kind == "DIMS":
        if len(tok) > MAX_DIGITS:
            return Value("dims", tuple(_long_int(p, span) for p in tok.split("x")), span)
        return Value("dims", tuple(int(p) for p in tok.split("x")), span)
    return Value("float", float(tok), span)


def _long_int(text: str, span: Span) -> int:
    """An integer written with many characters: below 10**18 once its leading zeros are
    dropped, or an error (Python itself refuses to convert more than 4,300 digits)."""
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > MAX_DIGITS:
        raise SourceLimit(
            Diagnostic(
                f"this number has {len(digits):,} digits; integers have at most {MAX_DIGITS}",
                span,
                "sizes, counts and every other integer are below 10**18",
            ),
            fatal=False,
        )
    return int(sign + digits)


class _Builder(Transformer[Token, list[Statement]]):
    """Called by the LALR parser as it reduces: builds the syntax tree directly.

    Children are of mixed kinds (tokens, values, options, bodies), hence ``list[Any]``.
    """

    def start(self, children: list[Statement]) -> list[Statement]:
        return children

    def plain(self, children: list[Any]) -> Statement:
        kw = children[0]
        args: list[Value] = []
        options: list[Option] = []
        body: _Body | None = None
        for c in children[1:]:
            t = type(c)
            if t is Token:
                args.append(_scalar(c))
            elif t is Option:
                options.append(c)
            elif t is _Body:
                body = c
            else:
                args.append(c)
        kspan = _span(kw)
        if len(children) > 1:
            last = children[-1]
            end = _span(last) if type(last) is Token else last.span
            span = Span(kspan.line, kspan.column, end.end_line, end.end_column)
        else:
            span = kspan
        if body is None:
            return Statement(str(kw), kspan, tuple(args), tuple(options), span)
        return Statement(str(kw), kspan, tuple(args), tuple(options), span, body.statements)

    blockstmt = plain

    def body(self, children: list[Any]) -> _Body:
        stmts = tuple(c for c in children if type(c) is Statement)
        return _Body(stmts, _join(_span(children[0]), _span(children[-1])))

    def option(self, children: list[Any]) -> Option:
        key, value = children
        if type(value) is Token:
            value = _scalar(value)
        kspan = _span(key)
        return Option(str(key), kspan, value, _join(kspan, value.span))

    def _seq(self, kind: str, children: list[Any]) -> Value:
        items = tuple(_scalar(c) if type(c) is Token else c for c in children[1:-1])
        # a block header's parameters may hold options: (filters, convs=2)
        return Value(kind, items, _join(_span(children[0]), _span(children[-1])))

    def tuple_(self, children: list[Any]) -> Value:
        return self._seq("tuple", children)

    def list_(self, children: list[Any]) -> Value:
        return self._seq("list", children)


_lock = threading.RLock()  # parse_statements holds it around _parse_one


@cache
def _parser() -> Lark:
    """The LALR parser, built once per process — or loaded from the user's cache, which
    makes the error path of a cold `cnndsl check` about 20 ms faster than building the
    tables anew (a well-formed source never gets here: cnndsl.fastparse)."""
    grammar = resources.files("cnndsl").joinpath("grammars/cnndsl.lark").read_text("utf-8")
    path = _cache_path(grammar)
    if path is not None:
        try:
            with open(path, "rb") as fh:
                return Lark.load(fh)
        except Exception:  # missing, partial or from another version: build it
            pass
    parser = Lark(
        grammar,
        parser="lalr",
        lexer="basic",
        postlex=BracketPostLex(),
        transformer=_Builder(),
        maybe_placeholders=False,
    )
    if path is not None:
        _save(parser, path)
    return parser


def _cache_path(grammar: str) -> str | None:
    """``$CNNDSL_CACHE_DIR`` or ``~/.cache/cnndsl``, keyed by everything the tables depend
    on; None when caching is off (``CNNDSL_NO_CACHE``) or the directory is not private.

    The file is a pickle (Lark's own format), so it is only read from a directory that
    belongs to the user and that nobody else can write to.
    """
    if os.environ.get("CNNDSL_NO_CACHE"):
        return None
    base = os.environ.get("CNNDSL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "cnndsl",
    )
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    key = f"{zlib.crc32(grammar.encode()):08x}-{lark.__version__}-py{py}"
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        info = os.stat(base)
    except OSError:
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return None
    return os.path.join(base, f"parser-{key}.lark")


def _save(parser: Lark, path: str) -> None:
    """Write beside the target, then rename: another process never reads half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            parser.save(fh)
        os.replace(tmp, path)
    except Exception:  # a read-only or full disk only costs the cache
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def parse_lark(text: str, literal_limit: int) -> tuple[list[Statement | None], list[Diagnostic]]:
    """Parse with Lark: the statements, or the syntax errors of each broken statement."""
    with _lock:
        _budget.reset(literal_limit)
        try:
            return list(_parse_one(text)), []
        except (UnexpectedInput, SourceLimit) as exc:
            if isinstance(exc, SourceLimit) and exc.fatal:
                raise
        _budget.reset(literal_limit)  # the re-parse reads the literals again
        return recover(text, _parse_one)


def _parse_one(text: str) -> list[Statement]:
    try:
        with _lock:
            return cast(list[Statement], _parser().parse(text))  # the _Builder's, not a Tree
    except VisitError as exc:  # an exception inside a builder callback
        raise exc.orig_exc from None
