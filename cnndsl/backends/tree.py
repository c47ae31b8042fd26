"""The model's scopes as a tree, for code generators that keep the source's structure.

:func:`build` groups the flat DAG's nodes by their scope paths (cnndsl.scopes) into a
tree of :class:`Scope`: each holds, in model order, its items — nodes and sub-scopes
— and knows its boundary: the tensors it reads from outside and the ones it leaves
for later. :func:`variables` names the values inside one scope's generated function
the way a person would: ``x`` for the tensor flowing straight on, a name for one that
must live longer. :func:`unify` turns the instances of one block into one class or
function with parameters where the instances differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ir import Model, Node
from ..scopes import Frame
from .codegen import Call, Code, fresh


@dataclass
class Scope:
    """One scope instance: the model (no frame), a block instance or a container."""

    frame: Frame | None
    path: tuple[str, ...]
    items: list[Node | Scope] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)  # every node inside, nested ones too
    inputs: list[str] = field(default_factory=list)  # tensors read from outside
    outputs: list[str] = field(default_factory=list)  # tensors left: the last one first

    @property
    def label(self) -> str:
        return self.path[-1] if self.path else ""

    @property
    def block(self) -> str:
        return self.frame.block if self.frame else ""

    @property
    def numbered(self) -> bool:
        return self.frame is not None and self.frame.numbered


def label(item: Node | Scope) -> str:
    """An item's label in its scope."""
    return item.label if isinstance(item, Scope) else item.path[-1]


def build(model: Model) -> Scope:
    """The model's scope tree, boundaries computed."""
    root = Scope(None, ())
    open_: list[Scope] = [root]
    for node in model.nodes:
        frames = node.scope
        keep = 0  # scopes still open that this node is inside
        while (
            keep < len(frames)
            and keep + 1 < len(open_)
            and open_[keep + 1].frame == frames[keep]
            and open_[keep + 1].path == tuple(f.label for f in frames[: keep + 1])
        ):
            keep += 1
        del open_[keep + 1 :]
        for depth in range(keep, len(frames)):
            child = Scope(frames[depth], tuple(f.label for f in frames[: depth + 1]))
            open_[-1].items.append(child)
            open_.append(child)
        open_[-1].items.append(node)
        for scope in open_:
            scope.nodes.append(node)
    _boundaries(root, model, frozenset(model.outputs))
    return root


# complex: inputs, outputs and the recursion in one pass over the nodes of a scope
def _boundaries(scope: Scope, model: Model, results: frozenset[str]) -> None:
    """Each scope's inputs and outputs; ``results``, the model's outputs, found once (a
    scan of the model a scope made code generation quadratic in the number of scopes)."""
    inside = {n.name for n in scope.nodes}
    scope.inputs = list(dict.fromkeys(i for n in scope.nodes for i in n.inputs if i not in inside))
    left = [
        n.name
        for n in scope.nodes
        if n.name in results or any(c not in inside for c in model.consumers(n.name))
    ]
    last = scope.nodes[-1].name
    scope.outputs = [last] + [n for n in left if n != last]
    for item in scope.items:
        if isinstance(item, Scope):
            _boundaries(item, model, results)


def scopes(root: Scope) -> list[Scope]:
    """Every scope under ``root``, innermost first (a class before the classes using it)."""
    out: list[Scope] = []
    for item in root.items:
        if isinstance(item, Scope):
            out += scopes(item)
            out.append(item)
    return out


def by_height(root: Scope, keep: Callable[[Scope], bool] = lambda s: True) -> list[list[Scope]]:
    """The scopes under ``root`` that ``keep`` takes, grouped by height (how deep scopes
    nest inside them), lowest first: all the instances of a block are known before
    anything that uses them is made. Heights are counted once, bottom up."""
    height: dict[int, int] = {}
    groups: dict[int, list[Scope]] = {}
    for scope in scopes(root):  # innermost first: a scope's children come before it
        subs = [height[id(i)] for i in scope.items if isinstance(i, Scope)]
        height[id(scope)] = 1 + max(subs) if subs else 0
        if keep(scope):
            groups.setdefault(height[id(scope)], []).append(scope)
    return [groups[h] for h in sorted(groups)]


def produced(item: Node | Scope) -> list[str]:
    """The tensors an item leaves: a node's own, a scope's outputs."""
    return item.outputs if isinstance(item, Scope) else [item.name]


