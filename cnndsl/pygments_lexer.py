"""A Pygments lexer for cnndsl, registered as ``cnndsl`` through the ``pygments.lexers``
entry point (``pip install 'cnndsl[editor]'``): ``pygmentize -l cnndsl model.cnn``, and
fenced code blocks in Sphinx, MkDocs or any tool built on Pygments.

Its word lists come from the language itself, never written out here: statement keywords
from the layer registry and the structures, value words (activations, paddings, pooling
ops) from the options' choices. A word is a keyword only where a statement starts: at the
beginning of a line, after ``;``, ``{`` or ``}`` (``concat`` is a keyword in ``concat {``,
an activation-like value nowhere). Unknown statement heads are block calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pygments.lexer import RegexLexer, bygroups
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    Text,
    Whitespace,
    _TokenType,
)

from .layers import REGISTRY
from .structures import STRUCTURES

__all__ = ["CnnDslLexer", "statement_keywords", "value_words"]


def statement_keywords() -> tuple[frozenset[str], frozenset[str]]:
    """(structure keywords, layer keywords): what may start a statement."""
    structures = frozenset({*STRUCTURES, "model"})
    return structures, frozenset(REGISTRY) - structures


def value_words() -> frozenset[str]:
    """Every word an option accepts as a value: relu, same, max, bilinear..."""
    words: set[str] = set()
    for entry in REGISTRY.values():
        for spec in entry.cls.options().values():
            words.update(getattr(spec.type, "choices", ()))
    return frozenset(words)


STRUCTURE_WORDS, LAYER_WORDS = statement_keywords()
VALUE_WORDS = value_words()
BOOLEANS = frozenset({"true", "false"})  # what cnndsl.options.BoolT accepts

_FLOAT = r"[+-]?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?![\w.])"
_DIMS = r"\d+(?:x\d+)+(?![\w.])"
_INT = r"[+-]?\d+(?![\w.])"
_NAME = r"[A-Za-z_]\w*"


def _head(lexer: Any, match: Any) -> Iterator[tuple[int, _TokenType, str]]:
    word = match.group(0)
    if word in STRUCTURE_WORDS:
        kind = Keyword
    elif word in LAYER_WORDS:
        kind = Keyword.Type
    else:
        kind = Name.Function  # a block's use
    yield match.start(), kind, word


def _word(lexer: Any, match: Any) -> Iterator[tuple[int, _TokenType, str]]:
    word = match.group(0)
    if word in BOOLEANS:
        kind = Keyword.Constant
    elif word in VALUE_WORDS:
        kind = Name.Builtin
    else:
        kind = Name
    yield match.start(), kind, word


_VALUES = [
    (r"#.*?$", Comment.Single),
    (r"[ \t\f]+", Whitespace),
    (_FLOAT, Number.Float),
    (_DIMS, Number),
    (_INT, Number.Integer),
    (rf"({_NAME})(\s*)(=)", bygroups(Name.Attribute, Whitespace, Operator)),
    (_NAME, _word),
]


class CnnDslLexer(RegexLexer):  # type: ignore[misc]  # Pygments has no type hints
    name = "cnndsl"
    # Pygments reads these class attributes as lists
    aliases = ["cnndsl", "cnn"]  # noqa: RUF012
    filenames = ["*.cnn"]  # noqa: RUF012
    mimetypes = ["text/x-cnndsl"]  # noqa: RUF012
    url = "https://github.com/cnndsl/cnndsl"

    tokens = {  # noqa: RUF012
        "root": [
            (r"#.*?$", Comment.Single),
            (r"\s+", Whitespace),
            (r"[;{}]", Punctuation),
            (_NAME, _head, "statement"),
            (r".", Text),  # a stray character: plain text, never an error token
        ],
        "statement": [
            (r"\n", Whitespace, "#pop"),
            (r";", Punctuation, "#pop"),
            (r"\{", Punctuation, "#pop"),
            (r"\}", Punctuation, "#pop"),
            (r"[(\[]", Punctuation, "brackets"),
            (r"[)\],]", Punctuation),
            *_VALUES,
            (r".", Text),
        ],
        "brackets": [  # newlines do not end a statement inside ( ) and [ ]
            (r"\s+", Whitespace),
            (r"[(\[]", Punctuation, "#push"),
            (r"[)\]]", Punctuation, "#pop"),
            (r",", Punctuation),
            *_VALUES,
            (r".", Text),
        ],
    }
