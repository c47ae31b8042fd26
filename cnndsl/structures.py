"""The statements that hold others: blocks and their uses, repeat, residual, branches.

Each checks its body through the checker's ``seq`` (so that an error inside a block
carries an "in block ... used here" note) and returns the tensor it leaves, or None
when the shape after it is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .binding import Report
from .blocks import (
    Blocks,
    Calls,
    Env,
    Params,
    is_branch,
    label_of,
    only_body,
    substitute,
    walk,
)
from .ir import Node
from .layers import REGISTRY, fmt_shape
from .limits import MAX_DEPTH, MAX_NESTING, MAX_REPEAT
from .syntax import Statement

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


class Structures(Blocks):
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

    def labelled_seq(
        self, st: Statement, current: Node | None, env: Env, calls: Calls
    ) -> Node | None:
        """A shortcut's or branch's body: in a numbered scope of its own when named."""
        body = st.body or ()
        label = label_of(st)
        if label is None:
            return self.checker.seq(body, current, env, calls)
        return self.scoped_seq(self.open_scope(st, body, label), body, current, env, calls)

    def stage(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """`stage NAME { body }`: a numbered scope named NAME (an nn.Sequential in PyTorch);
        `stage { body }` takes the next number or `stage1`, `stage2`..."""
        args = st.args
        if st.body is None or st.options or len(args) > 1 or (args and args[0].kind != "name"):
            self.error(
                "write `stage NAME { ... }`, or `stage { ... }` for a numbered one",
                st.keyword_span,
                hint="for example: stage layer1 { basic 64; basic 64 }",
            )
            return None
        label = args[0] if args else None
        scope = self.open_scope(st, st.body, label)
        return self.scoped_seq(scope, st.body, current, env, calls)

    # ------------------------------------------------------------ structures

    def repeat(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """`repeat N { body }`: the body N times over; with `name=P`, the block instance or
        stage of the i-th run is labelled P1, P2... (torchvision's `denselayer1`)."""
        parts = self.repeat_parts(st)
        if parts is None:
            return None
        n, label = parts
        scope = self.checker.scope
        saved = scope.pending
        for i in range(n):
            scope.pending = f"{label}{i + 1}" if label is not None else saved
            current = self.checker.seq(st.body or (), current, env, calls)
        scope.pending = saved
        return current

    # complex: each part of the statement checked in turn, with its own message
    def repeat_parts(self, st: Statement) -> tuple[int, str | None] | None:
        """N and the label of `repeat N name=P { ... }`; None after an error."""
        label = label_of(st)
        options_ok = all(o.key == "name" for o in st.options) and len(st.options) <= 1
        if st.body is None or not options_ok or len(st.args) != 1 or st.args[0].kind != "int":
            self.error("write `repeat N { ... }` with a whole number N", st.keyword_span)
            return None
        if label is not None and label.kind != "name":
            self.error(f"expected a name, found {label.text()}", label.span)
            return None
        n = int(st.args[0].value)
        if not 0 <= n <= MAX_REPEAT:
            self.error(
                f"repeat count must be between 0 and {MAX_REPEAT:,}, found {n}", st.args[0].span
            )
            return None
        return n, None if label is None else str(label.value)

    def residual(self, st: Statement, current: Node | None, env: Env, calls: Calls) -> Node | None:
        """`residual { body; shortcut { projection } }`: output = body(x) + shortcut(x)."""
        parts = self.residual_parts(st)
        if parts is None:
            return None
        body, shortcut = parts
        out = self.checker.seq(body, current, env, calls)
        short = current if shortcut is None else self.labelled_seq(shortcut, current, env, calls)
        if out is None or short is None or current is None:
            return None
        if out.shape != short.shape:
            self.residual_mismatch(st, out, short, shortcut is not None)
            return None
        return self.merge_node(st, "add", [out, short])

    def residual_parts(self, st: Statement) -> tuple[list[Statement], Statement | None] | None:
        """The body, and the shortcut (None: the identity); None after an error."""
        if not only_body(st):
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
        if not only_body(shortcuts[0], named=True):
            self.error("write the projection as `shortcut { ... }`", shortcuts[0].keyword_span)
            return None
        return body, shortcuts[0]

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
        outs = [self.labelled_seq(path, current, env, calls) for path in paths]
        known = [o for o in outs if o is not None]
        if current is None or len(known) < len(outs):
            return None
        return self.merge_node(st, st.keyword, known)

    def branch_bodies(self, st: Statement) -> list[Statement] | None:
        """Two or more `branch { ... }`, and nothing else; None after an error."""
        statements = st.body or ()
        bad = next((b for b in statements if not is_branch(b)), None)
        if bad is None and len(statements) >= 2 and only_body(st):
            return list(statements)
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
    "stage": Structures.stage,
    "residual": Structures.residual,
    "concat": Structures.branches,
    "add": Structures.branches,
    "branch": Structures.misplaced,
    "shortcut": Structures.misplaced,
    "block": Structures.misplaced,
}
