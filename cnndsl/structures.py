"""The statements that hold others: blocks and their uses, repeat, residual, branches.

Each checks its body through the checker's ``seq`` (so that an error inside a block
carries an "in block ... used here" note) and returns the tensor it leaves, or None
when the shape after it is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .advice import paren_call
from .binding import Report
from .errors import Note
from .ir import Node
from .layers import REGISTRY, fmt_shape
from .limits import MAX_BRACKETS, MAX_DEPTH, MAX_NESTING, MAX_REPEAT
from .options import did_you_mean
from .syntax import Option, Statement, Value

if TYPE_CHECKING:
    from .check import Checker

__all__ = [
    "MAX_DEPTH",
    "MAX_REPEAT",
    "STRUCTURES",
    "Calls",
    "Env",
    "Structures",
    "substitute",
    "walk",
]

Env = dict[str, Value]  # a block's parameters -> the values of one use
Calls = tuple[Note, ...]  # "in block 'x' used here" notes, innermost first
Params = list[tuple[str, Value | None]]  # a block's parameters and their defaults


def _only_body(st: Statement) -> bool:
    """A body and nothing else: `residual { ... }`, not `residual 2 { ... }`."""
    return st.body is not None and not st.args and not st.options


def _is_branch(st: Statement) -> bool:
    return st.keyword == "branch" and st.body is not None


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


class Structures:
    """The checker's statements with a body, and the blocks defined in the file."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.error: Report = checker.error
        self.blocks: dict[str, tuple[Statement, Params]] = {}
        self.depth = 0  # structures open, block bodies included: of MAX_NESTING

    def handles(self, st: Statement) -> bool:
        """A structure, or a use of a block; `concat NAME` without a body is a layer."""
        kw = st.keyword
        return kw in self.blocks or (
            kw in STRUCTURES and (st.body is not None or kw not in REGISTRY)
        )

    def expand(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """The structure or block use ``st``, at most MAX_NESTING deep: the checker
        recurses once per level, and blocks can stack their bodies' braces."""
        if self.depth >= MAX_NESTING:
            self.checker.stop(
                f"structures nest more than {MAX_NESTING} deep here, "
                "counting the bodies of the blocks used",
                st.keyword_span,
            )
        self.depth += 1
        try:
            if st.keyword in self.blocks:  # never a keyword: see define
                return self.call_block(st, current, calls)
            return STRUCTURES[st.keyword](self, st, current, env, calls)
        finally:
            self.depth -= 1

    # ------------------------------------------------------------ blocks

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
        env = self.arguments(st, params)
        if env is None or definition.body is None or self.too_deep(env):
            return None
        return self.checker.seq(definition.body, current, env, (here, *calls))

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
        return {**{p: d for p, d in params if d is not None}, **env}

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

    # ------------------------------------------------------------ structures

    def repeat(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """`repeat N { body }`: the body N times over."""
        if st.body is None or len(st.args) != 1 or st.options or st.args[0].kind != "int":
            self.error("write `repeat N { ... }` with a whole number N", st.keyword_span)
            return None
        n = int(st.args[0].value)
        if not 0 <= n <= MAX_REPEAT:
            self.error(
                f"repeat count must be between 0 and {MAX_REPEAT:,}, found {n}", st.args[0].span
            )
            return None
        for _ in range(n):
            current = self.checker.seq(st.body, current, env, calls)
        return current

    def residual(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """`residual { body; shortcut { projection } }`: output = body(x) + shortcut(x)."""
        parts = self.residual_parts(st)
        if parts is None:
            return None
        body, shortcut = parts
        out = self.checker.seq(body, current, env, calls)
        short = current if shortcut is None else self.checker.seq(shortcut, current, env, calls)
        if out is None or short is None or current is None:
            return None
        if out.shape != short.shape:
            self.residual_mismatch(st, out, short, shortcut is not None)
            return None
        return self.merge_node(st, "add", [out, short])

    def residual_parts(
        self, st: Statement
    ) -> tuple[list[Statement], tuple[Statement, ...] | None] | None:
        """The body, and the shortcut's body (None: the identity); None after an error."""
        if not _only_body(st):
            self.error(
                "write `residual { ... }`, with an optional `shortcut { ... }` inside",
                st.keyword_span,
            )
            return None
        statements = st.body or ()
        body = [b for b in statements if b.keyword != "shortcut"]
        shortcuts = [b for b in statements if b.keyword == "shortcut"]
        for extra in shortcuts[1:]:
            self.error("a residual has one shortcut", extra.keyword_span)
        if not shortcuts:
            return body, None
        if not _only_body(shortcuts[0]):
            self.error("write the projection as `shortcut { ... }`", shortcuts[0].keyword_span)
            return None
        return body, shortcuts[0].body

    def residual_mismatch(self, st: Statement, out: Node, short: Node, projected: bool) -> None:
        what = "the shortcut" if projected else "the input (the identity shortcut)"
        self.error(
            f"residual: the body gives {fmt_shape(out.shape)} but {what} gives "
            f"{fmt_shape(short.shape)}; they must match to be added",
            st.keyword_span,
            hint="make the shortcut's filters and stride match the body's"
            if projected
            else "add a projection inside the residual, e.g. "
            "`shortcut { conv F 1x1 stride=S bias=false; batchnorm }`",
        )

    def branches(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """`concat { branch { ... } branch { ... } }` (or `add { ... }`): parallel paths from
        the same input, merged; an empty branch is the input itself."""
        paths = self.branch_bodies(st)
        if paths is None:
            return None
        outs = [self.checker.seq(path, current, env, calls) for path in paths]
        known = [o for o in outs if o is not None]
        if current is None or len(known) < len(outs):
            return None
        return self.merge_node(st, st.keyword, known)

    def branch_bodies(self, st: Statement) -> list[tuple[Statement, ...]] | None:
        """The bodies of two or more `branch { ... }`, and nothing else; None after an error."""
        statements = st.body or ()
        bad = next((b for b in statements if not _is_branch(b)), None)
        if bad is None and len(statements) >= 2 and _only_body(st):
            return [b.body or () for b in statements]
        self.error(
            f"write `{st.keyword} {{ branch {{ ... }} branch {{ ... }} }}`: two or more branches",
            (bad or st).keyword_span,
        )
        return None

    def misplaced(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """`branch`, `shortcut` out of place, or a `block` definition met while checking."""
        if st.keyword == "block":
            if calls or env:
                self.error("blocks are defined at the top level only", st.keyword_span)
            return current  # collected before checking
        where = "residual" if st.keyword == "shortcut" else "concat or add"
        self.error(f"'{st.keyword}' belongs directly inside {where} {{ ... }}", st.keyword_span)
        return None

    def merge_node(self, st: Statement, kind: str, outs: list[Node]) -> Node | None:
        entry = REGISTRY[kind]
        return self.checker.add_node(st, entry.cls(), tuple(outs), {}, None, keyword=kind)


Expander = Callable[[Structures, Statement, Node | None, Env, Calls], Node | None]

#: keyword -> how it is checked; the keyword, when it has a body, is not a layer
STRUCTURES: dict[str, Expander] = {
    "repeat": Structures.repeat,
    "residual": Structures.residual,
    "concat": Structures.branches,
    "add": Structures.branches,
    "branch": Structures.misplaced,
    "shortcut": Structures.misplaced,
    "block": Structures.misplaced,
}
