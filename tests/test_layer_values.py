"""Layers compare, hash and print exactly as the dataclasses they are would generate.

Layer kinds do not let dataclasses generate ``__eq__``, ``__hash__`` and ``__repr__``
(compiling them cost a fifth of a cold ``cnndsl check``); ``Layer`` writes them once.
The oracle is the standard library: a twin of each layer made by
``dataclasses.make_dataclass(..., frozen=True)`` from the same fields and values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import cnndsl
from cnndsl.layers import Layer, kinds
from cnndsl.layers.base import evolve
from conftest import ROOT

#: the kinds that no example uses
REST = "input 32x32x8\nzeropad 1\ncrop 1\nupsample 2\nseparable 16 3x3 relu same\nprelu\nlayernorm"


def _layers() -> list[Layer]:
    """One layer per distinct value over every example: every kind, many options."""
    seen: dict[str, Layer] = {}
    models = [cnndsl.load(p) for p in sorted((ROOT / "examples").glob("*.cnn"))]
    for model in [*models, cnndsl.parse(REST)]:
        for node in model.nodes:
            seen.setdefault(repr(node.layer), node.layer)
    return list(seen.values())


LAYERS = _layers()


def _twin(layer: Layer) -> Any:
    """The same fields and values in a class that dataclasses built in full."""
    fields = [
        (f.name, f.type, dataclasses.field(compare=f.compare, repr=f.repr, hash=f.hash))
        for f in dataclasses.fields(layer)
    ]
    cls = dataclasses.make_dataclass(type(layer).__qualname__, fields, frozen=True)
    return cls(**{f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)})


def test_every_kind_is_tried() -> None:
    covered = {type(layer) for layer in LAYERS}
    assert not set(kinds()) - covered, sorted(c.KIND for c in set(kinds()) - covered)


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: repr(layer)[:60])
def test_repr_hash_and_equality_match_dataclasses(layer: Layer) -> None:
    twin = _twin(layer)
    assert repr(layer) == repr(twin)
    assert hash(layer) == hash(twin)
    same = evolve(layer)
    assert same is not layer and same == layer and hash(same) == hash(layer)
    assert layer != twin  # another class: not equal, as between two dataclasses
    for f in dataclasses.fields(layer):
        other = evolve(layer, **{f.name: ("changed", getattr(layer, f.name))})
        assert other != layer
        assert (other == layer) is False
        assert _twin(other) != twin  # the oracle agrees that they differ


def test_no_kind_generates_its_own() -> None:
    """A kind declared with plain ``@dataclass(frozen=True)`` would compile its own
    methods again at every start; the values would still be right, the time not."""
    for cls in kinds():
        for name in ("__eq__", "__hash__", "__repr__"):
            assert getattr(cls, name) is getattr(Layer, name), (cls.KIND, name)


def test_layers_stay_frozen() -> None:
    layer = LAYERS[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.name = "x"  # type: ignore[attr-defined]