def reads(item: Node | Scope) -> list[str]:
    return item.inputs if isinstance(item, Scope) else list(item.inputs)


def _readers(scope: Scope) -> dict[str, list[int]]:
    """Tensor -> the items of ``scope`` that read it (the number of items: the return)."""
    readers: dict[str, list[int]] = {}
    for i, item in enumerate(scope.items):
        for t in reads(item):
            readers.setdefault(t, []).append(i)
    for t in scope.outputs:
        readers.setdefault(t, []).append(len(scope.items))
    return readers


@dataclass
class Variables:
    """Where one scope's generated function keeps its tensors: ``read[(i, t)]`` is the
    variable item ``i`` reads tensor ``t`` from (``i`` = the number of items: the return),
    ``write[t]`` the one ``t`` is assigned to, ``kept`` the name the first input is kept
    under when later items read it too (None: it only flows into the first item)."""

    read: dict[tuple[int, str], str]
    write: dict[str, str]
    kept: str | None


def variables(
    scope: Scope, first: str, extra: Sequence[str], name_of: Callable[[str], str]
) -> Variables:
    """The tensor flowing straight on is ``first`` (``x``); a tensor read later, or twice,
    keeps a name (``name_of`` it); the scope's further inputs are ``extra``."""
    readers = _readers(scope)
    end = len(scope.items)
    write: dict[str, str] = {}
    kept = None
    if scope.inputs:
        x0 = scope.inputs[0]
        kept = None if readers.get(x0, []) in ([0], []) else "identity"
        write[x0] = kept or first
        write.update(zip(scope.inputs[1:], extra))
    for i, item in enumerate(scope.items):
        for t in produced(item):
            straight = readers.get(t, []) == [i + 1] and t == produced(item)[0]
            write[t] = first if straight else name_of(t)
    return Variables(_reading(scope, write, first, end), write, kept)


def _reading(
    scope: Scope, write: dict[str, str], first: str, end: int
) -> dict[tuple[int, str], str]:
    """Where each item reads each tensor: where it was written; the first item reads
    the scope's input from ``first`` itself."""
    read: dict[tuple[int, str], str] = {}
    for i, item in enumerate(scope.items):
        for t in reads(item):
            at_start = i == 0 and bool(scope.inputs) and t == scope.inputs[0]
            read[(i, t)] = first if at_start else write[t]
    for t in scope.outputs:
        read[(end, t)] = write[t]
    return read


# ------------------------------------------------------------ one class per block


@dataclass
class Shared:
    """What the instances of one block share: per literal its parameter (None: the same
    everywhere), the parameters in order with their annotations, and each instance's
    values for them."""

    names: list[str | None]
    params: list[str]
    types: dict[str, str]
    values: list[tuple[Any, ...]]

    def call(self, fn: str, i: int) -> Call:
        """Instance ``i`` built by ``fn``: positional for up to two values, else keywords."""
        given = self.values[i]
        if len(self.params) <= 2:
            return Call(fn, given)
        return Call(fn, (), tuple(zip(self.params, given)))


def share(group: Sequence[Scope], trees: list[Any], hint: list[str], model: Model) -> Shared:
    """:func:`unify` for the instances ``group`` of one block, whose code is ``trees``:
    their block arguments and input channels name the parameters."""
    args = [dict(s.frame.args) if s.frame else {} for s in group]
    channels = [model.node(s.inputs[0]).shape[-1] if s.inputs else 0 for s in group]
    names, params = unify(trees, args, channels, hint)
    rows = [leaves(t) for t in trees]
    types = {p: type(rows[0][names.index(p)]).__name__ for p in params}
    values = [tuple(row[names.index(p)] for p in params) for row in rows]
    return Shared(names, params, types, values)


def leaves(value: Any) -> list[Any]:
    """The literal values in a tree of calls, tuples and lists, in order."""
    if isinstance(value, Call):
        return [x for a in value.args for x in leaves(a)] + [
            x for _, v in value.kwargs for x in leaves(v)
        ]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in leaves(v)]
    if isinstance(value, Code):
        return []
    return [value]


def shape_of(value: Any) -> Any:
    """The tree with its literals blanked: instances of one class share it."""
    if isinstance(value, Call):
        return (
            value.fn,
            tuple(shape_of(a) for a in value.args),
            tuple((k, shape_of(v)) for k, v in value.kwargs),
        )
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(shape_of(v) for v in value))
    if isinstance(value, Code):
        return ("code", value.text)
    return "*"


