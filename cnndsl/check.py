"""Statements -> checked :class:`~cnndsl.ir.Model`: bind options, infer shapes, count.

The checker keeps going after an error so that a file with several independent
mistakes reports them all; a statement it could not understand makes the shape
after it unknown, and shape checks resume only once the shape is known again
(it never is, in a linear model, so downstream layers are checked for their
options only, and no error is a consequence of another).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from .errors import CnnDslError, Diagnostic, Note, Span
from .ir import Model, Node
from .layers import REGISTRY, Entry, Input, Layer, LayerError, OptSpec, fmt_shape
from .options import NameT, OptionError, did_you_mean
from .syntax import Option, Statement, Value

DIRECTIVES = ("model",)
#: limits on what blocks and repeat may expand to (docs/language.md)
MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_REPEAT = 10_000


class _TooBig(Exception):
    """The expansion passed MAX_NODES: stop checking, the error is already recorded."""


def walk(statements: Sequence[Statement | None]) -> Iterator[Statement]:
    """Every statement, nested bodies included."""
    for st in statements:
        if st is not None:
            yield st
            if st.body:
                yield from walk(st.body)


def _subst_value(v: Any, env: dict[str, Value]) -> Any:
    if isinstance(v, Option):
        return Option(v.key, v.key_span, _subst_value(v.value, env), v.span)
    if v.kind == "name" and v.value in env:
        bound = env[str(v.value)]
        return Value(bound.kind, bound.value, v.span)  # the use site keeps its place
    if v.kind in ("tuple", "list"):
        return Value(v.kind, tuple(_subst_value(x, env) for x in v.value), v.span)
    return v


def substitute(st: Statement, env: dict[str, Value]) -> Statement:
    """A block's parameters replaced by the values of one call (bodies stay as written:
    they are substituted when they run, under the same parameters)."""
    return Statement(
        st.keyword,
        st.keyword_span,
        tuple(_subst_value(a, env) for a in st.args),
        tuple(_subst_value(o, env) for o in st.options),
        st.span,
        st.body,
    )


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
            for s in walk(statements)
            for o in s.options
            if o.key == "name" and o.value.kind == "name"
        }
        self.counters: dict[str, int] = {}
        self.calls: tuple[Note, ...] = ()  # "in block 'x' used here" notes, innermost first
        self.blocks: dict[str, tuple[Statement, list[tuple[str, Value | None]]]] = {}
        self.by_name: dict[str, Node] = {}

    def error(
        self, message: str, span: Span | None, hint: str | None = None, notes: tuple[Note, ...] = ()
    ) -> None:
        self.diags.append(Diagnostic(message, span, hint, notes + self.calls))

    # ------------------------------------------------------------ main loop

    def run(self) -> list[Node]:
        _collect_blocks(self)
        with contextlib.suppress(_TooBig):  # the error is recorded; stop expanding
            self.seq(self.statements, None, {}, ())
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

    def seq(
        self,
        statements: Sequence[Statement | None],
        current: Node | None,
        env: dict[str, Value],
        calls: tuple[Note, ...],
    ) -> Node | None:
        """Check statements in order; return the tensor they leave (None: unknown)."""
        saved, self.calls = self.calls, calls
        try:
            for st in statements:
                if st is None:  # a syntax error: what it did to the shape is unknown
                    current = None
                    continue
                if env:
                    st = substitute(st, env)
                current = self.statement(st, current, env, calls)
            return current
        finally:
            self.calls = saved

    def statement(
        self, st: Statement, current: Node | None, env: dict[str, Value], calls: tuple[Note, ...]
    ) -> Node | None:
        kw = st.keyword
        if kw in DIRECTIVES:
            if calls or env:
                self.error(f"'{kw}' belongs at the top of the file", st.keyword_span)
            elif kw == "model":
                self.directive(st)
            return current
        if kw in STRUCTURES and (st.body is not None or kw not in REGISTRY):
            return STRUCTURES[kw](self, st, current, env, calls)
        if kw in self.blocks:
            return _call_block(self, st, current, calls)
        if st.body is not None:
            self.error(
                f"'{kw}' takes no {{ ... }} block",
                st.body[0].span if st.body else st.keyword_span,
                hint="blocks follow repeat, residual, concat, add, branch, shortcut "
                "and block definitions",
            )
            return None
        entry = REGISTRY.get(kw)
        if entry is None:
            self.unknown_keyword(st)
            return None
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
                return current
            self.input_stmt = st
            if bound is None:
                return None
            layer, spans, name, _ = bound
            return self.make_node(st, layer, (), spans, name or "input")
        if self.input_stmt is None:
            if not self.missing_input_reported:
                self.missing_input_reported = True
                self.error(
                    f"'{kw}' comes before any input: the model needs an input shape first",
                    st.keyword_span,
                    hint="start the model with a line such as `input 28x28x1` "
                    "(height x width x channels) or `input 100x300` (length x channels)",
                )
            return None
        if bound is None or current is None:
            return None
        layer, spans, name, refs = bound
        inputs = [current]
        for ref in refs:
            node = self.by_name.get(str(ref.value))
            if node is None:
                hint = did_you_mean(str(ref.value), list(self.by_name))
                self.error(
                    f"no layer named '{ref.value}' before this {kw}",
                    ref.span,
                    hint=hint or "name a layer with name=... to refer to it",
                )
                return None
            inputs.append(node)
        return self.make_node(st, layer, tuple(inputs), spans, name)

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
        words = [*_keywords(), *STRUCTURES, *self.blocks]
        hint = did_you_mean(st.keyword, words)
        if hint is None:
            hint = "layers: " + ", ".join(sorted(_keywords()))
            if self.blocks:
                hint += "; blocks: " + ", ".join(sorted(self.blocks))
        self.error(f"unknown layer '{st.keyword}'", st.keyword_span, hint=hint)

    def bind_options(
        self, st: Statement, entry: Entry
    ) -> tuple[Layer, dict[str, Span], str | None, list[Value]] | None:
        """Turn positional and key=value literals into the kind's dataclass."""
        cls = entry.cls
        specs = cls.options()
        values: dict[str, Any] = dict(entry.preset)
        spans: dict[str, Span] = {}
        ok = True
        free = _positional(entry)
        args = list(reversed(st.args))
        refs: list[Value] = []
        if cls.ARITY < 0:  # a merge: its words name the tensors to merge with
            refs = [v for v in st.args if v.kind == "name"]
            args = [v for v in args if v.kind != "name"]
            if not refs:
                self.error(
                    f"{st.keyword} needs the name of a layer to merge with, or "
                    f"branches: {st.keyword} {{ branch {{ ... }} branch {{ ... }} }}",
                    st.keyword_span,
                    hint=f"for example: {cls.EXAMPLE}",
                )
                ok = False
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
        return layer, spans, name, refs

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
        keyword: str | None = None,
    ) -> Node | None:
        keyword = keyword or st.keyword
        names = tuple(n.name for n in inputs)
        try:
            node = Node.build(
                name or "", layer, names, tuple(n.shape for n in inputs), st.span, keyword
            )
        except LayerError as exc:
            self.layer_error(st, exc, spans)
            return None
        if name is None:
            node = dataclasses.replace(node, name=self.auto_name(keyword))
        if len(self.nodes) >= MAX_NODES:
            self.error(
                f"the model expands to more than {MAX_NODES:,} layers",
                st.keyword_span,
                hint="check the repeat counts and block calls",
            )
            raise _TooBig
        self.nodes.append(node)
        self.by_name[node.name] = node
        return node


