"""Statements -> checked :class:`~cnndsl.ir.Model`: bind options, infer shapes, count.

The checker keeps going after an error so that a file with several independent
mistakes reports them all; a statement it could not understand makes the shape
after it unknown, and shape checks resume only once the shape is known again
(it never is, in a linear model, so downstream layers are checked for their
options only, and no error is a consequence of another).

Binding a statement's options is in :mod:`cnndsl.binding`, the statements that hold
others (blocks, repeat, residual, branches) in :mod:`cnndsl.structures`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import NoReturn

from .advice import framework_word
from .binding import NAME, Binding, Bound, report_layer_error
from .errors import CnnDslError, Diagnostic, Note, Span
from .ir import Model, Node
from .layers import REGISTRY, Input, Layer, LayerError
from .limits import MAX_ERRORS, MAX_NODES, MAX_STEPS, cost
from .naming import NodeNames
from .options import OptionError, did_you_mean
from .scopes import Scope
from .structures import (
    MAX_DEPTH,
    MAX_REPEAT,
    STRUCTURES,
    Calls,
    Env,
    Structures,
    substitute,
    walk,
)
from .syntax import Statement, Value

__all__ = [
    "DIRECTIVES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_REPEAT",
    "STRUCTURES",
    "Checker",
    "check",
    "default_model_name",
    "substitute",
    "walk",
]

DIRECTIVES = ("model",)


class _TooBig(Exception):
    """A limit of the expansion is reached (cnndsl.limits): stop checking, the error is
    already recorded."""


def _keywords() -> list[str]:
    return [*REGISTRY, *DIRECTIVES]


class Checker(NodeNames):
    """One file's statements checked in order, into IR nodes and diagnostics."""

    def __init__(self, filename: str, statements: list[Statement | None]):
        self.filename = filename
        self.statements = statements
        self.diags: list[Diagnostic] = []
        self.reported: set[tuple[Span | None, str]] = set()
        self.steps = 0  # of MAX_STEPS
        self.params = 0  # of MAX_SIZE
        self.nodes: list[Node] = []
        self.model_name: tuple[str, Span] | None = None
        self.input_stmt: Statement | None = None
        self.missing_input_reported = False
        self.names: dict[str, Span] = {}
        # Explicit names are known up front so that automatic ones never collide.
        self.reserved = {
            str(o.value.value)
            for s in walk(statements)
            for o in s.options
            if o.key == "name" and o.value.kind == "name"
        }
        self.counters: dict[str, int] = {}
        self.calls: Calls = ()  # "in block 'x' used here" notes, innermost first
        self.by_name: dict[str, Node] = {}
        self.scope = Scope(reserved=frozenset(self.reserved))
        self.structures = Structures(self)

    def error(
        self, message: str, span: Span | None, hint: str | None = None, notes: Calls = ()
    ) -> None:
        """Record a diagnostic; inside a block, with notes of where the block was used.

        Once per place and message: a body repeated 10,000 times reports its mistake
        once. After MAX_ERRORS, checking stops.
        """
        key = (span, message)
        if key in self.reported:
            return
        self.reported.add(key)
        self.diags.append(Diagnostic(message, span, hint, notes + self.calls))
        if len(self.diags) >= MAX_ERRORS:
            raise _TooBig

    def stop(self, message: str, span: Span, hint: str | None = None) -> NoReturn:
        """A limit of the expansion is reached: report it here and check no further."""
        self.error(message, span, hint)
        raise _TooBig

    @contextlib.contextmanager
    def scoped(self, scope: Scope) -> Iterator[None]:
        """Check the statements of a block instance or stage inside ``scope``."""
        saved, self.scope = self.scope, scope
        try:
            yield
        finally:
            self.scope = saved

    def is_keyword(self, word: str) -> bool:
        """A word of the language, which a block may not be named after."""
        return word in REGISTRY or word in STRUCTURES or word in DIRECTIVES

    # ------------------------------------------------------------ main loop

    def run(self) -> list[Node]:
        try:
            with contextlib.suppress(_TooBig):  # the error is recorded; stop expanding
                self.structures.collect(self.statements)
                self.seq(self.statements, None, {}, ())
            if None in self.statements:
                pass  # a statement with a syntax error may have been the input
            elif self.input_stmt is None and not self.missing_input_reported:
                self.no_input()
            return self.nodes
        finally:
            # Structures points back here (its checker, its error). Broken, the cycle no
            # longer keeps the parse's statements, spans and this checker until the cyclic
            # collector's next scan: they are freed with their last reference (a file of
            # 10k statements left ~170k objects to that scan, 3/4 of its time)
            del self.structures

    def seq(
        self, statements: Sequence[Statement | None], current: Node | None, env: Env, calls: Calls
    ) -> Node | None:
        """Check statements in order; return the tensor they leave (None: unknown).

        Every body and statement visited spends steps of MAX_STEPS (see :func:`cnndsl.limits.cost`).
        """
        saved, self.calls = self.calls, calls
        self.steps += 1  # the body itself: an empty one repeated is work too
        try:
            for st in statements:
                if st is None:  # a syntax error: what it did to the shape is unknown
                    current = None
                    continue
                if env:
                    st = substitute(st, env)
                self.steps += cost(st)
                if self.steps > MAX_STEPS:
                    self.stop(
                        f"the model takes more than {MAX_STEPS:,} steps to expand",
                        st.keyword_span,
                        hint="check the repeat counts and block calls: every statement "
                        "checked is a step, and every value written in it",
                    )
                current = self.statement(st, current, env, calls)
            return current
        finally:
            self.calls = saved

    def statement(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """A directive, a structure or a block's use, or a layer."""
        if st.keyword in DIRECTIVES:
            self.directive(st, nested=bool(calls or env))
            return current
        if self.structures.handles(st):
            return self.structures.expand(st, current, env, calls)
        if st.body is not None:
            self.error(
                f"'{st.keyword}' takes no {{ ... }} block",
                st.body[0].span if st.body else st.keyword_span,
                hint="blocks follow repeat, residual, concat, add, branch, shortcut "
                "and block definitions",
            )
            return None
        entry = REGISTRY.get(st.keyword)
        if entry is None:
            self.unknown_keyword(st)
            return None
        # inside a labelled scope a name is local to it: its own instance of the block
        names = self.scope.taken if self.scope.labelled else self.names
        bound = Binding(st, entry, self.error).bind(names)
        if entry.cls is Input:
            return self.input(st, current, bound)
        return self.layer(st, current, bound)

    # ------------------------------------------------------------ statements

    def directive(self, st: Statement, nested: bool) -> None:
        """`model NAME`, at the top level only."""
        if nested:
            self.error(f"'{st.keyword}' belongs at the top of the file", st.keyword_span)
            return
        if st.options or len(st.args) != 1:
            self.error("write the model's name as `model NAME`", st.span)
            return
        try:
            name = NAME.convert(st.args[0])
        except OptionError as exc:
            self.error(exc.message, st.args[0].span, exc.hint)
            return
        if self.model_name is not None:
            self.error(
                "the model is already named",
                st.keyword_span,
                notes=(Note(f"named '{self.model_name[0]}' here", self.model_name[1]),),
            )
            return
        self.model_name = (name, st.args[0].span)

    def input(self, st: Statement, current: Node | None, bound: Bound | None) -> Node | None:
        """The model's one input; a second is reported and leaves the tensor as it was."""
        if self.input_stmt is not None:
            self.error(
                "the model already has an input",
                st.keyword_span,
                hint="a model has one input statement, at the top",
                notes=(Note("the first input is here", self.input_stmt.keyword_span),),
            )
            return current
        self.input_stmt = st
        if bound is None:
            return None
        if bound.name is None:  # the implicit name is taken like an explicit one
            self.names.setdefault("input", st.keyword_span)
        return self.add_node(st, bound.layer, (), bound.spans, bound.name or "input")

    def layer(self, st: Statement, current: Node | None, bound: Bound | None) -> Node | None:
        """A layer on the current tensor; before any input, only its options are checked."""
        if self.input_stmt is None:
            if not self.missing_input_reported:
                self.missing_input_reported = True
                self.error(
                    f"'{st.keyword}' comes before any input: the model needs an input shape first",
                    st.keyword_span,
                    hint="start the model with a line such as `input 28x28x1` "
                    "(height x width x channels) or `input 100x300` (length x channels)",
                )
            return None
        if bound is None or current is None:
            return None
        inputs = self.merge_inputs(st, current, bound.refs)
        if inputs is None:
            return None
        return self.add_node(st, bound.layer, inputs, bound.spans, bound.name)

    def merge_inputs(
        self, st: Statement, current: Node, refs: list[Value]
    ) -> tuple[Node, ...] | None:
        """The current tensor and the layers a merge names (None: a name is unknown)."""
        inputs = [current]
        for ref in refs:
            node = self.by_name.get(str(ref.value))
            if node is None:
                hint = did_you_mean(str(ref.value), list(self.by_name))
                self.error(
                    f"no layer named '{ref.value}' before this {st.keyword}",
                    ref.span,
                    hint=hint or "name a layer with name=... to refer to it",
                )
                return None
            inputs.append(node)
        return tuple(inputs)

    def unknown_keyword(self, st: Statement) -> None:
        message = f"unknown layer '{st.keyword}'"
        if (st.keyword_span, message) in self.reported:
            return  # in a repeated body: the hint is the costly part
        words = [*_keywords(), *STRUCTURES, *self.structures.blocks]
        hint = framework_word(st) or did_you_mean(st.keyword, words)
        if hint is None:
            hint = "layers: " + ", ".join(sorted(_keywords()))
            if self.structures.blocks:
                hint += "; blocks: " + ", ".join(sorted(self.structures.blocks))
        self.error(message, st.keyword_span, hint=hint)

    def no_input(self) -> None:
        if self.statements or self.diags:
            self.error(
                "the model has no input statement",
                Span.point(1, 1),
                hint="add a line such as `input 28x28x1` at the top",
            )
        else:
            self.error(
                "the model is empty",
                Span.point(1, 1),
                hint="a model is an input and layers, for example: "
                "input 28x28x1; conv 8 3x3 relu; flatten; dense 10 softmax",
            )

    # ------------------------------------------------------------ nodes

    def add_node(
        self,
        st: Statement,
        layer: Layer,
        inputs: tuple[Node, ...],
        spans: dict[str, Span],
        name: str | None,
        keyword: str | None = None,
    ) -> Node | None:
        """Fit the layer to its inputs and append its node (None: they do not fit)."""
        keyword = keyword or st.keyword
        try:
            built = Node.build(
                "",
                layer,
                tuple(n.name for n in inputs),
                tuple(n.shape for n in inputs),
                st.span,
                keyword,
            )
        except LayerError as exc:
            shape = self.nodes[0].shape if self.nodes else None
            report_layer_error(self.error, st, exc, spans, shape)
            return None
        if not self.fits_limits(st, built, keyword):
            return None
        name, local = self.node_name(built.layer, name, keyword, st)
        if name is None:
            return None
        if len(self.nodes) >= MAX_NODES:
            self.stop(
                f"the model expands to more than {MAX_NODES:,} layers",
                st.keyword_span,
                hint="check the repeat counts and block calls",
            )
        node = self.make_node(name, built, local)
        self.nodes.append(node)
        self.by_name[name] = node
        return node


def default_model_name(filename: str) -> str:
    stem = re.sub(r"\.[^./\\]*$", "", re.split(r"[/\\]", filename)[-1])
    ident = re.sub(r"\W", "_", stem, flags=re.ASCII).strip("_")
    if not ident or filename.startswith("<"):
        return "model"
    return ident if ident[0].isalpha() else f"model_{ident}"


def check(
    statements: list[Statement | None], syntax: list[Diagnostic], filename: str, source: str
) -> Model:
    checker = Checker(filename, statements)
    nodes = checker.run()
    diags = [*syntax, *checker.diags]
    if diags:
        diags.sort(key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
        raise CnnDslError(diags, filename, source)
    name = checker.model_name[0] if checker.model_name else default_model_name(filename)
    return Model(name, tuple(nodes), filename)
