"""What every layer kind is made of: options, weights that say what they are, traits.

A kind is a frozen dataclass whose fields are its options (type, default, doc and
whether it may be written positionally live in the field's metadata). The class
carries the kind's shape rule (:meth:`Layer.bind` + :meth:`Layer.output_shape`), its
weights (:meth:`Layer.weight_specs`: shape, initializer, axis meaning, probe range) and
its traits, which generic machinery (the flatten order, weight conversion) queries
instead of testing for classes. Nothing here knows a framework.

Shapes exclude the batch and are channels-last: ``(features,)``, ``(length,
channels)`` or ``(height, width, channels)``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ..options import OptType, Tensor

Shape = tuple[int, ...]


class LayerError(Exception):
    """A problem with one layer; ``field`` names the option whose source span to show."""

    def __init__(self, message: str, field: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint


@dataclass(frozen=True)
class OptSpec:
    name: str
    type: OptType
    doc: str
    positional: bool
    required: bool
    default: Any


class Trait(enum.Enum):
    """What generic machinery may assume about a kind, instead of testing its class."""

    #: each output element depends on the element at the same index only (activations,
    #: dropout; softmax too in the sense that matters here: permuting the features
    #: permutes its output alike)
    ELEMENTWISE = "elementwise"
    #: normalises or scales each channel (the last axis) with weights indexed by channel:
    #: permuting the channels permutes the output and the weights' ``c`` axes alike
    PER_CHANNEL = "per_channel"
    #: sums tensors of one shape element by element (add)
    SUMS = "sums"
    #: joins tensors along the channel axis (concat)
    JOINS_CHANNELS = "joins_channels"
    #: turns a tensor into a feature vector, in the language's (H, W, C) order
    FLATTENS = "flattens"


#: traits under which the order of a feature vector carries through unchanged
KEEPS_ORDER = frozenset({Trait.ELEMENTWISE, Trait.PER_CHANNEL, Trait.SUMS})


@dataclass(frozen=True)
class Init:
    """How ``init_weights`` fills a weight: ``glorot`` (uniform, fans from the axes) or
    ``const`` (every element ``value``). A weight with a source literal uses the literal."""

    kind: str
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("glorot", "const"):
            raise ValueError(f"unknown initializer {self.kind!r}")


GLOROT = Init("glorot")
ZEROS = Init("const", 0.0)
ONES = Init("const", 1.0)

#: The letters of :attr:`Weight.axes`.
AXIS_LETTERS = {
    "k": "a kernel tap along a spatial axis",
    "i": "an input channel (per group) or input feature",
    "o": "an output channel or output feature",
    "c": "a channel of a per-channel vector (input and output alike)",
}


@dataclass(frozen=True)
class Weight:
    """One weight array of a layer, in the canonical channels-last layout.

    ``axes`` gives each axis a letter (:data:`AXIS_LETTERS`): a conv kernel is ``kkio``,
    a dense kernel ``io``, a bias ``o``, a batchnorm vector ``c``. The axes indexed by
    the layer's input features (``i`` and ``c``) are the ones the flatten-order
    permutation applies to; Glorot's fans come from ``k``, ``i`` and ``o``.
    ``probe`` is the range (low, high) that probe weights draw from uniformly (``None``:
    Glorot-uniform, for kernels), chosen so that every array is non-trivial and a model's
    values stay in float32's comfortable range.
    """

    name: str
    shape: Shape
    axes: str
    init: Init = GLOROT
    probe: tuple[float, float] | None = None
    trainable: bool = True
    literal: Tensor | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.axes) != len(self.shape) or set(self.axes) - set(AXIS_LETTERS):
            raise ValueError(f"weight {self.name}: axes {self.axes!r} for shape {self.shape}")

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def feature_axes(self) -> tuple[int, ...]:
        """Axes indexed by the layer's input features."""
        return tuple(i for i, a in enumerate(self.axes) if a in "ic")


def kernel(name: str, shape: Shape, axes: str, literal: Tensor | None = None) -> Weight:
    """A kernel: Glorot-uniform unless the source fixes it."""
    return Weight(name, shape, axes, GLOROT, None, True, literal)


def bias(units: int, name: str = "bias") -> Weight:
    return Weight(name, (units,), "o", ZEROS, (-0.5, 0.5))


def opt(
    type: OptType,
    default: Any = dataclasses.MISSING,
    doc: str = "",
    positional: bool = False,
) -> Any:
    """Declare an option: a dataclass field whose metadata the checker reads."""
    meta = {"type": type, "doc": doc, "positional": positional}
    return field(default=default, metadata=meta)


L_ = TypeVar("L_", bound="Layer")


def evolve(layer: L_, **changes: Any) -> L_:
    """``dataclasses.replace`` without re-running ``__init__``: the checker's hot path
    (the fields were validated when the layer was first built)."""
    new = object.__new__(type(layer))
    new.__dict__.update(layer.__dict__)
    new.__dict__.update(changes)
    return new


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