# ---------------------------------------------------------------- structure


def _collect_blocks(self: _Checker) -> None:
    """Block definitions, anywhere at the top level: `block NAME(params) { body }`."""
    for st in self.statements:
        if st is None or st.keyword != "block":
            continue
        header = st.args
        if (
            st.body is None
            or not header
            or header[0].kind != "name"
            or st.options
            or len(header) > 2
            or (len(header) == 2 and header[1].kind != "tuple")
        ):
            self.error(
                "write a block as `block NAME(param, param=default) { ... }`",
                st.keyword_span,
                hint="for example: block vgg(filters, convs=2) "
                "{ repeat convs { conv filters 3x3 relu same }; pool max 2 }",
            )
            continue
        name = str(header[0].value)
        if name in REGISTRY or name in STRUCTURES or name in DIRECTIVES:
            self.error(
                f"'{name}' is a keyword of the language; name the block otherwise", header[0].span
            )
            continue
        if name in self.blocks:
            self.error(
                f"block '{name}' is defined twice",
                header[0].span,
                notes=(Note("first defined here", self.blocks[name][0].span),),
            )
            continue
        params: list[tuple[str, Value | None]] = []
        ok = True
        for item in header[1].value if len(header) == 2 else ():
            if isinstance(item, Option):
                params.append((item.key, item.value))
            elif item.kind == "name":
                if any(d is not None for _, d in params):
                    self.error(
                        "a parameter without a default cannot follow one with a default", item.span
                    )
                    ok = False
                params.append((str(item.value), None))
            else:
                self.error(f"expected a parameter name, found {item.text()}", item.span)
                ok = False
        names = [p for p, _ in params]
        for i, p in enumerate(names):
            if p in names[:i]:
                self.error(f"parameter '{p}' is listed twice", header[0].span)
                ok = False
        if ok:
            self.blocks[name] = (st, params)


