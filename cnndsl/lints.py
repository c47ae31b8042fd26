"""Lints: legal models that are probably not what their author meant, as warnings.

Each lint has a stable code (``W401``), is listed in docs/lints.md (a test checks that
the page and :data:`LINTS` agree), and runs over a checked model's IR. A warning is
silenced on its line with ``# cnndsl: ignore[W401]`` (``# cnndsl: ignore`` silences
every warning of the line), or for a whole run with ``cnndsl check --ignore W401``;
``--strict`` makes warnings errors.

    >>> import cnndsl
    >>> [d.code for d in cnndsl.lint(cnndsl.parse("input 3x32x32; conv 8 3x3 same"))]
    ['W101']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from .arith import DOT, MINUS, Axis, Lesson
from .errors import Diagnostic
from .ir import Model, Node
from .layers import ACTIVATIONS, BatchNorm, Conv, Dropout, Flatten, Trait, fmt_shape
from .lessons import lesson

__all__ = ["LINTS", "Lint", "lint", "suppressed"]

Rule = Callable[[Model], Iterator[Diagnostic]]


@dataclass(frozen=True)
class Lint:
    code: str
    title: str
    why: str
    rule: Rule


LINTS: dict[str, Lint] = {}

#: within a :func:`lint` run, each node's lesson by ``id``, made once: the rules ask for
#: a node's lesson four or five times (ResNet-50: 798 lessons of 175 nodes, 14 ms of a
#: cold ``cnndsl check``)
_LESSONS: ContextVar[dict[int, tuple[Node, Lesson]] | None] = ContextVar("lessons", default=None)


def _lesson(node: Node) -> Lesson:
    """:func:`.lessons.lesson`, made once a node in a lint run."""
    memo = _LESSONS.get()
    if memo is None:
        return lesson(node)
    hit = memo.get(id(node))
    if hit is None or hit[0] is not node:  # the node kept alive with it: ids not reused
        hit = memo[id(node)] = (node, lesson(node))
    return hit[1]


#: a layer holding more than this share of the parameters, in a model at least this big
MOST_PARAMS, BIG_MODEL = 0.5, 1_000_000
#: batchnorm's momentum above this is Keras' convention, not the language's
KERAS_MOMENTUM = 0.5


def _rule(code: str, title: str, why: str) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        assert code not in LINTS, code
        LINTS[code] = Lint(code, title, why, fn)
        return fn

    return deco


def _warn(code: str, node: Node, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(message, node.span, hint, severity="warning", code=code)


# ---------------------------------------------------------------- the input


@_rule(
    "W101",
    "channels-first input",
    "Shapes are channels-last (height x width x channels): `input 3x32x32` is an image "
    "3 pixels high with 32 channels, not a 32x32 RGB image.",
)
def _channels_first(model: Model) -> Iterator[Diagnostic]:
    node = model.input_node
    shape = node.shape
    if len(shape) == 3 and shape[0] <= 4 and min(shape[1:]) >= 8:
        c, h, w = shape
        yield _warn(
            "W101",
            node,
            f"input {fmt_shape(shape)} looks channels-first: shapes are channels-last, so this "
            f"is an image {c} pixel{'s' * (c != 1)} high with {w} channels",
            f"for a {h}x{w} image with {c} channel{'s' * (c != 1)} write `input {h}x{w}x{c}`",
        )


@_rule(
    "W102",
    "square sequence input",
    "`input 28x28` is a sequence (28 positions of 28 channels) for 1-D convolutions; a "
    "grayscale image needs its channel axis: `input 28x28x1`.",
)
def _grayscale(model: Model) -> Iterator[Diagnostic]:
    node = model.input_node
    shape = node.shape
    if len(shape) == 2 and shape[0] == shape[1] >= 8:
        n = shape[0]
        yield _warn(
            "W102",
            node,
            f"input {n}x{n} is a sequence of {n} positions with {n} channels "
            "(1-D convolutions), not an image",
            f"for a {n}x{n} grayscale image write `input {n}x{n}x1`",
        )


# ---------------------------------------------------------------- activations


def _activation(node: Node) -> str | None:
    return _lesson(node).activation


def _applies(node: Node, act: str) -> bool:
    """An activation statement (``softmax``, ``relu``) applying ``act`` to its input."""
    return Trait.ELEMENTWISE in node.layer.TRAITS and _activation(node) == act


@_rule(
    "W201",
    "softmax before the last layer",
    "A softmax turns scores into probabilities for the loss; a layer after it sees values "
    "squashed into [0, 1] that sum to 1.",
)
def _softmax_not_last(model: Model) -> Iterator[Diagnostic]:
    for node in model.nodes:
        users = [model.node(u) for u in model.consumers(node.name)]
        if _activation(node) == "softmax" and any(not _applies(u, "softmax") for u in users):
            yield _warn(
                "W201",
                node,
                f"{node.name} applies softmax but is not the last layer",
                "apply softmax in the output layer only (or leave it to the loss)",
            )


@_rule(
    "W202",
    "softmax twice",
    "softmax(softmax(x)) is nearly uniform: the second softmax flattens the probabilities "
    "the first one made.",
)
def _softmax_twice(model: Model) -> Iterator[Diagnostic]:
    yield from _twice(model, "W202", ("softmax",))


@_rule(
    "W203",
    "activation repeated",
    "`conv 32 3x3 relu` followed by `relu` applies relu twice: the second does nothing "
    "(or, for sigmoid and tanh, squashes again).",
)
def _repeated(model: Model) -> Iterator[Diagnostic]:
    others = tuple(a for a in ACTIVATIONS if a not in ("linear", "softmax"))
    yield from _twice(model, "W203", others)


def _twice(model: Model, code: str, acts: tuple[str, ...]) -> Iterator[Diagnostic]:
    """An activation statement right after a layer that ends with the same activation."""
    for node in model.nodes:
        act = _activation(node)
        if act not in acts or not _applies(node, act) or len(node.inputs) != 1:
            continue
        before = model.node(node.inputs[0])
        if _activation(before) == act:
            yield _warn(
                code,
                node,
                f"{act} is applied twice: {before.name} already ends with {act}",
                f"drop this {node.keyword}, or the {act} of {before.name}",
            )


# ---------------------------------------------------------------- layers


@_rule("W301", "dropout 0", "`dropout 0` drops nothing: the layer does nothing at all.")
def _dropout_zero(model: Model) -> Iterator[Diagnostic]:
    for node in model.nodes:
        if isinstance(node.layer, Dropout) and node.layer.rate == 0:
            yield _warn("W301", node, "dropout 0 drops nothing", "drop the layer, or give a rate")


@_rule(
    "W401",
    "window drops rows or columns",
    "When (size + padding − window) is not a multiple of the stride, the last rows or "
    "columns of the input are read by no window: `pool max 2` on 7x7 ignores row 7. "
    "(A stride longer than the window skips rows between windows by design: not reported.)",
)
def _dropped(model: Model) -> Iterator[Diagnostic]:
    for node in model.nodes:
        # a stride longer than the window skips rows between windows anyway: not a slip
        lost = [a for a in _lesson(node).window if a.dropped and a.span >= a.s]
        if not lost:
            continue
        parts = [f"{a.dropped} {_WHAT[a.name]}{'s' * (a.dropped != 1)}" for a in lost]
        sums = "; ".join(dict.fromkeys(_covered(a) for a in lost))
        yield _warn(
            "W401",
            node,
            f"{node.name} never reads the last {' and '.join(parts)} of its "
            f"{fmt_shape(node.input_shapes[0])} input: {sums}",
            "use padding 'same', or an input size that the windows tile exactly",
        )


def _covered(a: Axis) -> str:
    """``54 windows of 11, stride 4, cover 4·53 + 11 = 223 of 224``."""
    reach = a.s * (a.out - 1) + a.span - a.before
    return (
        f"{a.out} windows of {a.span}, stride {a.s}, cover "
        f"{a.s}{DOT}{a.out - 1} + {a.span}{f' {MINUS} {a.before}' if a.before else ''} "
        f"= {reach} of {a.n}"
    )


_WHAT = {"height": "row", "width": "column", "length": "position"}


@_rule(
    "W501",
    "one layer holds most of the parameters",
    "More than half of the parameters of a model of a million or more in one layer: "
    "typically a dense layer right after flatten, where every position of the feature map "
    "gets a weight per unit. A global pooling (or more pooling) before it shrinks it.",
)
def _most_params(model: Model) -> Iterator[Diagnostic]:
    total = model.total_params
    if total < BIG_MODEL:
        return
    for node in model.nodes:
        if node.params > MOST_PARAMS * total:
            before = model.node(node.inputs[0]) if node.inputs else node
            after_flatten = isinstance(before.layer, Flatten)
            yield _warn(
                "W501",
                node,
                f"{node.name} holds {node.params:,} of the model's {total:,} parameters "
                f"({100 * node.params / total:.0f}%)",
                f"shrink its {node.input_shapes[0][0]:,} inputs: `globalpool avg` "
                "instead of flatten, or more pooling before it"
                if after_flatten
                else None,
            )


@_rule(
    "W502",
    "batchnorm after a conv with a bias",
    "Batchnorm subtracts each channel's mean, so the bias of the conv before it is "
    "cancelled: a wasted parameter per filter. Write `bias=false` on the conv.",
)
def _bias_before_batchnorm(model: Model) -> Iterator[Diagnostic]:
    for node in model.nodes:
        if not isinstance(node.layer, BatchNorm):
            continue
        conv = model.node(node.inputs[0])
        layer = conv.layer
        if isinstance(layer, Conv) and layer.bias and layer.activation == "linear":
            yield _warn(
                "W502",
                conv,
                f"the bias of {conv.name} is cancelled by the batchnorm after it",
                f"write bias=false on {conv.name}",
            )


@_rule(
    "W601",
    "batchnorm momentum in Keras' convention",
    "The language's momentum is the weight of the new batch (PyTorch's convention, default "
    "0.1); Keras' momentum=0.99 is momentum=0.01 here.",
)
def _keras_momentum(model: Model) -> Iterator[Diagnostic]:
    for node in model.nodes:
        layer = node.layer
        if isinstance(layer, BatchNorm) and layer.momentum > KERAS_MOMENTUM:
            m = layer.momentum
            yield _warn(
                "W601",
                node,
                f"momentum={m:g} gives each new batch a weight of {m:g} in the moving averages "
                "(PyTorch's convention)",
                f"if this is Keras' momentum={m:g}, write momentum={1 - m:.4g}",
            )


# ---------------------------------------------------------------- running them

_IGNORE = re.compile(r"#\s*cnndsl:\s*ignore(?:\[([A-Za-z0-9_,\s]*)\])?")


def suppressed(source: str) -> dict[int, frozenset[str] | None]:
    """Line -> the codes its ``# cnndsl: ignore[...]`` comment silences (None: all)."""
    out: dict[int, frozenset[str] | None] = {}
    for i, line in enumerate(source.splitlines(), 1):
        m = _IGNORE.search(line)
        if m:
            codes = m.group(1)
            out[i] = None if codes is None else frozenset(re.findall(r"\w+", codes.upper()))
    return out


def lint(model: Model, source: str = "", ignore: Iterable[str] = ()) -> list[Diagnostic]:
    """The model's warnings, in source order, each once; ``source`` (the model's text)
    is read for ``# cnndsl: ignore[...]`` comments, ``ignore`` lists codes to skip."""
    skip = {c.upper() for c in ignore}
    quiet = suppressed(source)
    token = _LESSONS.set({})
    try:
        found = [d for code, e in LINTS.items() if code not in skip for d in e.rule(model)]
    finally:
        _LESSONS.reset(token)
    # a line inside a block warns once, for its first use
    first = {(d.code, d.span): d for d in reversed(found)}
    out = [d for d in first.values() if not _silenced(d, quiet)]
    out.sort(key=lambda d: (d.span.line, d.span.column, d.code or "") if d.span else (0, 0, ""))
    return out


def _silenced(d: Diagnostic, quiet: dict[int, frozenset[str] | None]) -> bool:
    line = d.span.line if d.span else 0
    if line not in quiet:
        return False
    codes = quiet[line]
    return codes is None or d.code in codes