@dataclass(frozen=True, eq=False, repr=False)
class Layer:
    """Base of every kind. Subclasses are frozen dataclasses registered by keyword.

    Each kind is declared ``@dataclass(frozen=True, eq=False, repr=False)``: equality,
    hashing and ``repr`` are written once here, from the fields, exactly as dataclasses
    would generate them, because dataclasses compiles every generated method apiece
    (~0.2 ms each), which made building the kinds a fifth of a cold ``cnndsl check``.
    """

    KIND: ClassVar[str] = ""
    ARITY: ClassVar[int] = 1
    EXAMPLE: ClassVar[str] = ""
    SUMMARY: ClassVar[str] = ""
    TRAITS: ClassVar[frozenset[Trait]] = frozenset()
    #: takes a number in a numbered scope (cnndsl.scopes), as a module of nn.Sequential
    #: would; reshaping and merging layers do not
    NUMBERED: ClassVar[bool] = True

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return _values(self) == _values(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_values(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in _field_names(type(self))[1])
        return f"{type(self).__qualname__}({shown})"

    @classmethod
    def options(cls) -> dict[str, OptSpec]:
        return _options(cls)

    def check_options(self) -> None:
        """Rules between options that need no shape (``pad`` with ``padding``...)."""

    def bind(self, inputs: tuple[Shape, ...]) -> Layer:
        """Resolve shape-dependent options (a kernel ``3`` on an image is ``3x3``)."""
        return self

    def output_shape(self, inputs: tuple[Shape, ...]) -> Shape:
        return inputs[0]

    def weight_specs(self, inputs: tuple[Shape, ...]) -> tuple[Weight, ...]:
        return ()

    def macs(self, inputs: tuple[Shape, ...], output: Shape) -> int:
        """Multiply-accumulates of one forward pass of one sample (conv and dense only)."""
        return 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.KIND}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor):
                v = {"shape": list(v.shape), "values": v.to_nested()}
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> Layer:
        """The layer :meth:`to_dict` described (lists back to tuples, tensors rebuilt)."""
        cls = REGISTRY[doc["kind"]].cls
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            v = doc[f.name]
            if isinstance(v, dict):
                v = Tensor.from_nested(tuple(v["shape"]), v["values"])
            elif isinstance(v, list):
                v = tuple(v)
            values[f.name] = v
        return evolve(object.__new__(cls), **values)


_NAMES_CACHE: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _field_names(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of a kind's fields that equality compares, and that repr shows."""
    got = _NAMES_CACHE.get(cls)
    if got is None:
        fs = dataclasses.fields(cls)
        got = tuple(f.name for f in fs if f.compare), tuple(f.name for f in fs if f.repr)
        _NAMES_CACHE[cls] = got
    return got


def _values(layer: Layer) -> tuple[Any, ...]:
    return tuple(getattr(layer, n) for n in _field_names(type(layer))[0])


_OPTIONS_CACHE: dict[type, dict[str, OptSpec]] = {}


def _options(cls: type) -> dict[str, OptSpec]:
    got = _OPTIONS_CACHE.get(cls)
    if got is None:
        got = {}
        for f in dataclasses.fields(cls):
            if "type" not in f.metadata:
                continue
            required = f.default is dataclasses.MISSING
            got[f.name] = OptSpec(
                f.name,
                f.metadata["type"],
                f.metadata["doc"],
                f.metadata["positional"],
                required,
                None if required else f.default,
            )
        _OPTIONS_CACHE[cls] = got
    return got


@dataclass(frozen=True)
class Entry:
    """A keyword of the language: the kind it builds and the options it presets."""

    keyword: str
    cls: type[Layer]
    preset: tuple[tuple[str, Any], ...] = ()

    @property
    def positional(self) -> tuple[OptSpec, ...]:
        """Options this keyword takes by form, in declaration order (presets excluded)."""
        preset = dict(self.preset)
        return tuple(
            s for s in self.cls.options().values() if s.positional and s.name not in preset
        )


REGISTRY: dict[str, Entry] = {}
L = TypeVar("L", bound=type[Layer])


def register(*keywords: str, **preset: Any) -> Callable[[L], L]:
    """Register a kind under its keywords (the first is its KIND), beside its definition."""

    def deco(cls: L) -> L:
        for kw in keywords:
            assert kw not in REGISTRY, kw
            REGISTRY[kw] = Entry(kw, cls, tuple(preset.items()))
        return cls

    return deco


#: the order families are documented in (docs/language.md), first to last
FAMILIES = ("core", "conv", "pool", "norm", "resize", "merge", "activation")


def kinds() -> list[type[Layer]]:
    """Every layer class, once each: by family, then in registration order."""
    seen: dict[type[Layer], None] = {}
    for e in REGISTRY.values():
        seen.setdefault(e.cls)
    family = {f: i for i, f in enumerate(FAMILIES)}
    order = {cls: i for i, cls in enumerate(seen)}
    return sorted(seen, key=lambda c: (family.get(c.__module__.rsplit(".", 1)[-1], 99), order[c]))
