"""The flatten order in channels-first backends (PyTorch), decided once for every user.

The language flattens (H, W, C) row-major; ``torch.flatten`` on NCHW gives (C, H, W).
Idiomatic generated code flattens the PyTorch way and lets the weight converter permute
the rows of the dense layer that follows — which is exact only while the permuted
features flow into layers that keep their order (activations, dropout, per-channel
norms) and then into one that mixes them (dense). Where such features would be *added*
to features in another order, or would *leave the model*, the flatten must produce the
language's order itself: :func:`plan` finds those flattens. Every consumer — the
PyTorch lowering, the weight converter, ``verify`` — reads the same plan, so the three
cannot disagree. Symbolic (no NumPy): an order is a tuple of segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir import Model, Node
from ..layers import KEEPS_ORDER, Shape, Trait

#: A run of ``length`` features: flattened from ``shape`` in (C, H, W) order, or, with
#: ``shape`` None, in the language's order.
Segment = tuple[Shape | None, int]
#: The order of a feature vector, or None where it is the language's.
Order = tuple[Segment, ...] | None


@dataclass(frozen=True)
class Plan:
    """``orders``: each node's feature order in the channels-first code; ``canonical``:
    the flatten nodes that must flatten in the language's (H, W, C) order."""

    orders: dict[str, Order]
    canonical: frozenset[str]


def permuted(shape: Shape) -> bool:
    """Whether flattening ``shape`` channels-first differs from channels-last at all (a
    1x1 map or a single channel flattens alike both ways)."""
    return len(shape) > 1 and math.prod(shape[:-1]) > 1 and shape[-1] > 1


def _join(node: Node, orders: list[Order]) -> Order:
    segments: list[Segment] = []
    for shape, order in zip(node.input_shapes, orders):
        for seg in order or ((None, shape[-1]),):
            if seg[0] is None and segments and segments[-1][0] is None:
                segments[-1] = (None, segments[-1][1] + seg[1])
            else:
                segments.append(seg)
    return None if all(s is None for s, _ in segments) else tuple(segments)


def _order(node: Node, orders: list[Order], canonical: frozenset[str]) -> Order:
    traits = type(node.layer).TRAITS
    if Trait.FLATTENS in traits:
        shape = node.input_shapes[0]
        if len(shape) == 1:
            return orders[0]
        if node.name in canonical or not permuted(shape):
            return None
        return ((shape, math.prod(shape)),)
    if len(node.shape) != 1:
        return None  # spatial tensors are laid out NCHW and converted as a whole
    if Trait.JOINS_CHANNELS in traits:
        return _join(node, orders)
    if traits & KEEPS_ORDER:
        return orders[0]  # a sum of disagreeing orders is a conflict that plan() resolves
    return None  # mixes features: its output is in the language's order


def _sources(node: Node, order: Order, sources: dict[str, frozenset[str]]) -> frozenset[str]:
    """The flattens whose (C, H, W) order the node's features carry."""
    if order is None:
        return frozenset()
    if Trait.FLATTENS in type(node.layer).TRAITS and len(node.input_shapes[0]) > 1:
        return frozenset({node.name})
    return frozenset().union(*(sources[i] for i in node.inputs))


def _walk(model: Model, canonical: frozenset[str]) -> tuple[dict[str, Order], set[str]]:
    """Orders under ``canonical``, and the flattens that must join it: those feeding a sum
    of features in different orders, or the model's output."""
    orders: dict[str, Order] = {}
    sources: dict[str, frozenset[str]] = {}
    conflicts: set[str] = set()
    for node in model.nodes:
        ins = [orders[i] for i in node.inputs]
        orders[node.name] = _order(node, ins, canonical)
        sources[node.name] = _sources(node, orders[node.name], sources)
        if Trait.SUMS in type(node.layer).TRAITS and len(set(ins)) > 1:
            conflicts.update(*(sources[i] for i in node.inputs))
    for out in model.outputs:
        if orders[out] is not None:
            conflicts.update(sources[out])
    return orders, conflicts


def plan(model: Model) -> Plan:
    """The flatten plan: as many flattens as possible the idiomatic way, the others in the
    language's order (at most one pass per flatten: each pass adds at least one)."""
    canonical: frozenset[str] = frozenset()
    while True:
        orders, conflicts = _walk(model, canonical)
        if not conflicts - canonical:
            return Plan(orders, canonical)
        canonical |= conflicts
