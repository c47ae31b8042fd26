"""The parser's fast path: a well-formed source parsed without importing Lark.

The grammar (grammars/cnndsl.lark) is small and LL(1) once ``NAME "="`` is read as
one option, so a recursive descent over one regular expression's tokens builds the
same statements as the LALR parser does. Importing and loading Lark is most of a
cold ``cnndsl check``; this path needs only :mod:`re`.

It only ever answers for text the grammar accepts within the limits: at the first
token it does not expect, a character no terminal matches, a nesting or literal
limit reached, or an integer too long, it returns None, and the caller parses
with Lark, whose errors (cnndsl.syntax_errors) are the only ones the user sees.
tests/test_fastparse.py checks that both parsers build equal statements.
"""

from __future__ import annotations

import re

from .errors import Span
from .limits import MAX_BRACES, MAX_BRACKETS, MAX_DIGITS
from .syntax import Option, Statement, Value

#: the grammar's terminals in the order of Lark's basic lexer (priority first); a
#: test checks each pattern against grammars/cnndsl.lark
TERMINALS = (
    (
        "FLOAT",
        r"[+-]?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)"
        r"(?![A-Za-z0-9_.])",
    ),
    ("DIMS", r"\d+(?:x\d+)+(?![A-Za-z0-9_.])"),
    ("INT", r"[+-]?\d+(?![A-Za-z0-9_.])"),
    ("NAME", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("LPAR", r"\("),
    ("RPAR", r"\)"),
    ("LSQB", r"\["),
    ("RSQB", r"\]"),
    ("LBRACE", r"\{"),
    ("RBRACE", r"\}"),
    ("EQUAL", r"="),
    ("COMMA", r","),
    ("_SEP", r"(?:;|\n)(?:[ \t\f;\n]|#[^\n]*)*"),
    ("COMMENT", r"#[^\n]*"),
    ("WS", r"[ \t\f]+"),
)
_TOKEN = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in TERMINALS))
_SCALARS = frozenset(("INT", "FLOAT", "DIMS", "NAME"))
_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB"}

#: a token: kind, text, span
Tok = tuple[str, str, Span]


class _Decline(Exception):
    """Not for this path: Lark parses the text again and says what is wrong."""


# complex: one loop over the text does the lexer's and the post-lexer's work
def tokens(text: str, literal_budget: int) -> list[Tok]:
    """The tokens the LALR parser would see: whitespace and comments dropped, and the
    separators inside (...) and [...] that are only line breaks (BracketPostLex)."""
    out: list[Tok] = []
    match = _TOKEN.match
    pos, line, line_start, end = 0, 1, 0, len(text)
    brackets = braces = 0
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise _Decline
        kind, tok = m.lastgroup, m.group()
        assert kind is not None
        col = pos - line_start + 1
        pos = m.end()
        if kind == "_SEP":
            if not brackets or ";" in tok:
                out.append((kind, tok, Span(line, col, line, col + 1)))  # the span is unused
            newlines = tok.count("\n")
            if newlines:
                line += newlines
                line_start = m.start() + tok.rfind("\n") + 1
            continue
        if kind in ("WS", "COMMENT"):
            continue
        if kind in _OPEN or kind in ("RPAR", "RSQB"):
            brackets = max(0, brackets + (1 if kind in _OPEN else -1))
            if brackets > MAX_BRACKETS:
                raise _Decline
        elif kind in ("LBRACE", "RBRACE"):
            braces = max(0, braces + (1 if kind == "LBRACE" else -1))
            if braces > MAX_BRACES:
                raise _Decline
        elif brackets and kind != "COMMA":
            literal_budget -= 1
            if literal_budget < 0:
                raise _Decline
        out.append((kind, tok, Span(line, col, line, col + len(tok))))
    out.append(("$END", "", Span(line, pos - line_start + 1, line, pos - line_start + 1)))
    return out


def parse(text: str, literal_budget: int) -> list[Statement] | None:
    """The statements of ``text``, or None when it is not for this path."""
    try:
        return _Parser(tokens(text, literal_budget)).start()
    except _Decline:
        return None


def _join(a: Span, b: Span) -> Span:
    return Span(a.line, a.column, b.end_line, b.end_column)


