"""Blocks: their definitions, their uses, and the scopes that instances and stages open.

A mixin of :class:`cnndsl.structures.Structures`, kept apart for size: the checker
defines every block before checking anything, and expands each use under its
arguments, in a scope of its own (cnndsl.scopes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .advice import paren_call
from .binding import Report
from .errors import Note
from .ir import Node
from .limits import MAX_BRACKETS, MAX_DEPTH
from .options import did_you_mean
from .scopes import Scope, numbered_body, reserved_names
from .syntax import Option, Statement, Value

if TYPE_CHECKING:
    from .check import Checker

Env = dict[str, Value]  # a block's parameters -> the values of one use
Calls = tuple[Note, ...]  # "in block 'x' used here" notes, innermost first
Params = list[tuple[str, Value | None]]  # a block's parameters and their defaults


def only_body(st: Statement, named: bool = False) -> bool:
    """A body and nothing else: `residual { ... }`, not `residual 2 { ... }`; with
    ``named``, a `name=NAME` may label it (`shortcut name=downsample { ... }`)."""
    options = st.options
    if named and len(options) == 1 and options[0].key == "name":
        options = ()
    return st.body is not None and not st.args and not options


def label_of(st: Statement) -> Value | None:
    """The `name=` a block use, shortcut or branch is labelled with, if any."""
    return next((o.value for o in st.options if o.key == "name"), None)


def is_branch(st: Statement) -> bool:
    return st.keyword == "branch" and st.body is not None and only_body(st, named=True)


def _too_deep(v: Value | Option, limit: int) -> bool:
    """Brackets nested deeper than ``limit`` (looks no deeper than that)."""
    if isinstance(v, Option):
        return _too_deep(v.value, limit)
    if v.kind not in ("tuple", "list"):
        return False
    return limit == 0 or any(_too_deep(x, limit - 1) for x in v.value)


def _block_header(st: Statement) -> bool:
    """`block NAME { ... }` or `block NAME(params) { ... }`."""
    head = st.args
    return (
        st.body is not None
        and not st.options
        and len(head) in (1, 2)
        and head[0].kind == "name"
        and (len(head) == 1 or head[1].kind == "tuple")
    )


def walk(statements: Sequence[Statement | None]) -> Iterator[Statement]:
    """Every statement, nested bodies included."""
    for st in statements:
        if st is not None:
            yield st
            if st.body:
                yield from walk(st.body)


def _subst_value(v: Any, env: Env) -> Any:
    if isinstance(v, Option):
        return Option(v.key, v.key_span, _subst_value(v.value, env), v.span)
    if v.kind == "name" and v.value in env:
        bound = env[str(v.value)]
        return Value(bound.kind, bound.value, v.span)  # the use site keeps its place
    if v.kind in ("tuple", "list"):
        return Value(v.kind, tuple(_subst_value(x, env) for x in v.value), v.span)
    return v


def substitute(st: Statement, env: Env) -> Statement:
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


def _split_label(st: Statement, params: Params) -> tuple[Statement, Value | None]:
    """A block use without its `name=` label, and the label (unless the block itself
    has a parameter called name)."""
    label = None if any(p == "name" for p, _ in params) else label_of(st)
    if label is None:
        return st, None
    options = tuple(o for o in st.options if o.key != "name")
    return Statement(st.keyword, st.keyword_span, st.args, options, st.span, st.body), label


class Blocks:
    """Block definitions and uses; needs ``checker``, ``error`` and ``blocks``."""

    checker: Checker
    error: Report
    blocks: dict[str, tuple[Statement, Params]]

    def collect(self, statements: Sequence[Statement | None]) -> None:
        """Block definitions, anywhere at the top level, before anything is checked."""
        for st in statements:
            if st is not None and st.keyword == "block":
                self.define(st)

    def define(self, st: Statement) -> None:
        """`block NAME(param, param=default) { body }`."""
        if not _block_header(st):
            self.error(
                "write a block as `block NAME(param, param=default) { ... }`",
                st.keyword_span,
                hint="for example: block vgg(filters, convs=2) "
                "{ repeat convs { conv filters 3x3 relu same }; pool max 2 }",
            )
            return
        head = st.args[0]
        name = str(head.value)
        if self.checker.is_keyword(name):
            self.error(
                f"'{name}' is a keyword of the language; name the block otherwise", head.span
            )
        elif name in self.blocks:
            self.error(
                f"block '{name}' is defined twice",
                head.span,
                notes=(Note("first defined here", self.blocks[name][0].span),),
            )
        else:
            params = self.params(st.args[1].value if len(st.args) == 2 else (), head)
            if params is not None:
                self.blocks[name] = (st, params)

    def params(self, items: Sequence[Value | Option], head: Value) -> Params | None:
        """A block's parameters in order, or None after an error (reported)."""
        params: Params = []
        ok = True
        for item in items:
            if isinstance(item, Option):
                params.append((item.key, item.value))
                continue
            if item.kind != "name":
                self.error(f"expected a parameter name, found {item.text()}", item.span)
                ok = False
                continue
            if any(d is not None for _, d in params):
                self.error(
                    "a parameter without a default cannot follow one with a default", item.span
                )
                ok = False
            params.append((str(item.value), None))
        names = [p for p, _ in params]
        for i, p in enumerate(names):
            if p in names[:i]:
                self.error(f"parameter '{p}' is listed twice", head.span)
                ok = False
        return params if ok else None

    def call_block(self, st: Statement, current: Node | None, calls: Calls) -> Node | None:
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
            self.checker.stop(f"blocks nest more than {MAX_DEPTH} deep", st.keyword_span)
        called = paren_call(st, st.keyword)  # vgg(32): one error, not one per statement
        if called is not None:
            self.error(called[0], st.args[0].span, called[1])
            return None
        st, label = _split_label(st, params)
        env = self.arguments(st, params)
        if env is None or definition.body is None or self.too_deep(env):
            return None
        body = definition.body
        scope = self.open_scope(st, body, label, st.keyword, numbered_body(body), env)
        return self.scoped_seq(scope, body, current, env, (here, *calls))

    # complex: a label given or not, checked, then the child scope built from it
    def open_scope(
        self,
        where: Statement,
        body: tuple[Statement, ...],
        label: Value | None,
        block: str = "",
        numbered: bool = True,
        env: Env | None = None,
    ) -> Scope | None:
        """The scope of a block instance, stage, or named shortcut or branch: its label is
        ``label`` (a `name=` or a stage's name), else the parent's next (cnndsl.scopes)."""
        parent = self.checker.scope
        given = parent.pending  # set by `repeat N name=P`
        if label is not None and label.kind != "name":
            self.error(f"expected a name, found {label.text()}", label.span)
            return None
        if label is not None:
            given = str(label.value)
        if given is not None:
            first = parent.taken.get(given)
            if first is not None:
                self.error(
                    f"'{given}' is taken in this scope",
                    label.span if label is not None else where.keyword_span,
                    notes=(Note("taken here", first),),
                )
                return None
        name = parent.label(given, block or "stage", 1)
        parent.taken.setdefault(name, where.keyword_span)
        kinds = ("int", "float", "name", "dims")
        args = tuple((k, v.value) for k, v in (env or {}).items() if v.kind in kinds)
        child = parent.child(name, block, numbered, given is not None or not block, args)
        child.reserved = reserved_names(body)
        return child

    def scoped_seq(
        self,
        scope: Scope | None,
        body: Sequence[Statement],
        current: Node | None,
        env: Env,
        calls: Calls,
    ) -> Node | None:
        if scope is None:
            return None
        with self.checker.scoped(scope):
            return self.checker.seq(body, current, env, calls)

    def arguments(self, st: Statement, params: Params) -> Env | None:
        """A use's values and options bound to the block's parameters, defaults filled in."""
        names = [p for p, _ in params]
        usage = f"block {st.keyword}({', '.join(names)})"
        if len(st.args) > len(params):
            self.error(
                f"block '{st.keyword}' takes {len(params)} value"
                f"{'s' * (len(params) != 1)}, {len(st.args)} given",
                st.args[len(params)].span,
                hint=usage,
            )
            return None
        env = dict(zip(names, st.args))
        if not self.keyword_arguments(st, names, env):
            return None
        missing = [p for p, d in params if p not in env and d is None]
        if missing:
            self.error(f"block '{st.keyword}' needs {', '.join(missing)}", st.keyword_span, usage)
            return None
        merged = {**{p: d for p, d in params if d is not None}, **env}
        return dict(sorted(merged.items(), key=lambda kv: names.index(kv[0])))

    def too_deep(self, env: Env) -> bool:
        """A value nested too deep (reported): brackets around a parameter, call after
        call, would otherwise grow without bound past the parser's limit."""
        deep = next((v for v in env.values() if _too_deep(v, MAX_BRACKETS)), None)
        if deep is not None:
            self.error(f"this value nests more than {MAX_BRACKETS} brackets deep", deep.span)
        return deep is not None

    def keyword_arguments(self, st: Statement, names: list[str], env: Env) -> bool:
        """`b 64 convs=3`: add the options to ``env``; False after an error (reported)."""
        for o in st.options:
            if o.key not in names:
                self.error(
                    f"block '{st.keyword}' has no parameter '{o.key}'",
                    o.key_span,
                    hint=did_you_mean(o.key, names) or f"parameters: {', '.join(names)}",
                )
                return False
            if o.key in env:
                self.error(f"{o.key} is given twice", o.key_span)
                return False
            env[o.key] = o.value
        return True