def substitute(value: Any, names: list[str | None], at: list[int]) -> Any:
    """The tree with the literal at each position replaced by ``Code(name)`` where
    ``names`` has one (``at`` counts positions as :func:`leaves` does)."""
    if isinstance(value, Call):
        args = tuple(substitute(a, names, at) for a in value.args)
        kwargs = tuple((k, substitute(v, names, at)) for k, v in value.kwargs)
        return Call(value.fn, args, kwargs)
    if isinstance(value, (tuple, list)):
        items = [substitute(v, names, at) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, Code):
        return value
    i = at[0]
    at[0] += 1
    return value if names[i] is None else Code(str(names[i]))


def unify(
    trees: list[Any], args: list[dict[str, Any]], channels: list[int], hint: list[str]
) -> tuple[list[str | None], list[str]]:
    """Parameters for the literals where the instances' ``trees`` differ: per position
    its parameter's name (None: the same everywhere), and the parameters in order.

    A position is named after the block parameter whose values it takes in every
    instance, else ``in_channels`` when it follows the input's channels, else after
    ``hint`` (its keyword: ``stride``, ``conv2_stride``...)."""
    columns = list(zip(*(leaves(t) for t in trees)))
    by_values: dict[tuple[Any, ...], str] = {}
    names: list[str | None] = []
    order = [*args[0]]
    for pos, column in enumerate(columns):
        if all(v == column[0] for v in column):
            names.append(None)
            continue
        if column not in by_values:
            by_values[column] = _param_name(column, args, channels, hint[pos], by_values)
        names.append(by_values[column])
    used = list(dict.fromkeys(n for n in names if n is not None))
    rank = {"in_channels": -1, **{p: i for i, p in enumerate(order)}}
    return names, sorted(used, key=lambda p: rank.get(p, len(order)))


def _param_name(
    column: tuple[Any, ...],
    args: list[dict[str, Any]],
    channels: list[int],
    hint: str,
    taken: dict[tuple[Any, ...], str],
) -> str:
    for p in args[0]:
        if tuple(a.get(p) for a in args) == column and p not in taken.values():
            return p
    if tuple(channels) == column and "in_channels" not in taken.values():
        return "in_channels"
    return fresh(hint, {*taken.values(), *args[0]})


#: the order keywords are written in once defaults are filled in; others go before name
ORDER = [
    "kernel_size",
    "stride",
    "strides",
    "padding",
    "output_padding",
    "dilation",
    "dilation_rate",
    "groups",
    "use_bias",
    "bias",
    "activation",
    "name",
]


def _ordered(kwargs: list[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    rank = {k: i for i, k in enumerate(ORDER)}
    return tuple(sorted(kwargs, key=lambda kv: rank.get(kv[0], len(ORDER) - 1.5)))


def with_defaults(value: Any, defaults: dict[str, dict[str, Any]]) -> Any:
    """Calls with every keyword of ``defaults[fn]`` written, in one order: instances
    that differ only in a keyword one leaves at its default can then share a class or
    function (the stride of a block's first conv, given in one instance only)."""
    if isinstance(value, Call):
        args = tuple(with_defaults(a, defaults) for a in value.args)
        kwargs = [(k, with_defaults(v, defaults)) for k, v in value.kwargs]
        table = defaults.get(value.fn)
        if table:
            given = dict(kwargs)
            kwargs += [(k, d) for k, d in table.items() if k not in given]
            return Call(value.fn, args, _ordered(kwargs))
        return Call(value.fn, args, tuple(kwargs))
    if isinstance(value, (tuple, list)):
        items = [with_defaults(v, defaults) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value


# complex: calls, tuples and lists recursed into; a keyword dropped only if a plain default
def without_defaults(value: Any, defaults: dict[str, dict[str, Any]]) -> Any:
    """The keywords :func:`with_defaults` wrote left out again where they are still
    the default (a parameter is :class:`Code`, and stays)."""
    if isinstance(value, Call):
        args = tuple(without_defaults(a, defaults) for a in value.args)
        table = defaults.get(value.fn, {})
        kwargs = tuple(
            (k, without_defaults(v, defaults))
            for k, v in value.kwargs
            if not (
                k in table
                and not isinstance(v, Code)
                and v == table[k]
                and type(v) is type(table[k])
            )
        )
        return Call(value.fn, args, kwargs)
    if isinstance(value, (tuple, list)):
        items = [without_defaults(v, defaults) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value
