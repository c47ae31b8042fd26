"""Option value types: how a literal in the source becomes a typed layer field.

Each type says which literal forms it accepts *positionally* (so that
``conv 64 3x3 relu same`` binds 64 to filters, 3x3 to kernel and so on by form)
and converts a literal, raising :class:`OptionError` with a readable message.
"""

from __future__ import annotations

import difflib
import functools
import keyword
import math
from dataclasses import dataclass

from .limits import MAX_BRACKETS
from .syntax import Value


class OptionError(Exception):
    """A literal that does not fit its option; the checker adds the span."""

    def __init__(self, message: str, hint: str | None = None, value: Value | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.value = value


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    return _closest(word, tuple(choices))


@functools.lru_cache(maxsize=256)
def _closest(word: str, choices: tuple[str, ...]) -> str | None:
    """Cached: a misspelling inside a repeated body is looked up once, not per repeat."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


@dataclass(frozen=True)
class Tensor:
    """A fixed weight literal from the source, row-major, as floats."""

    shape: tuple[int, ...]
    values: tuple[float, ...]

    def to_nested(self) -> object:
        def build(dims: tuple[int, ...], flat: tuple[float, ...]) -> object:
            if not dims:
                return flat[0]
            step = len(flat) // dims[0] if dims[0] else 0
            return [build(dims[1:], flat[i * step : (i + 1) * step]) for i in range(dims[0])]

        return build(self.shape, self.values)

    @staticmethod
    def from_nested(shape: tuple[int, ...], nested: object) -> Tensor:
        """The inverse of :meth:`to_nested` (for models read back from JSON)."""
        flat: list[float] = []

        def walk(v: object) -> None:
            if isinstance(v, list):
                for x in v:
                    walk(x)
            elif isinstance(v, (int, float)) or v in ("NaN", "Infinity", "-Infinity"):
                flat.append(float(v))
            else:
                raise ValueError(f"not a number in a weight literal: {v!r}")

        walk(nested)
        return Tensor(shape, tuple(flat))


class OptType:
    """Base: ``what`` names the type in messages; ``forms`` are positional literal kinds."""

    what = "a value"
    forms: frozenset[str] = frozenset()

    def accepts(self, v: Value) -> bool:
        return v.kind in self.forms

    def convert(self, v: Value) -> object:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        return self.what

    def fail(self, v: Value, hint: str | None = None) -> OptionError:
        return OptionError(f"expected {self.what}, found {v.text()}", hint, v)


@dataclass(frozen=True)
class IntT(OptType):
    min: int = 0
    what_: str = ""

    @property
    def what(self) -> str:  # type: ignore[override]
        if self.what_:
            return self.what_
        return "a positive integer" if self.min >= 1 else "an integer >= 0"

    forms = frozenset({"int"})

    def convert(self, v: Value) -> int:
        if v.kind != "int":
            raise self.fail(v)
        if v.value < self.min:
            raise OptionError(f"must be {self.what}, found {v.value}", None, v)
        return int(v.value)


@dataclass(frozen=True)
class FloatT(OptType):
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    forms = frozenset({"int", "float"})  # `dropout 0` and `elu 1` read as numbers too

    @property
    def what(self) -> str:  # type: ignore[override]
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        if math.isinf(self.lo) and math.isinf(self.hi):
            return "a number"
        if math.isinf(self.hi):
            return f"a number {'>' if self.lo_open else '>='} {self.lo:g}"
        return f"a number in {left}{self.lo:g}, {self.hi:g}{right}"

    def convert(self, v: Value) -> float:
        if v.kind not in ("int", "float"):
            raise self.fail(v)
        x = float(v.value)
        ok = (x > self.lo if self.lo_open else x >= self.lo) and (
            x < self.hi if self.hi_open else x <= self.hi
        )
        if not ok or not math.isfinite(x):
            raise OptionError(f"must be {self.what}, found {v.text()}", None, v)
        return x


class SizeT(OptType):
    """``3`` or ``3x3``: one positive int per spatial axis, or one for all."""

    what = "a size like 3 or 3x3"
    forms = frozenset({"int", "dims"})

    def convert(self, v: Value) -> tuple[int, ...]:
        if v.kind == "int":
            dims: tuple[int, ...] = (v.value,)
        elif v.kind == "dims":
            dims = v.value
        else:
            raise self.fail(v)
        if any(d < 1 for d in dims):
            raise OptionError(f"must be positive, found {v.text()}", None, v)
        return dims


class ShapeT(SizeT):
    what = "a shape like 28x28x1 (height x width x channels) or 100x300 (length x channels)"


@dataclass(frozen=True)
class ChoiceT(OptType):
    choices: tuple[str, ...] = ()
    noun: str = "value"

    forms = frozenset({"name"})

    @property
    def what(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def accepts(self, v: Value) -> bool:
        return v.kind == "name" and v.value in self.choices

    def convert(self, v: Value) -> str:
        if v.kind != "name" or v.value not in self.choices:
            hint = did_you_mean(str(v.value), self.choices) if v.kind == "name" else None
            raise OptionError(f"unknown {self.noun} '{v.text()}'; expected {self.what}", hint, v)
        return str(v.value)


class BoolT(OptType):
    what = "true or false"

    def convert(self, v: Value) -> bool:
        if v.kind == "name" and v.value in ("true", "false"):
            return bool(v.value == "true")
        raise self.fail(v)


def _pad_tuple(v: Value, noun: str) -> tuple[int, ...]:
    """``(before, after)`` or ``(top, bottom, left, right)``: integers only."""
    bad = [x for x in v.value if x.kind != "int"]
    if bad:
        raise OptionError(f"expected an integer, found {bad[0].text()}", None, bad[0])
    out = tuple(int(x.value) for x in v.value)
    if len(out) not in (2, 4):
        raise OptionError(
            f"{noun} {v.text()} has {len(out)} numbers; write (before, after) "
            "for a sequence or (top, bottom, left, right) for an image",
            None,
            v,
        )
    return out


class PadT(OptType):
    """Explicit zero padding: ``1``, ``1x2`` (height x width), ``(before, after)`` or
    ``(top, bottom, left, right)``. Kept as written; layers resolve it by rank."""

    noun = "padding"
    what = "padding like 1, 1x2, (before, after) or (top, bottom, left, right)"
    forms = frozenset({"int", "dims", "tuple"})

    def convert(self, v: Value) -> tuple[int, ...]:
        if v.kind == "int":
            out: tuple[int, ...] = (v.value,)
        elif v.kind == "dims":
            h, *rest = v.value
            if len(rest) != 1:
                raise OptionError(f"{self.noun} {v.text()} has too many sizes", None, v)
            out = (h, h, rest[0], rest[0])  # 1x2 means 1 top and bottom, 2 left and right
        elif v.kind == "tuple":
            out = _pad_tuple(v, self.noun)
        else:
            raise self.fail(v)
        if any(p < 0 for p in out):
            raise OptionError(f"must not be negative, found {v.text()}", None, v)
        return out


class CropT(PadT):
    """Cropping, written and resolved like :class:`PadT`'s padding."""

    noun = "cropping"
    what = "cropping like 1, 1x2, (before, after) or (top, bottom, left, right)"


class NameT(OptType):
    what = "a name made of letters, digits and '_'"

    def convert(self, v: Value) -> str:
        if v.kind != "name":
            raise self.fail(v)
        name = str(v.value)
        if keyword.iskeyword(name) or name.startswith("__") or name[0] == "_":
            raise OptionError(
                f"'{name}' cannot be a layer name",
                "names must start with a letter and must not be Python keywords",
                v,
            )
        return name


class TensorT(OptType):
    """A nested list of numbers: ``[[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]``."""

    what = "a list of numbers like [[0, 1], [1, 0]]"

    def convert(self, v: Value) -> Tensor:
        if v.kind != "list":
            raise self.fail(v)
        flat: list[float] = []
        shape = self._walk(v, 0, [], flat)
        return Tensor(tuple(shape), tuple(flat))

    # complex: a recursive shape check; each branch is one way a literal can be ragged
    def _walk(self, v: Value, depth: int, shape: list[int], flat: list[float]) -> list[int]:
        if v.kind in ("int", "float"):
            if depth != len(shape):
                raise OptionError("the weight list is ragged: rows differ in depth", None, v)
            flat.append(float(v.value))
            return shape
        if v.kind != "list":
            raise OptionError(f"expected a number or a list, found {v.text()}", None, v)
        items: tuple[Value, ...] = v.value
        if not items:
            raise OptionError("empty list in weights", None, v)
        if depth >= MAX_BRACKETS:  # the parser's limit; a block's parameter can add to it
            raise OptionError(f"the weight list nests more than {MAX_BRACKETS} deep", None, v)
        if depth == len(shape):
            if flat:  # the depth is fixed once the first number is seen
                raise OptionError("the weight list is ragged: rows differ in depth", None, v)
            if any(x.kind != "list" for x in items) and any(x.kind == "list" for x in items):
                raise OptionError("the weight list mixes numbers and lists", None, v)
            shape.append(len(items))
        elif depth > len(shape) or shape[depth] != len(items):
            raise OptionError(
                f"the weight list is ragged: this row has {len(items)} entries, "
                f"the first has {shape[depth] if depth < len(shape) else 'none'}",
                None,
                v,
            )
        for x in items:
            self._walk(x, depth + 1, shape, flat)
        return shape
