"""One error type for everything a user can get wrong, rendered like a compiler.

Every problem in a model is a :class:`Diagnostic` with a :class:`Span`; a failed
parse or check raises one :class:`CnnDslError` carrying all of them, so that a
file with several independent mistakes reports them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: errors printed; the rest are counted in one line (all stay in ``diagnostics``)
MAX_SHOWN = 50
#: characters of a long source line shown around the caret
EXCERPT_WIDTH = 100


@dataclass(frozen=True, slots=True)
class Span:
    """A region of the source: 1-based line and column, end column exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int = 1, column: int = 1) -> Span:
        return cls(line, column, line, column + 1)

    def to_dict(self) -> dict[str, int]:
        return {
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@dataclass(frozen=True, slots=True)
class Note:
    """A secondary location that explains the main one ("first input here")."""

    message: str
    span: Span


@dataclass(frozen=True, slots=True)
class Diagnostic:
    message: str
    span: Span | None
    hint: str | None = None
    notes: tuple[Note, ...] = ()
    #: "error", or "warning" for a lint (cnndsl.lints), which has a stable ``code``
    severity: str = "error"
    code: str | None = None

    @property
    def label(self) -> str:
        """``error``, or ``warning[W401]``: what the rendered line says after the place."""
        return f"{self.severity}[{self.code}]" if self.code else self.severity

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "span": self.span.to_dict() if self.span else None,
            "hint": self.hint,
            "notes": [{"message": n.message, "span": n.span.to_dict()} for n in self.notes],
        }


@dataclass
class CnnDslError(Exception):
    """The library's only exception: one or more diagnostics about one source."""

    diagnostics: list[Diagnostic]
    filename: str = "<string>"
    source: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__init__(self.diagnostics[0].message if self.diagnostics else "error")

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """``file:line:col: error: msg``, the source line, a caret under the token, a hint."""
        lines = self.source.splitlines() if self.source is not None else []
        shown = [render_diagnostic(d, self.filename, lines) for d in self.diagnostics[:MAX_SHOWN]]
        more = len(self.diagnostics) - MAX_SHOWN
        if more > 0:
            shown.append(f"\N{HORIZONTAL ELLIPSIS} and {more:,} more error{'s' * (more != 1)}")
        return "\n".join(shown)

    def to_dict(self) -> dict[str, object]:
        return {"file": self.filename, "errors": [d.to_dict() for d in self.diagnostics]}


#: bidirectional-text controls: they reorder what a terminal shows ("Trojan source")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(ch: str) -> str:
    """A character as printed: control characters (escape sequences that a terminal would
    obey) and bidi controls spelled out as ``\\x1b``, ``\\u202e``; tabs kept."""
    code = ord(ch)
    if ch != "\t" and (code < 0x20 or 0x7F <= code < 0xA0):
        return f"\\x{code:02x}"
    if ch in _BIDI:
        return f"\\u{code:04x}"
    return ch


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: see :func:`_shown`."""
    if text.isprintable():
        return text
    return "".join(map(_shown, text))


def _excerpt(span: Span, lines: list[str]) -> list[str]:
    if span.line == len(lines) + 1:
        lines = [*lines, ""]  # an empty file, or the end of the last line
    if not 1 <= span.line <= len(lines):
        return []
    text = lines[span.line - 1]
    start = min(span.column - 1, len(text))
    end = span.end_column - 1 if span.end_line == span.line else len(text)
    text, start, end = _window(text, start, max(start + 1, min(end, len(text))))
    shown = [_shown(ch) for ch in text]
    width = max(1, sum(len(s) for s in shown[start:end]))
    gutter = str(span.line)
    # Reuse the line's own tabs so that the caret lines up in any editor; an escaped
    # character is as wide as its spelling.
    lead = "".join(s if s == "\t" else " " * len(s) for s in shown[:start])
    return [
        f" {gutter} | {''.join(shown)}",
        f" {' ' * len(gutter)} | {lead}^{'~' * (width - 1)}",
    ]


def _window(text: str, start: int, end: int) -> tuple[str, int, int]:
    """A long line (a generated file's, a weight literal's) cut to EXCERPT_WIDTH
    characters around ``start``: the text shown and the span's place in it."""
    if len(text) <= EXCERPT_WIDTH:
        return text, start, end
    a = max(0, min(start - EXCERPT_WIDTH // 5, len(text) - EXCERPT_WIDTH))
    b = a + EXCERPT_WIDTH
    head = "..." if a else ""
    tail = "..." if b < len(text) else ""
    shift = len(head) - a
    return head + text[a:b] + tail, start + shift, min(end, b) + shift


def render_diagnostic(diag: Diagnostic, filename: str, lines: list[str]) -> str:
    """Everything from the source (the file name, tokens quoted in messages, the excerpt)
    goes through :func:`printable`: an error must not be able to drive the terminal."""
    filename = printable(filename)
    where = f"{filename}:{diag.span.line}:{diag.span.column}" if diag.span else filename
    out = [f"{where}: {diag.label}: {printable(diag.message)}"]
    if diag.span:
        out += _excerpt(diag.span, lines)
    for note in diag.notes:
        out.append(
            f"{filename}:{note.span.line}:{note.span.column}: note: {printable(note.message)}"
        )
        out += _excerpt(note.span, lines)
    if diag.hint:
        out.append(f"  hint: {printable(diag.hint)}")
    return "\n".join(out)
