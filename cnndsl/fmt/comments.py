"""Comments and blank lines, put back where they were.

The grammar drops comments, but the language has no strings, so every ``#`` starts one:
they are found in the source text by line. A comment after code stays at the end of the
output line that holds the token it followed; a comment on a line of its own goes before
the output line that holds the token after it, at that line's indentation (one level
deeper before a closing brace or bracket). A blank line between statements stays, one at
most. Trailing comments of consecutive lines are aligned, as gofmt does.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from .layout import CONTINUATION, INDENT, Line, Pos


@dataclass(frozen=True)
class Comment:
    pos: Pos
    text: str
    own_line: bool  # nothing but spaces before it on its line


def find_comments(source_lines: Sequence[str]) -> list[Comment]:
    found = []
    for number, row in enumerate(source_lines, 1):
        at = row.find("#")
        if at >= 0:
            found.append(Comment((number, at + 1), row[at:].rstrip(), not row[:at].strip()))
    return found


def place(lines: list[Line], comments: Sequence[Comment]) -> list[Line]:
    """The output lines with every comment attached or inserted."""
    before, after = _assign(lines, comments)
    out: list[Line] = []
    for i in range(len(lines) + 1):
        if i in before:
            indent = _inner(lines[i]) if i < len(lines) else 0
            out += [_comment_line(c, indent) for c in before[i]]
        if i < len(lines):
            out.append(lines[i])
            out += [_comment_line(c, lines[i].indent) for c in after.get(i, [])]
    return out


Placed = dict[int, list[Comment]]  # output line -> comments on lines of their own


def _assign(lines: list[Line], comments: Sequence[Comment]) -> tuple[Placed, Placed]:
    """Trailing comments onto their lines; the others before the line they precede (or
    after a line that has a trailing comment already)."""
    ends = sorted((end, i) for i, line in enumerate(lines) for end in line.ends)
    starts = sorted((start, i) for i, line in enumerate(lines) for start in line.starts)
    before: Placed = {}
    after: Placed = {}
    for c in comments:
        at = bisect.bisect_right(ends, (c.pos, len(lines))) - 1
        if not c.own_line and at >= 0:
            target = ends[at][1]
            if lines[target].comment is None:
                lines[target].comment = c.text
            else:
                after.setdefault(target, []).append(c)
            continue
        nxt = bisect.bisect_right(starts, (c.pos, len(lines)))
        before.setdefault(starts[nxt][1] if nxt < len(starts) else len(lines), []).append(c)
    return before, after


def _inner(line: Line) -> int:
    """The indentation of what stands before ``line``: deeper before a closer."""
    if line.closer == "}":
        return line.indent + INDENT
    if line.closer:
        return line.indent + CONTINUATION
    return line.indent


def _comment_line(c: Comment, indent: int) -> Line:
    return Line(indent, c.text, is_comment=True, source=c.pos)


def render(lines: Sequence[Line], source_lines: Sequence[str]) -> str:
    """The text: blank lines where the source had some, trailing comments aligned."""
    blank = [_blank_before(lines, i, source_lines) for i in range(len(lines))]
    columns = _comment_columns(lines, blank)
    out: list[str] = []
    for i, line in enumerate(lines):
        if blank[i]:
            out.append("")
        code = " " * line.indent + line.text
        if line.comment is not None:
            code = code.ljust(columns[i]) + line.comment
        out.append(code)
    return "\n".join(out) + "\n" if out else ""


def _blank_before(lines: Sequence[Line], i: int, source_lines: Sequence[str]) -> bool:
    """A blank line in the source before this line's first token, which began its line
    there; never first, after an opening or before a closing brace or bracket."""
    line = lines[i]
    first = line.first
    if i == 0 or first is None or line.closer:
        return False
    if lines[i - 1].text.endswith(("{", "[", "(")):
        return False
    number, column = first
    row = source_lines[number - 1]
    return number > 1 and not row[: column - 1].strip() and not source_lines[number - 2].strip()


def _comment_columns(lines: Sequence[Line], blank: Sequence[bool]) -> list[int]:
    """Where each trailing comment starts: two spaces after the longest code line of its
    run of consecutive lines that all have one."""
    columns = [0] * len(lines)
    i = 0
    while i < len(lines):
        if lines[i].comment is None:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].comment is not None and not blank[j]:
            j += 1
        width = max(lines[k].indent + len(lines[k].text) for k in range(i, j)) + 2
        for k in range(i, j):
            columns[k] = width
        i = j
    return columns
