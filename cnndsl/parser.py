"""Source text -> list of :class:`~cnndsl.syntax.Statement` (Lark, LALR).

The grammar is loaded once per process and the LALR parser calls the AST
builder directly, so no parse tree is ever built. A syntax error switches to a
slower, statement-by-statement re-parse that reports every broken statement, not
just the first, and marks each as ``None`` so that the checker can still report
independent errors in the statements that did parse.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import zlib
from collections.abc import Iterator
from functools import cache
from importlib import resources

import lark
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.lark import PostLex

from .errors import Diagnostic, Span
from .syntax import Option, Statement, Value

_OPEN = {"LPAR": "(", "LSQB": "["}
_CLOSE = {"RPAR", "RSQB"}


class BracketPostLex(PostLex):
    """Drop statement separators inside (...) and [...]: a weight literal may span lines."""

    always_accept = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for tok in stream:
            kind = tok.type
            if kind in _OPEN:
                depth += 1
            elif kind in _CLOSE:
                depth = max(0, depth - 1)
            elif kind == "_SEP" and depth and ";" not in tok:
                continue
            yield tok


def _span(tok: Token) -> Span:
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
    span = Span(tok.line, tok.column, tok.end_line, tok.end_column)  # type: ignore[arg-type]
    if kind == "INT":
        return Value("int", int(tok), span)
    if kind == "NAME":
        return Value("name", str(tok), span)
    if kind == "DIMS":
        return Value("dims", tuple(int(p) for p in tok.split("x")), span)
    return Value("float", float(tok), span)


class _Builder(Transformer):
    """Called by the LALR parser as it reduces: builds the syntax tree directly."""

    def start(self, children: list[Statement]) -> list[Statement]:
        return children

    def plain(self, children: list) -> Statement:
        kw = children[0]
        args = []
        options = []
        body = None
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

    def body(self, children: list) -> _Body:
        stmts = tuple(c for c in children if type(c) is Statement)
        return _Body(stmts, _join(_span(children[0]), _span(children[-1])))

    def option(self, children: list) -> Option:
        key, value = children
        if type(value) is Token:
            value = _scalar(value)
        kspan = _span(key)
        return Option(str(key), kspan, value, _join(kspan, value.span))

    def _seq(self, kind: str, children: list) -> Value:
        items = tuple(_scalar(c) if type(c) is Token else c for c in children[1:-1])
        # a block header's parameters may hold options: (filters, convs=2)
        return Value(kind, items, _join(_span(children[0]), _span(children[-1])))

    def tuple_(self, children: list) -> Value:
        return self._seq("tuple", children)

    def list_(self, children: list) -> Value:
        return self._seq("list", children)


_lock = threading.Lock()


@cache
def _parser() -> Lark:
    """The LALR parser, built once per process — or loaded from the user's cache, which
    makes a cold `cnndsl check` about 20 ms faster than building the tables anew."""
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


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_statements(text: str) -> tuple[list[Statement | None], list[Diagnostic]]:
    """Parse ``text`` (newlines already normalised) into statements and syntax errors.

    A statement with a syntax error appears as ``None``, so that the checker knows a
    statement was there (its output shape is unknown) and can still check the rest.
    """
    try:
        with _lock:
            return list(_parse_one(text)), []
    except UnexpectedInput:
        pass
    statements: list[Statement | None] = []
    diags: list[Diagnostic] = []
    for chunk in _chunks(text):
        if isinstance(chunk, Diagnostic):
            diags.append(chunk)
            statements.append(None)
            continue
        line, col, piece = chunk
        try:
            with _lock:
                stmts = _parse_one(piece)
        except UnexpectedInput as exc:
            diags.append(_syntax_diagnostic(exc, piece, line, col))
            statements.append(None)
            continue
        statements.extend(_shift_statement(s, line - 1, col - 1) for s in stmts)
    return statements, diags


def _parse_one(text: str) -> list[Statement]:
    try:
        return _parser().parse(text)  # type: ignore[return-value]
    except VisitError as exc:  # an exception inside a builder callback
        raise exc.orig_exc from None


# ---------------------------------------------------------------- error path

_CLOSER_OF = {"(": ")", "[": "]", "{": "}"}


def _chunks(text: str) -> Iterator[tuple[int, int, str] | Diagnostic]:
    """Split at top-level ';' and newlines, as the grammar does, keeping positions.

    Yields ``(line, column, text)`` for each statement, or a Diagnostic for a
    statement whose bracket never closes.
    """
    n = len(text)
    i = start = 0
    line = start_line = 1
    col = start_col = 1
    opened: list[tuple[str, int, int]] = []
    while True:
        ch = text[i] if i < n else "\n"
        if ch == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            col += j - i
            i = j
            continue
        if i >= n or (ch in ";\n" and not opened):
            if i >= n and opened:
                br, bl, bc = opened[0]
                yield Diagnostic(
                    f"'{br}' is never closed",
                    Span(bl, bc, bl, bc + 1),
                    hint=f"add the matching '{_CLOSER_OF[br]}'",
                )
            elif text[start:i].strip():
                yield (start_line, start_col, text[start:i])
            if i >= n:
                return
            opened.clear()
            i += 1
            if ch == "\n":
                line, col = line + 1, 1
            else:
                col += 1
            start, start_line, start_col = i, line, col
            continue
        if ch in "([{":
            opened.append((ch, line, col))
        elif ch in ")]}" and opened:
            opened.pop()
        if ch == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1


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
    )


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


def _syntax_diagnostic(exc: UnexpectedInput, piece: str, line: int, col: int) -> Diagnostic:
    """Turn Lark's exception into words a user reads, at the right place in the file."""

    def at(ln: int, c: int, width: int = 1) -> Span:
        return _shift(Span(ln, c, ln, c + width), line - 1, col - 1)

    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        m = _WORD_RE.match(piece, pos)
        word = m.group(0) if m else piece[pos]
        span = at(exc.line, exc.column, max(1, len(word)))
        if word[0].isdigit() or word[0] in "+-.":
            return Diagnostic(
                f"'{word}' is not a number or a size",
                span,
                hint="write numbers like 64 or 0.5, sizes like 3x3 or 28x28x1, "
                "and put a space between words",
            )
        ch = exc.char
        hint = None
        if not ch.isascii():
            hint = "names use ASCII letters, digits and '_'"
        elif ch in "\"'":
            hint = "cnndsl has no strings: write names without quotes"
        shown = ch if ch.isprintable() else repr(ch)[1:-1]
        return Diagnostic(f"unexpected character '{shown}'", at(exc.line, exc.column), hint=hint)

    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = set(exc.expected) - {"$END"} if tok.type != "$END" else set(exc.expected)
    if tok.type in ("$END", "_SEP"):
        # Point just past the last word of the statement, not after a comment.
        before = piece[: tok.start_pos] if tok.type == "_SEP" else piece
        lines = before.split("\n")
        while len(lines) > 1 and not lines[-1].split("#", 1)[0].strip():
            lines.pop()
        last = lines[-1].split("#", 1)[0].rstrip()
        span = at(len(lines), len(last) + 1)
    else:
        span = at(tok.line, tok.column, max(1, len(str(tok))))
    exp = _expected(expected)
    if tok.type == "EQUAL":
        return Diagnostic("'=' must follow an option name, as in stride=2", span)
    if "NAME" in expected and expected <= {"NAME", "_SEP"} and tok.type != "$END":
        msg = f"a statement starts with a layer name, found {_found(tok)}"
        return Diagnostic(msg, span, hint="for example: conv 64 3x3 relu")
    if expected >= _VALUE_TERMINALS and tok.type in ("_SEP", "$END"):
        return Diagnostic(f"expected a value, found {_found(tok)}", span)
    return Diagnostic(f"unexpected {_found(tok)}; expected {exp}", span)
