"""Statements -> output lines, each remembering which source tokens it holds.

The printer knows nothing about layers: a statement is a keyword, values, ``key=value``
options and an optional ``{ ... }`` body, so any statement the grammar accepts (a
``stage NAME { ... }``, ``name=`` on a shortcut) formats the same way. What it knows of
the language, it reads from the registry: the canonical order of a kind's options.

The comments are not printed here (cnndsl.fmt.comments places them); the printer only
keeps, for every output line, the source positions of what it holds, and breaks open
any literal or body that holds a comment so that each comment has a line to go to.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import Span
from ..layers import REGISTRY
from ..syntax import Option, Statement, Value

WIDTH = 100  # the line length the formatter aims at (ruff's, in this project)
INDENT = 2  # a block's statements
CONTINUATION = 4  # the items of a literal broken over lines

Pos = tuple[int, int]  # (line, column), 1-based, as in Span


@dataclass
class Line:
    """One output line: its indentation, its code and the source tokens it holds."""

    indent: int
    text: str = ""
    starts: list[Pos] = field(default_factory=list)  # where each token held starts
    ends: list[Pos] = field(default_factory=list)  # and where it ends
    comment: str | None = None  # a trailing comment, placed later
    closer: str = ""  # "}" or "]": the line closes a body or a literal
    is_comment: bool = False  # a comment on a line of its own
    source: Pos | None = None  # a comment line's place in the source

    def hold(self, text: str, span: Span | None) -> None:
        self.text += text
        if span is not None:
            self.starts.append((span.line, span.column))
            self.ends.append((span.end_line, span.end_column))

    @property
    def first(self) -> Pos | None:
        if self.source is not None:
            return self.source
        return min(self.starts) if self.starts else None


def _point(line: int, column: int) -> Span:
    return Span(line, column, line, column + 1)


def _float(v: float, written: str) -> str:
    """The shortest spelling that reads back as the same number: ``1e-5``, ``0.5``."""
    if not math.isfinite(v):
        return written  # 1e999: only the writer's spelling reads back as infinity
    text = repr(v)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


class Printer:
    """Prints statements into :attr:`lines`; ``inside(span)`` tells whether a comment
    lies strictly inside a span (such a literal or body is broken over lines)."""

    def __init__(self, source_lines: Sequence[str], comments: Sequence[Pos]) -> None:
        self.src = source_lines
        self.comments = sorted(comments)
        self.lines: list[Line] = []
        self.blocks: dict[str, list[str]] = {}  # block name -> its parameters, in order

    # ------------------------------------------------------------ helpers

    def inside(self, span: Span) -> bool:
        start, end = (span.line, span.column), (span.end_line, span.end_column)
        at = bisect.bisect_right(self.comments, start)
        return at < len(self.comments) and self.comments[at] < end

    def written(self, span: Span) -> str:
        return self.src[span.line - 1][span.column - 1 : span.end_column - 1]

    @property
    def line(self) -> Line:
        return self.lines[-1]

    def column(self) -> int:
        return self.line.indent + len(self.line.text)

    def scalar(self, v: Value) -> str:
        if v.kind == "float":
            return _float(float(v.value), self.written(v.span))
        if v.kind == "dims":
            return "x".join(str(d) for d in v.value)
        return str(v.value)  # int (canonical digits) or name

    def inline(self, v: Value | Option) -> str:
        if isinstance(v, Option):
            return f"{v.key}={self.inline(v.value)}"
        if v.kind in ("tuple", "list"):
            inner = ", ".join(self.inline(x) for x in v.value)
            return f"({inner})" if v.kind == "tuple" else f"[{inner}]"
        return self.scalar(v)

    # ------------------------------------------------------------ values

    def value(self, v: Value | Option) -> None:
        if isinstance(v, Option):
            self.line.hold(f"{v.key}=", v.key_span)
            self.value(v.value)
            return
        if v.kind not in ("tuple", "list"):
            self.line.hold(self.scalar(v), v.span)
            return
        text = self.inline(v)
        if not self.inside(v.span) and self.column() + len(text) <= WIDTH:
            self.line.hold(text, v.span)
            return
        self.broken(v)

    def broken(self, v: Value) -> None:
        """A literal too long for its line, or holding comments: one item per line (or,
        for plain numbers without comments, as many as fit), then the closing bracket on
        a line of its own."""
        indent = self.line.indent
        opening, closing = ("(", ")") if v.kind == "tuple" else ("[", "]")
        sp = v.span
        self.line.hold(opening, _point(sp.line, sp.column))
        items: tuple[Value | Option, ...] = v.value
        flat = all(isinstance(x, Value) and x.kind not in ("tuple", "list") for x in items)
        if flat and not self.inside(v.span):
            self.filled(items, indent + CONTINUATION)
        else:
            for item in items:
                self.lines.append(Line(indent + CONTINUATION))
                self.value(item)
                self.line.hold(",", None)
        last = self.line
        self.lines.append(Line(indent, closer=closing))
        bracket = _point(sp.end_line, sp.end_column - 1)
        if items and items[-1].span.end_line == sp.end_line:
            # `... [1, 2, 1]]  # Sobel y`: the comment after the bracket is the last item's
            last.ends.append((bracket.end_line, bracket.end_column))
            self.line.hold(closing, None)
        else:
            self.line.hold(closing, bracket)

    def filled(self, items: Sequence[Value | Option], indent: int) -> None:
        self.lines.append(Line(indent))
        for item in items:
            text = self.inline(item) + ","
            if self.line.text and self.column() + 1 + len(text) > WIDTH:
                self.lines.append(Line(indent))
            self.line.hold((" " if self.line.text else "") + text, _span_of(item))

    # ------------------------------------------------------------ statements

    def statements(self, statements: Sequence[Statement], indent: int) -> None:
        for st in statements:
            self.lines.append(Line(indent))
            self.statement(st)

    def statement(self, st: Statement) -> None:
        self.line.hold(st.keyword, st.keyword_span)
        for i, a in enumerate(st.args):
            # `block vgg(filters, convs=2)`: the parameters stick to the block's name
            header = st.keyword == "block" and i == 1 and a.kind == "tuple"
            self.line.hold("" if header else " ", None)
            self.value(a)
        for o in self.ordered(st):
            self.line.hold(" ", None)
            self.value(o)
        if st.body is not None:
            self.body(st)

    def ordered(self, st: Statement) -> list[Option]:
        """Options in the canonical order: a kind's in the order its layer declares them,
        a block's in the order of its parameters, others as written; ``name=`` last.
        Positional values keep their order: they bind by form, in turn."""
        order = self.blocks.get(st.keyword)
        if order is None:
            entry = REGISTRY.get(st.keyword)
            order = list(entry.cls.options()) if entry is not None else []
        rank = {k: i for i, k in enumerate(order)}

        def key(o: Option) -> int:
            if o.key == "name":
                return len(order) + 1
            return rank.get(o.key, len(order))

        return sorted(st.options, key=key)  # stable: a key given twice keeps its order

    def body(self, st: Statement) -> None:
        assert st.body is not None
        brace = self.brace(st)
        closing = _point(st.span.end_line, st.span.end_column - 1)
        braces = Span(brace.line, brace.column, closing.end_line, closing.end_column)
        if self.fits_inline(st, braces):
            return
        indent = self.line.indent
        self.line.hold(" {", brace)
        self.statements(st.body, indent + INDENT)
        self.lines.append(Line(indent, closer="}"))
        self.line.hold("}", closing)

    def brace(self, st: Statement) -> Span:
        """Where the ``{`` of ``st`` is: after its head, on the same line (the grammar
        allows only spaces between)."""
        last: Span = st.keyword_span
        spans = [v.span for v in st.args] + [o.span for o in st.options]
        for sp in spans:
            if (sp.end_line, sp.end_column) > (last.end_line, last.end_column):
                last = sp
        row = self.src[last.end_line - 1]
        column = row.index("{", last.end_column - 1) + 1
        return _point(last.end_line, column)

    def fits_inline(self, st: Statement, braces: Span) -> bool:
        """An empty body, or one statement without a body of its own, stays on the
        line when it fits and holds no comment: ``repeat 3 { conv 8 3x3 }``."""
        assert st.body is not None
        if self.inside(braces) or len(st.body) > 1:
            return False
        if not st.body:
            self.line.hold(" { }", braces)
            return True
        inner = st.body[0]
        if inner.body is not None:
            return False
        trial = Printer(self.src, self.comments)
        trial.blocks = self.blocks
        trial.lines.append(Line(0, " " * (self.column() + 3)))
        trial.statement(inner)
        if len(trial.lines) > 1 or len(trial.line.text) + 2 > WIDTH:
            return False
        self.line.hold(" { ", braces)
        self.line.text += trial.line.text[self.column() :]
        self.line.starts += trial.line.starts
        self.line.ends += trial.line.ends
        self.line.hold(" }", None)
        return True


def _span_of(v: Value | Option) -> Span:
    return v.span


def block_parameters(statements: Sequence[Statement]) -> dict[str, list[str]]:
    """``block NAME(a, b=2) { ... }`` -> {NAME: [a, b]}: the order of a call's options."""
    found: dict[str, list[str]] = {}
    for st in statements:
        if st.keyword != "block" or not st.args or st.args[0].kind != "name":
            continue
        params: list[str] = []
        if len(st.args) > 1 and st.args[1].kind == "tuple":
            for p in st.args[1].value:
                params.append(p.key if isinstance(p, Option) else str(p.value))
        found.setdefault(str(st.args[0].value), params)
    return found
