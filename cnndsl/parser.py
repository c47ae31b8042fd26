"""Source text -> list of :class:`~cnndsl.syntax.Statement`.

A well-formed source takes the fast path (:mod:`cnndsl.fastparse`, no Lark import);
anything it declines -- every syntax error, every limit reached inside the text --
is parsed again by Lark's LALR parser (:mod:`cnndsl.lalr`), which reports every
broken statement, not just the first, and marks each as ``None`` so that the
checker can still report independent errors in the statements that did parse.
"""

from __future__ import annotations

from . import fastparse
from .errors import Diagnostic
from .limits import SourceLimit, check_lines, check_size, source_limits
from .syntax import Statement


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_statements(text: str) -> tuple[list[Statement | None], list[Diagnostic]]:
    """Parse ``text`` (newlines already normalised) into statements and syntax errors.

    A statement with a syntax error appears as ``None``, so that the checker knows a
    statement was there (its output shape is unknown) and can still check the rest.
    A limit of cnndsl.limits reached is the only diagnostic: the rest is not read.
    """
    try:
        limits = source_limits()
        check_size(len(text), limits.source, "the model text", "characters")
        check_lines(text, limits.lines)
        fast = fastparse.parse(text, limits.literal)
        if fast is not None:
            return list(fast), []
        from .lalr import parse_lark  # imports Lark: only for what the fast path declines

        return parse_lark(text, limits.literal)
    except SourceLimit as exc:
        return [None], [exc.diagnostic]
