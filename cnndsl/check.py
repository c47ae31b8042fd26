"""Statements -> checked :class:`~cnndsl.ir.Model`: bind options, infer shapes, count.

The checker keeps going after an error so that a file with several independent
mistakes reports them all; a statement it could not understand makes the shape
after it unknown, and shape checks resume only once the shape is known again
(it never is, in a linear model, so downstream layers are checked for their
options only, and no error is a consequence of another).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from .errors import CnnDslError, Diagnostic, Note, Span
from .ir import Model, Node
from .layers import REGISTRY, Entry, Input, Layer, LayerError, OptSpec, Shape
from .options import NameT, OptionError, did_you_mean
from .syntax import Statement, Value

DIRECTIVES = ("model",)
_NAME = NameT()


_positional = functools.cache(lambda entry: entry.positional)


def _keywords() -> list[str]:
    return [*REGISTRY, *DIRECTIVES]


class _Checker:
    def __init__(self, filename: str, statements: list[Statement | None]):
        self.filename = filename
        self.statements = statements
        self.diags: list[Diagnostic] = []
        self.nodes: list[Node] = []
        self.model_name: tuple[str, Span] | None = None
        self.input_stmt: Statement | None = None
        self.missing_input_reported = False
        self.names: dict[str, Span] = {}
        # Explicit names are known up front so that automatic ones never collide.
        self.reserved = {
            str(o.value.value)
            for s in statements
            if s is not None
            for o in s.options
            if o.key == "name" and o.value.kind == "name"
        }
        self.counters: dict[str, int] = {}

    def error(
        self, message: str, span: Span | None, hint: str | None = None, notes: tuple[Note, ...] = ()
    ) -> None:
        self.diags.append(Diagnostic(message, span, hint, notes))

    # ------------------------------------------------------------ main loop

    def run(self) -> list[Node]:
        current: Node | None = None  # the tensor flowing on; None while unknown
        known = True
        for st in self.statements:
            if st is None:  # a syntax error: what it did to the shape is unknown
                known = False
                continue
            if st.keyword in DIRECTIVES:
                self.directive(st)
                continue
            entry = REGISTRY.get(st.keyword)
            if entry is None:
                self.unknown_keyword(st)
                known = False
                continue
            bound = self.bind_options(st, entry)
            if entry.cls is Input:
                if self.input_stmt is not None:
                    first = self.input_stmt.keyword_span
                    self.error(
                        "the model already has an input",
                        st.keyword_span,
                        hint="a model has one input statement, at the top",
                        notes=(Note("the first input is here", first),),
                    )
                    continue
                self.input_stmt = st
                if bound is None:
                    known = False
                    continue
                layer, spans, name = bound
                node = self.make_node(st, layer, (), spans, name or "input")
                current, known = node, node is not None
                continue
            if self.input_stmt is None:
                if not self.missing_input_reported:
                    self.missing_input_reported = True
                    self.error(
                        f"'{st.keyword}' comes before any input: the model needs an input "
                        "shape first",
                        st.keyword_span,
                        hint="start the model with a line such as `input 28x28x1` "
                        "(height x width x channels) or `input 100x300` (length x channels)",
                    )
                known = False
            if bound is None or not known or current is None:
                known = False
                continue
            layer, spans, name = bound
            node = self.make_node(st, layer, (current,), spans, name)
            current, known = node, node is not None
        if None in self.statements:
            pass  # a statement with a syntax error may have been the input
        elif self.input_stmt is None and not self.missing_input_reported:
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
        return self.nodes

    # ------------------------------------------------------------ statements

    def directive(self, st: Statement) -> None:
        if st.options or len(st.args) != 1:
            self.error("write the model's name as `model NAME`", st.span)
            return
        try:
            name = _NAME.convert(st.args[0])
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

    def unknown_keyword(self, st: Statement) -> None:
        hint = did_you_mean(st.keyword, _keywords())
        if hint is None:
            hint = "layers: " + ", ".join(sorted(_keywords()))
        self.error(f"unknown layer '{st.keyword}'", st.keyword_span, hint=hint)

    def bind_options(
        self, st: Statement, entry: Entry
    ) -> tuple[Layer, dict[str, Span], str | None] | None:
        """Turn positional and key=value literals into the kind's dataclass."""
        cls = entry.cls
        specs = cls.options()
        values: dict[str, Any] = dict(entry.preset)
        spans: dict[str, Span] = {}
        ok = True
        free = _positional(entry)
        args = list(reversed(st.args))
        while args:
            v = args.pop()
            target = None
            for s in free:
                if s.name not in values and s.type.accepts(v):
                    target = s
                    break
            if target is None:
                nxt = args[-1] if args else None
                self.positional_error(st, entry, v, values, spans, list(free), nxt)
                ok = False
                if v.kind == "name" and v.value in specs and args:
                    args.pop()  # `stride 2` meant `stride=2`: one error, not two
                continue
            try:
                values[target.name] = target.type.convert(v)
                spans[target.name] = v.span
            except OptionError as exc:
                self.option_error(target, exc, v)
                ok = False
        name: str | None = None
        name_span: Span | None = None
        for o in st.options:
            if o.key == "name":
                if name_span is not None:
                    self.error(
                        "name is given twice",
                        o.key_span,
                        notes=(Note("first given here", name_span),),
                    )
                    continue
                name_span = o.span
                try:
                    name = _NAME.convert(o.value)
                except OptionError as exc:
                    self.error(exc.message, o.value.span, exc.hint)
                continue
            spec = specs.get(o.key)
            if spec is None or o.key in entry.preset:
                allowed = [k for k in specs if k not in entry.preset] + ["name"]
                hint = did_you_mean(o.key, allowed) or f"{st.keyword} options: " + ", ".join(
                    allowed
                )
                self.error(f"unknown option '{o.key}' for {st.keyword}", o.key_span, hint=hint)
                continue
            if o.key in spans:
                self.error(
                    f"{o.key} is given twice",
                    o.key_span,
                    notes=(Note("first given here", spans[o.key]),),
                )
                continue
            try:
                values[o.key] = spec.type.convert(o.value)
                spans[o.key] = o.span
            except OptionError as exc:
                self.option_error(spec, exc, o.value)
                ok = False
        if ok:
            missing = [s for s in specs.values() if s.required and s.name not in values]
            if missing:
                what = " and ".join(f"{s.name} ({s.type.describe()})" for s in missing)
                self.error(
                    f"{st.keyword} needs {what}",
                    st.keyword_span,
                    hint=f"for example: {cls.EXAMPLE}",
                )
                ok = False
        if not ok:
            return None
        layer = cls(**values)
        try:
            layer.check_options()
        except LayerError as exc:
            self.layer_error(st, exc, spans)
            return None
        if name is not None:
            assert name_span is not None
            if name in self.names:
                self.error(
                    f"the name '{name}' is already taken",
                    name_span,
                    notes=(Note("first used here", self.names[name]),),
                )
            else:
                self.names[name] = name_span
        return layer, spans, name

    def positional_error(
        self,
        st: Statement,
        entry: Entry,
        v: Value,
        values: dict[str, Any],
        spans: dict[str, Span],
        free: list[OptSpec],
        nxt: Value | None,
    ) -> None:
        kw = st.keyword
        taken = next((s for s in free if s.name in values and s.type.accepts(v)), None)
        if taken is not None:
            note = (
                (Note(f"{taken.name} given here", spans[taken.name]),)
                if taken.name in spans
                else ()
            )
            self.error(
                f"{kw} already has its {taken.name}; {v.text()} is one too many", v.span, notes=note
            )
            return
        if v.kind == "name":
            word = str(v.value)
            if word in entry.cls.options():
                self.error(
                    f"'{word}' is an option of {kw} and needs a value",
                    v.span,
                    hint=f"write {word}={nxt.text() if nxt else 'VALUE'}",
                )
                return
            words = [c for s in free for c in getattr(s.type, "choices", ())]
            nouns = " or ".join(
                getattr(s.type, "noun", s.name) for s in free if getattr(s.type, "choices", ())
            )
            hint = did_you_mean(word, words)
            if nouns:
                self.error(
                    f"unknown {nouns} '{word}' for {kw}",
                    v.span,
                    hint=hint or "expected one of " + ", ".join(words),
                )
            else:
                self.error(
                    f"{kw} takes no word like '{word}' here",
                    v.span,
                    hint=f"for example: {entry.cls.EXAMPLE}",
                )
            return
        if free:
            takes = ", ".join(f"{s.name} ({s.type.describe()})" for s in free)
            named = [s for s in entry.cls.options().values() if not s.positional]
            hint = f"write other options as key=value, e.g. {named[0].name}=..." if named else None
            self.error(f"unexpected {v.text()}: {kw} takes {takes}", v.span, hint=hint)
        else:
            self.error(
                f"{kw} takes no positional values; {v.text()} is unexpected",
                v.span,
                hint=f"for example: {entry.cls.EXAMPLE}",
            )

    def option_error(self, spec: OptSpec, exc: OptionError, v: Value) -> None:
        span = (exc.value or v).span
        msg = exc.message
        if msg.startswith("must"):
            msg = f"{spec.name} {msg}"
        elif not msg.startswith("unknown"):
            msg = f"{spec.name}: {msg}"
        self.error(msg, span, exc.hint)

    def layer_error(self, st: Statement, exc: LayerError, spans: dict[str, Span]) -> None:
        span = spans.get(exc.field or "", st.keyword_span)
        self.error(exc.message, span, exc.hint)

    def auto_name(self, keyword: str) -> str:
        n = self.counters.get(keyword, 0)
        while True:
            n += 1
            name = f"{keyword}_{n}"
            if name not in self.reserved:
                self.counters[keyword] = n
                return name

    def make_node(
        self,
        st: Statement,
        layer: Layer,
        inputs: tuple[Node, ...],
        spans: dict[str, Span],
        name: str | None,
    ) -> Node | None:
        shapes: tuple[Shape, ...] = tuple(n.shape for n in inputs)
        try:
            bound = layer.bind(shapes)
            shape = bound.output_shape(shapes)
            weights = bound.weight_specs(shapes)
            macs = bound.macs(shapes, shape)
        except LayerError as exc:
            self.layer_error(st, exc, spans)
            return None
        if name is None:
            name = self.auto_name(st.keyword)
        node = Node(
            name, bound, tuple(n.name for n in inputs), shape, weights, macs, st.span, st.keyword
        )
        self.nodes.append(node)
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
    checker = _Checker(filename, statements)
    nodes = checker.run()
    diags = [*syntax, *checker.diags]
    if diags:
        diags.sort(key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
        raise CnnDslError(diags, filename, source)
    name = checker.model_name[0] if checker.model_name else default_model_name(filename)
    return Model(name, tuple(nodes), filename)