def scalar(kind: str, tok: str, span: Span) -> Value:
    """An INT, FLOAT, DIMS or NAME token's value; an integer too long declines."""
    if kind == "INT":
        return Value("int", int(tok) if len(tok) <= MAX_DIGITS else _long_int(tok), span)
    if kind == "NAME":
        return Value("name", tok, span)
    if kind == "DIMS":
        parts = tok.split("x")
        if len(tok) > MAX_DIGITS:
            return Value("dims", tuple(_long_int(p) for p in parts), span)
        return Value("dims", tuple(int(p) for p in parts), span)
    return Value("float", float(tok), span)


def _long_int(text: str) -> int:
    """As cnndsl.lalr's: leading zeros dropped, at most MAX_DIGITS digits, else Lark's
    path reports the number."""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > MAX_DIGITS:
        raise _Decline
    return int(digits) if text[0] != "-" else -int(digits)


class _Parser:
    """Recursive descent over the rules of grammars/cnndsl.lark, one method each."""

    __slots__ = ("i", "toks")

    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> str:
        return self.toks[self.i][0]

    def take(self, kind: str) -> Tok:
        tok = self.toks[self.i]
        if tok[0] != kind:
            raise _Decline
        self.i += 1
        return tok

    def start(self) -> list[Statement]:
        """start: _SEP? _stmts"""
        if self.peek() == "_SEP":
            self.i += 1
        stmts = self.stmts()
        self.take("$END")
        return stmts

    def stmts(self) -> list[Statement]:
        """_stmts: _sepd* plain?   _sepd: plain _SEP | blockstmt _SEP?"""
        out: list[Statement] = []
        while self.peek() == "NAME":
            stmt = self.statement()
            out.append(stmt)
            if self.peek() == "_SEP":
                self.i += 1
            elif stmt.body is None:
                break  # a plain statement without a separator ends the list
        return out

    # complex: the items of a statement are a choice of six, as in the grammar's _head
    def statement(self) -> Statement:
        """plain: _head   blockstmt: _head body   _head: NAME (scalar|tuple_|list_|option)*"""
        kind, word, kspan = self.take("NAME")
        toks = self.toks
        args: list[Value] = []
        options: list[Option] = []
        end = kspan
        while True:
            kind, tok, span = toks[self.i]
            if kind == "NAME" and toks[self.i + 1][0] == "EQUAL":
                opt = self.option()
                options.append(opt)
                end = opt.span
                continue
            if kind in _SCALARS:
                self.i += 1
                args.append(scalar(kind, tok, span))
            elif kind in _OPEN:
                args.append(self.seq())
            else:
                break
            end = args[-1].span
        if kind == "EQUAL":
            raise _Decline
        span = _join(kspan, end)
        if kind != "LBRACE":
            return Statement(word, kspan, tuple(args), tuple(options), span)
        body, bspan = self.body()
        return Statement(word, kspan, tuple(args), tuple(options), _join(kspan, bspan), body)

    def body(self) -> tuple[tuple[Statement, ...], Span]:
        """body: LBRACE _SEP? _stmts RBRACE"""
        first = self.take("LBRACE")[2]
        if self.peek() == "_SEP":
            self.i += 1
        stmts = self.stmts()
        return tuple(stmts), _join(first, self.take("RBRACE")[2])

    def option(self) -> Option:
        """option: NAME "=" (INT | FLOAT | DIMS | NAME | tuple_ | list_)"""
        _, key, kspan = self.take("NAME")
        self.i += 1  # the "="
        kind, tok, span = self.toks[self.i]
        if kind in _SCALARS:
            self.i += 1
            value = scalar(kind, tok, span)
        elif kind in _OPEN:
            value = self.seq()
        else:
            raise _Decline
        return Option(key, kspan, value, _join(kspan, value.span))

    def seq(self) -> Value:
        """tuple_: LPAR [_titem ("," _titem)* ","?] RPAR   (_titem: _item | option)
        list_: LSQB [_item ("," _item)* ","?] RSQB"""
        open_kind, _, first = self.toks[self.i]
        close = _OPEN[open_kind]
        self.i += 1
        items: list[Value | Option] = []
        while self.peek() != close:
            kind, tok, span = self.toks[self.i]
            if kind == "NAME" and open_kind == "LPAR" and self.toks[self.i + 1][0] == "EQUAL":
                items.append(self.option())
            elif kind in _SCALARS:
                self.i += 1
                items.append(scalar(kind, tok, span))
            elif kind in _OPEN:
                items.append(self.seq())
            else:
                raise _Decline
            if self.peek() != "COMMA":
                break
            self.i += 1
        last = self.take(close)[2]
        return Value("tuple" if open_kind == "LPAR" else "list", tuple(items), _join(first, last))
