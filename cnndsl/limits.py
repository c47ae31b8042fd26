"""Every limit on what a model may ask of the tool, in one place (docs/language.md, Limits).

Hostile or careless input (a 10 MB file, brackets nested a thousand deep, repeat
inside repeat inside repeat) must get an error at the place that goes too far, not a
hang, a MemoryError or a traceback. The caps on the size of the source can be raised
with environment variables, for the rare real model that needs it; the caps on what
a source may expand to are fixed, since they only stop runaway expansion.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import NamedTuple

from .errors import MAX_SHOWN, Diagnostic, Span
from .syntax import Option, Statement, Value

__all__ = [
    "ENV",
    "MAX_BENDS",
    "MAX_BRACES",
    "MAX_BRACKETS",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_ERRORS",
    "MAX_NAME",
    "MAX_NESTING",
    "MAX_NODES",
    "MAX_REPEAT",
    "MAX_SHOWN",
    "MAX_SIZE",
    "MAX_STEPS",
    "SourceLimit",
    "SourceLimits",
    "check_lines",
    "check_size",
    "cost",
    "raise_hint",
    "source_limits",
]

#: fixed limits (docs/language.md quotes them; MAX_SHOWN, errors printed, is errors.py's)
MAX_BRACES = 64  # { ... } nested in the source
MAX_BRACKETS = 16  # ( ... ) and [ ... ] nested in one literal
MAX_DIGITS = 18  # digits of an integer literal: below 10**18, so it fits in 64 bits
MAX_NESTING = 64  # structures nested while expanding, the bodies of the blocks used included
MAX_DEPTH = 32  # blocks used inside blocks
MAX_REPEAT = 10_000  # the count of one repeat
MAX_STEPS = 1_000_000  # statements, bodies and literal values visited while expanding
MAX_NODES = 100_000  # layers a model expands to
MAX_NAME = 200  # characters of a layer's name, its stages' path included (it names files)
MAX_SIZE = 10**15  # values in one layer's output; parameters in the whole model
MAX_ERRORS = 1_000  # errors recorded before checking stops
MAX_BENDS = 100_000  # waypoints an SVG diagram lays out: one a row an edge skips (~2 s)


class SourceLimits(NamedTuple):
    """The caps on the source, each raised by its environment variable."""

    source: int = 2_000_000  # bytes (characters, for a string given to cnndsl.parse)
    lines: int = 100_000  # lines, a ';' counting as a line break
    literal: int = 100_000  # numbers and names inside (...) and [...], over the whole file


#: field -> (environment variable, what the limit counts)
ENV = {
    "source": ("CNNDSL_MAX_SOURCE", "bytes"),
    "lines": ("CNNDSL_MAX_LINES", "lines"),
    "literal": ("CNNDSL_MAX_LITERAL", "values"),
}


class SourceLimit(Exception):
    """A limit reached while reading or parsing. ``fatal``: stop there (a budget for the
    whole file is spent); otherwise only the statement is lost (a too-long number)."""

    def __init__(self, diagnostic: Diagnostic, fatal: bool = True):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.fatal = fatal


def source_limits() -> SourceLimits:
    """The caps in force: the defaults, or what the environment sets."""
    values = SourceLimits()._asdict()
    for field, (var, unit) in ENV.items():
        raw = os.environ.get(var)
        if raw is None:
            continue
        try:
            n = int(raw.replace("_", ""), 10) if len(raw) <= 30 else -1
        except ValueError:
            n = -1
        if n < 1:
            raise SourceLimit(
                Diagnostic(f"{var}={raw[:30]!r} is not a positive number of {unit}", None)
            )
        values[field] = n
    return SourceLimits(**values)


def raise_hint(field: str, limit: int) -> str:
    """How to raise a limit: the sentence every message of a raisable limit ends with."""
    var, unit = ENV[field]
    return f"set {var} to a larger number of {unit} to raise the limit ({limit:,})"


def check_size(length: int, limit: int, what: str, unit: str = "bytes") -> None:
    """A source longer than ``limit`` is refused before anything else is done with it."""
    if length > limit:
        raise SourceLimit(
            Diagnostic(
                f"{what} is larger than the limit of {limit:,} {unit}",
                None,
                raise_hint("source", limit),
            )
        )


_LINE_BREAK = re.compile("[\n;]")


def check_lines(text: str, limit: int) -> None:
    """At most ``limit`` lines (and ';'): counted at C speed, located only when over."""
    if text.count("\n") + text.count(";") <= limit:
        return
    last = next(itertools.islice(_LINE_BREAK.finditer(text), limit - 1, None))
    offset = last.end()  # where the first line over the limit starts
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    raise SourceLimit(
        Diagnostic(
            f"the model has more than {limit:,} lines (a ';' counts as a line break)",
            Span.point(line, column),
            raise_hint("lines", limit),
        )
    )


_NESTED = ("tuple", "list")


def _size(v: Value | Option) -> int:
    """Values in a literal (an option in a block's parameters counts by its value)."""
    if isinstance(v, Option):
        return _size(v.value)
    if v.kind in _NESTED:
        return sum(_size(x) for x in v.value)
    return 1


def cost(st: Statement) -> int:
    """Steps one visit of a statement costs: one, and one per value written in it, so
    that a repeated literal of 100,000 numbers spends the budget as fast as its work."""
    n = 1 + len(st.args) + len(st.options)
    for v in st.args:
        if v.kind in _NESTED:
            n += _size(v)
    for o in st.options:
        if o.value.kind in _NESTED:
            n += _size(o.value)
    return n