def _call_block(
    self: _Checker, st: Statement, current: Node | None, calls: tuple[Note, ...]
) -> Node | None:
    """Expand one use of a block: bind its arguments, check its body under them."""
    definition, params = self.blocks[st.keyword]
    here = Note(f"in block '{st.keyword}' used here", st.keyword_span)
    if any(n.message == here.message for n in calls):
        self.error(
            f"block '{st.keyword}' uses itself",
            st.keyword_span,
            hint="blocks cannot be recursive: use repeat for repetition",
        )
        return None
    if len(calls) >= MAX_DEPTH:
        self.error(f"blocks nest more than {MAX_DEPTH} deep", st.keyword_span)
        return None
    env: dict[str, Value] = {}
    names = [p for p, _ in params]
    if len(st.args) > len(params):
        self.error(
            f"block '{st.keyword}' takes {len(params)} value"
            f"{'s' * (len(params) != 1)}, {len(st.args)} given",
            st.args[len(params)].span,
            hint=f"block {st.keyword}({', '.join(names)})",
        )
        return None
    for (p, _), v in zip(params, st.args):
        env[p] = v
    for o in st.options:
        if o.key not in names:
            self.error(
                f"block '{st.keyword}' has no parameter '{o.key}'",
                o.key_span,
                hint=did_you_mean(o.key, names) or f"parameters: {', '.join(names)}",
            )
            return None
        if o.key in env:
            self.error(f"{o.key} is given twice", o.key_span)
            return None
        env[o.key] = o.value
    missing = [p for p, d in params if p not in env and d is None]
    if missing:
        self.error(
            f"block '{st.keyword}' needs {', '.join(missing)}",
            st.keyword_span,
            hint=f"block {st.keyword}({', '.join(names)})",
        )
        return None
    for p, d in params:
        if p not in env and d is not None:
            env[p] = d
    assert definition.body is not None
    return self.seq(definition.body, current, env, (here, *calls))


