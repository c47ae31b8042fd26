"""What a diagram draws: one box per layer, or per folded group of layers.

Folding (``--depth N``) groups *consecutive* layers whose scope paths agree on their
first N parts into one box, then merges consecutive boxes of the same block into one
``×N`` box. Consecutive runs of a topological order keep the graph acyclic, so the
layout needs nothing special for them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ir import Model, Node
from ..layers import fmt_shape

ScopeKey = Callable[[Node], tuple[str, ...]]


def scope_path(node: Node) -> tuple[str, ...]:
    """The block instances and stages a node sits in, outermost first (``Node.scope``):
    a stage by its label, a block instance as ``block#label`` (``("layer1",
    "basic#0")``), so that consecutive instances of one block fold into one ``×N`` box."""
    return tuple(f"{f.block}#{f.label}" if f.block else f.label for f in node.scope)


@dataclass(frozen=True)
class Unit:
    """A box: ``inputs`` are the ids of the boxes it reads from."""

    id: str
    name: str
    kind: str
    detail: str
    shape: str
    params: int
    inputs: tuple[str, ...]
    family: str  # the layer's module (conv, pool, norm...): its colour
    first: str = ""  # the first layer in the box (where an error about it points)


def units(model: Model, depth: int = 0, key: ScopeKey = scope_path) -> list[Unit]:
    """The boxes of ``model``: every node, or with ``depth`` > 0 groups folded."""
    groups: list[list[Node]] = []
    prefixes: list[tuple[str, ...]] = []
    for n in model.nodes:
        prefix = key(n)[:depth] if depth > 0 else ()
        if groups and prefix and prefix == prefixes[-1]:
            groups[-1].append(n)
        else:
            groups.append([n])
            prefixes.append(prefix)
    runs = _repeats(groups, prefixes)
    owner = {n.name: f"n{i}" for i, (_, run) in enumerate(runs) for g in run for n in g}
    return [_unit(f"n{i}", run, prefix, owner) for i, (prefix, run) in enumerate(runs)]


def block_name(part: str) -> str:
    """A scope part without its instance number: ``bottleneck#2`` -> ``bottleneck``."""
    return re.sub(r"(#|\[|_)\d+\]?$", "", part)


def _repeats(
    groups: list[list[Node]], prefixes: list[tuple[str, ...]]
) -> list[tuple[tuple[str, ...], list[list[Node]]]]:
    """Consecutive folded groups of the same block, with the same layers: one run each,
    with its first group's prefix (looked up by a scan of the groups for each run, it
    made drawing quadratic in the number of blocks)."""
    runs: list[tuple[tuple[str, ...], list[list[Node]]]] = []
    last: tuple[str, tuple[str, ...]] | None = None
    for g, prefix in zip(groups, prefixes):
        sig = (block_name(prefix[-1]), tuple(n.keyword for n in g)) if prefix else None
        if sig is not None and sig == last:
            runs[-1][1].append(g)
        else:
            runs.append((prefix, [g]))
        last = sig
    return runs


def _unit(uid: str, run: list[list[Node]], prefix: tuple[str, ...], owner: dict[str, str]) -> Unit:
    nodes = [n for g in run for n in g]
    inputs = _reads(nodes, owner)
    last = nodes[-1]
    if len(nodes) == 1:
        return _single(uid, last, inputs)
    times = f"×{len(run)} · " if len(run) > 1 else ""
    path = ".".join(p.split("#")[-1] for p in prefix)  # layer1.0
    block = prefix[-1].split("#")[0]
    name = block_name(prefix[-1]) if len(run) > 1 else path
    detail = (
        f"{times}{len(nodes)} layers"
        if len(run) > 1 or block == path
        else f"{block}: {len(nodes)} layers"
    )
    params = sum(n.params for n in nodes)
    shape = fmt_shape(last.shape)
    return Unit(uid, name, "block", detail, shape, params, inputs, "block", nodes[0].name)


def _reads(nodes: list[Node], owner: dict[str, str]) -> tuple[str, ...]:
    """The boxes a group of nodes reads from outside itself, once each, in order."""
    inside = {n.name for n in nodes}
    return tuple(dict.fromkeys(owner[i] for n in nodes for i in n.inputs if i not in inside))


def _single(uid: str, last: Node, inputs: tuple[str, ...]) -> Unit:
    return Unit(
        uid,
        last.name,
        last.keyword,
        describe(last),
        fmt_shape(last.shape),
        last.params,
        inputs,
        _family(last),
    )


def _family(node: Node) -> str:
    return type(node.layer).__module__.rsplit(".", 1)[-1]


def describe(node: Node) -> str:
    """The options that differ from their defaults, as short as they are written:
    ``64 7x7 stride=2x2 pad=3 bias=false``."""
    parts: list[str] = []
    layer = node.layer
    # the checker resolves `same` into pads: show `pad=` only where it was the padding
    shown_pad = getattr(layer, "padding", "explicit") == "explicit"
    for name, spec in type(layer).options().items():
        value = getattr(layer, name)
        # `explicit`: the checker's resolved padding, which `pad=` shows
        if _squash(value) in (None, _squash(spec.default), "explicit") or name == "fn":
            continue
        if name == "pad" and not shown_pad:
            continue
        text = _text(name, _squash(value) if name == "pad" else value)
        if text != fmt_shape(node.shape):  # an input's shape: on the next line already
            parts.append(text if spec.positional and name != "pad" else f"{name}={text}")
    return " ".join(parts)


def _squash(value: object) -> object:
    """``(2, 2)`` -> ``2``: the bound layer spells every axis out, the source rarely does."""
    if isinstance(value, tuple) and value and len(set(value)) == 1:
        return value[0]
    return value


def _text(name: str, value: object) -> str:
    if name == "weights":
        return "fixed"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ("x" if name != "pad" else ",").join(str(v) for v in value)
    return str(value)


def edges(units_: Sequence[Unit]) -> list[tuple[str, str]]:
    return [(i, u.id) for u in units_ for i in u.inputs]
