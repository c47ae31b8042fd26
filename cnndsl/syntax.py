"""The syntax tree the parser builds: generic statements, no layer knowledge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Span


@dataclass(frozen=True, slots=True)
class Value:
    """A literal as written: kind is int, float, dims, name, tuple or list.

    ``value`` holds the Python value (``dims`` -> tuple of ints; ``tuple``/``list``
    -> tuple of :class:`Value`), so that errors can point inside a literal.
    """

    kind: str
    value: Any  # int, float, str, tuple[int, ...] or tuple[Value | Option, ...] by kind
    span: Span

    def text(self) -> str:
        """The literal as a user would write it, for messages."""
        if self.kind == "dims":
            return "x".join(str(d) for d in self.value)
        if self.kind in ("tuple", "list"):
            inner = ", ".join(v.text() for v in self.value)
            return f"({inner})" if self.kind == "tuple" else f"[{inner}]"
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    key_span: Span
    value: Value
    span: Span

    #: an option may stand in a tuple (a block's parameters); there it is not a number
    kind = "option"

    def text(self) -> str:
        return f"{self.key}={self.value.text()}"


@dataclass(frozen=True, slots=True)
class Statement:
    keyword: str
    keyword_span: Span
    args: tuple[Value, ...]
    options: tuple[Option, ...]
    span: Span
    #: the statements between ``{`` and ``}``, or None when the statement has no block
    body: tuple[Statement, ...] | None = None