def _repeat(
    self: _Checker,
    st: Statement,
    current: Node | None,
    env: dict[str, Value],
    calls: tuple[Note, ...],
) -> Node | None:
    if st.body is None or len(st.args) != 1 or st.options or st.args[0].kind != "int":
        self.error("write `repeat N { ... }` with a whole number N", st.keyword_span)
        return None
    n = int(st.args[0].value)
    if not 0 <= n <= MAX_REPEAT:
        self.error(f"repeat count must be between 0 and {MAX_REPEAT:,}, found {n}", st.args[0].span)
        return None
    for _ in range(n):
        current = self.seq(st.body, current, env, calls)
    return current


def _merge_node(self: _Checker, st: Statement, kind: str, outs: list[Node]) -> Node | None:
    entry = REGISTRY[kind]
    return self.make_node(st, entry.cls(), tuple(outs), {}, None, keyword=kind)


def _residual(
    self: _Checker,
    st: Statement,
    current: Node | None,
    env: dict[str, Value],
    calls: tuple[Note, ...],
) -> Node | None:
    """`residual { body; shortcut { projection } }`: output = body(x) + shortcut(x)."""
    if st.body is None or st.args or st.options:
        self.error(
            "write `residual { ... }`, with an optional `shortcut { ... }` inside", st.keyword_span
        )
        return None
    body = [b for b in st.body if b.keyword != "shortcut"]
    shortcuts = [b for b in st.body if b.keyword == "shortcut"]
    for extra in shortcuts[1:]:
        self.error("a residual has one shortcut", extra.keyword_span)
    if shortcuts and (shortcuts[0].body is None or shortcuts[0].args or shortcuts[0].options):
        self.error("write the projection as `shortcut { ... }`", shortcuts[0].keyword_span)
        return None
    out = self.seq(body, current, env, calls)
    short = self.seq(shortcuts[0].body or (), current, env, calls) if shortcuts else current
    if out is None or short is None or current is None:
        return None
    if out.shape != short.shape:
        what = "the shortcut" if shortcuts else "the input (the identity shortcut)"
        self.error(
            f"residual: the body gives {fmt_shape(out.shape)} but {what} gives "
            f"{fmt_shape(short.shape)}; they must match to be added",
            st.keyword_span,
            hint="add a projection inside the residual, e.g. "
            "`shortcut { conv F 1x1 stride=S bias=false; batchnorm }`"
            if not shortcuts
            else "make the shortcut's filters and stride match the body's",
        )
        return None
    return _merge_node(self, st, "add", [out, short])


def _branches(
    self: _Checker,
    st: Statement,
    current: Node | None,
    env: dict[str, Value],
    calls: tuple[Note, ...],
) -> Node | None:
    """`concat { branch { ... } branch { ... } }` (or `add { ... }`): parallel paths from
    the same input, merged; an empty branch is the input itself."""
    assert st.body is not None
    bad = [b for b in st.body if b.keyword != "branch" or b.body is None]
    if bad or len(st.body) < 2 or st.args or st.options:
        where = bad[0].keyword_span if bad else st.keyword_span
        self.error(
            f"write `{st.keyword} {{ branch {{ ... }} branch {{ ... }} }}`: two or more branches",
            where,
        )
        return None
    outs = [self.seq(b.body or (), current, env, calls) for b in st.body]
    if current is None or any(o is None for o in outs):
        return None
    return _merge_node(self, st, st.keyword, outs)  # type: ignore[arg-type]


def _misplaced(
    self: _Checker,
    st: Statement,
    current: Node | None,
    env: dict[str, Value],
    calls: tuple[Note, ...],
) -> Node | None:
    if st.keyword == "block":
        if calls or env:
            self.error("blocks are defined at the top level only", st.keyword_span)
        return current  # collected before checking
    where = "residual" if st.keyword == "shortcut" else "concat or add"
    self.error(f"'{st.keyword}' belongs directly inside {where} {{ ... }}", st.keyword_span)
    return None


STRUCTURES = {
    "repeat": _repeat,
    "residual": _residual,
    "concat": _branches,
    "add": _branches,
    "branch": _misplaced,
    "shortcut": _misplaced,
    "block": _misplaced,
}


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
