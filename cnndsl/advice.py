"""Hints that name the fix for the mistakes a newcomer makes: the word another framework
uses (``maxpool 2``, ``Conv2D``, ``fc 10``), a block called like a function (``vgg(32)``),
a tuple where a size is meant, an image written channels-first.

Each function returns the hint (or a better message) for one kind of mistake, or None
when it does not apply; the checker keeps its own words otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .errors import Span
from .layers import REGISTRY, Shape, fmt_shape
from .syntax import Statement, Value

#: another framework's word (normalised: lower case, no '_', no 1d/2d/3d) -> the statement
#: that replaces it, and the words of the original to drop
FRAMEWORK_WORDS: dict[str, str] = {
    "maxpool": "pool max",
    "maxpooling": "pool max",
    "avgpool": "pool avg",
    "averagepool": "pool avg",
    "averagepooling": "pool avg",
    "avgpooling": "pool avg",
    "pooling": "pool max",
    "convolution": "conv",
    "convd": "conv",
    "batchnormalization": "batchnorm",
    "bn": "batchnorm",
    "batchnormd": "batchnorm",
    "layernormalization": "layernorm",
    "convtranspose": "deconv",
    "transposedconv": "deconv",
    "convolutiontranspose": "deconv",
    "deconvolution": "deconv",
    "upconv": "deconv",
    "fc": "dense",
    "fullyconnected": "dense",
    "linear": "dense",
    "affine": "dense",
    "global": "globalpool",
    "globalmaxpool": "globalpool max",
    "globalmaxpooling": "globalpool max",
    "globalavgpool": "globalpool avg",
    "globalaveragepool": "globalpool avg",
    "globalaveragepooling": "globalpool avg",
    "adaptiveavgpool": "globalpool avg",
    "adaptivemaxpool": "globalpool max",
    "upsampling": "upsample",
    "zeropadding": "zeropad",
    "padding": "zeropad",
    "cropping": "crop",
    "depthwiseconv": "depthwise",
    "separableconv": "separable",
    "concatenate": "concat",
    "cat": "concat",
    "inputlayer": "input",
    "leakyrelu": "leaky_relu",
    "swish": "silu",
}
#: words that only restate the keyword they follow (`global max pool`)
_FILLER = {"pool", "pooling", "layer"}
_RENAMED = {"average": "avg", "mean": "avg"}


def _normal(word: str) -> str:
    return re.sub(r"[123]d", "", word.lower().replace("_", ""))


def _rest(st: Statement, replacement: str) -> str:
    """The statement's values and options, written back as the user wrote them."""
    words = [a.text() for a in st.args]
    if replacement.split()[0] in ("pool", "globalpool"):
        words = [_RENAMED.get(w, w) for w in words if w not in _FILLER]
        if len(replacement.split()) > 1:  # the op is in the replacement: drop a repeat of it
            words = [w for w in words if w not in ("max", "avg")]
    words += [f"{o.key}={o.value.text()}" for o in st.options]
    return " ".join([replacement, *words])


def framework_word(st: Statement) -> str | None:
    """``maxpool 2`` -> "did you mean `pool max 2`? (...)": the whole corrected statement."""
    word = st.keyword
    norm = _normal(word)
    replacement = FRAMEWORK_WORDS.get(norm)
    if replacement is None and norm in REGISTRY and norm != word:
        replacement = norm  # BatchNorm, Dropout, ReLU
    if replacement is None and word.lower() in REGISTRY:
        replacement = word.lower()
    if replacement is None:
        return None
    why = " (keywords are lower case)" if replacement == word.lower() else ""
    return f"did you mean `{_rest(st, replacement)}`?{why}"


def missing_choice(st: Statement, choices: Sequence[str]) -> str:
    """``pool 2`` -> "write `pool max 2` or `pool avg 2`": the statement with each choice."""
    rest = " ".join([a.text() for a in st.args] + [f"{o.key}={o.value.text()}" for o in st.options])
    ways = [f"`{' '.join(w for w in (st.keyword, c, rest) if w)}`" for c in choices]
    return "write " + " or ".join(ways)


def misused_keyword(st: Statement) -> tuple[str, str] | None:
    """A keyword of the language used as another framework's: ``linear 10`` (PyTorch's
    nn.Linear) is ``dense 10`` here, where ``linear`` is the identity activation."""
    if st.keyword == "linear" and st.args and all(a.kind == "int" for a in st.args):
        fixed = _rest(st, "dense")
        return (
            "`linear` is the identity activation here, and takes no size",
            f"a fully connected layer is `{fixed}`",
        )
    return None


