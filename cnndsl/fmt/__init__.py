"""``cnndsl fmt``: one canonical layout for a model's source.

- one statement per line; a body's statements indented by two spaces, its closing brace
  on a line of its own; an empty body, or one of a single statement without a body,
  stays on its line when it fits (``repeat 3 { conv 8 3x3 }``);
- values spelled one way (``1e-5``, ``0.5``, ``3x3``), ``key=value`` options in the order
  their layer (or block) declares them, ``name=`` last; positional values as written;
- a literal too long for its line, or holding comments, broken one item per line;
- comments where they were, trailing comments of consecutive lines aligned; one blank
  line at most where the source had blank lines.

It is idempotent, and the formatted text parses to the same statements (it checks so
itself before returning, as black does), so the model it describes is the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import CnnDslError
from ..parser import normalize_newlines, parse_statements
from ..structures import walk
from ..syntax import Option, Statement, Value
from .comments import find_comments, place, render
from .layout import Printer, block_parameters

__all__ = ["FormatError", "format_source"]


class FormatError(AssertionError):
    """The formatted text would not mean what the source meant: a bug of ours."""


def format_source(text: str, filename: str = "<string>", verify: bool = True) -> str:
    """The canonical layout of ``text``; a CnnDslError if it does not parse. With
    ``verify`` (the default), the result is parsed again and compared with the source."""
    text = normalize_newlines(text).removeprefix("\ufeff")
    statements = _statements(text, filename)
    source_lines = text.split("\n")
    comments = find_comments(source_lines)
    printer = Printer(source_lines, [c.pos for c in comments])
    printer.blocks = block_parameters(list(walk(statements)))
    printer.statements(statements, 0)
    result = render(place(printer.lines, comments), source_lines)
    if not verify:
        return result
    again = _statements(result, filename)
    if _canonical(again, printer) != _canonical(statements, printer):
        raise FormatError(f"{filename}: formatting would change the model; please report this")
    if [c.text for c in find_comments(result.split("\n"))] != [c.text for c in comments]:
        raise FormatError(f"{filename}: formatting would lose a comment; please report this")
    return result


def _statements(text: str, filename: str) -> list[Statement]:
    statements, errors = parse_statements(text)
    if errors:
        raise CnnDslError(errors, filename, text)
    return [st for st in statements if st is not None]


def _canonical(statements: Sequence[Statement], printer: Printer) -> list[Any]:
    """What the statements mean, spans and layout aside: options in canonical order."""
    return [
        (
            st.keyword,
            [_value(a) for a in st.args],
            [(o.key, _value(o.value)) for o in printer.ordered(st)],
            None if st.body is None else _canonical(st.body, printer),
        )
        for st in statements
    ]


def _value(v: Value | Option) -> Any:
    if isinstance(v, Option):
        return ("option", v.key, _value(v.value))
    if v.kind in ("tuple", "list"):
        return (v.kind, [_value(x) for x in v.value])
    if v.kind == "float" and math.isnan(v.value):
        return ("float", "nan")
    return (v.kind, v.value)