def paren_call(st: Statement, block: str) -> tuple[str, str] | None:
    """``vgg(32)``: a block used like a function call; the fix is ``vgg 32``."""
    if len(st.args) != 1 or st.args[0].kind != "tuple":
        return None
    args = st.args[0]
    if not _touches(st, args):
        return None
    inner = " ".join(
        v.text() if isinstance(v, Value) else f"{v.key}={v.value.text()}" for v in args.value
    )
    fixed = " ".join(p for p in (block, inner) if p)
    return (
        f"block '{block}' takes its values without parentheses",
        f"write `{fixed}`",
    )


def _statement(st: Statement, replace: dict[int, str]) -> str:
    """The statement as written, its values at the indexes of ``replace`` replaced (an
    empty string drops a value)."""
    words = [replace.get(i, a.text()) for i, a in enumerate(st.args)]
    options = [f"{o.key}={o.value.text()}" for o in st.options]
    return " ".join(w for w in [st.keyword, *words, *options] if w)


def tuple_as_size(st: Statement, v: Value, size_free: bool) -> tuple[str, str] | None:
    """``conv 64 (3,3)``, ``pool max (2,1)``: a size is written 3x3; ``dense(10)``: values
    follow the keyword."""
    nums = _ints(v)
    if not nums:
        return None
    index = next(i for i, a in enumerate(st.args) if a is v)
    if size_free and len(nums) in (2, 3):
        size = "x".join(nums)
        fixed = _statement(st, {index: size})
        return (f"sizes are written like {size}, not {v.text()}", f"write `{fixed}`")
    if _touches(st, v):
        fixed = _statement(st, {index: " ".join(nums)})
        return (f"{st.keyword} takes its values without parentheses", f"write `{fixed}`")
    return None


def _ints(v: Value) -> list[str]:
    """The numbers of a tuple of integers, as written; [] for any other value."""
    if v.kind != "tuple" or any(x.kind != "int" for x in v.value):
        return []
    return [str(x.value) for x in v.value]


def _touches(st: Statement, v: Value) -> bool:
    """``dense(10)``: the value starts right after the keyword, like a call."""
    kw = st.keyword_span
    return v.span.line == kw.line and v.span.column == kw.end_column


def spaced_size(st: Statement, given: Value, run: Sequence[Value]) -> tuple[str, Span, str]:
    """``input 28 28 1``: one size written with spaces -> message, span, hint."""
    dims = "x".join(str(x.value) for x in (given, *run))
    written = " ".join(x.text() for x in (given, *run))
    drop = {i: "" for i, a in enumerate(st.args) if any(a is r for r in run)}
    index = next(i for i, a in enumerate(st.args) if a is given)
    fixed = _statement(st, {**drop, index: dims})
    end = run[-1].span
    return (
        f"'{written}' is one size written with spaces: sizes are written like {dims}",
        Span(given.span.line, given.span.column, end.end_line, end.end_column),
        f"write `{fixed}`",
    )


#: the options whose errors an input's layout can explain
_WINDOW_FIELDS = {"kernel", "size", "stride", "dilation"}


def channels_hint(field: str | None, model_input: Shape | None, hint: str | None) -> str | None:
    """A window that does not fit, explained by the input's layout: channels-first
    (``1x28x28``) or an image without its channel axis (``28x28``, a sequence)."""
    if model_input is None or field not in _WINDOW_FIELDS:
        return hint
    if len(model_input) == 3 and model_input[0] <= 4 < min(model_input[1:]):
        c, h, w = model_input
        return (
            f"shapes are channels-last: input {fmt_shape(model_input)} is {c} pixel"
            f"{'s' * (c != 1)} high with {w} channels; for a {h}x{w} image with {c} "
            f"channel{'s' * (c != 1)} write `input {h}x{w}x{c}`"
        )
    if len(model_input) == 2 and hint and hint.startswith("write "):
        n, c = model_input
        return (
            f"input {n}x{c} is a sequence ({n} positions, {c} channels): for a {n}x{c} "
            f"grayscale image write `input {n}x{c}x1`; for a 1-D convolution, {hint}"
        )
    return hint
