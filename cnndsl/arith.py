"""The arithmetic a lesson is made of: steps that print and evaluate, windows that slide.

See :mod:`cnndsl.lessons` for the entries of each layer kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from .layers import Shape

if TYPE_CHECKING:  # fractions (with decimal) costs a cold check 4 ms; explain makes them
    from fractions import Fraction

MINUS = "\N{MINUS SIGN}"
DOT = "\N{MIDDLE DOT}"

#: per spatial axis (receptive field, jump) in input pixels; None: the whole input. A
#: float is an approximation, where an exact fraction grew too long (explain.EXACT)
Field: TypeAlias = "tuple[tuple[Fraction | float, Fraction | float], ...] | None"


@dataclass(frozen=True)
class Step:
    """One line of arithmetic: ``expr`` evaluates to ``value``."""

    label: str
    expr: str
    value: int

    def __str__(self) -> str:
        return f"{self.expr} = {self.value:,}"


@dataclass(frozen=True)
class Axis:
    """A window sliding along one spatial axis: size n, kernel k, stride s, dilation d,
    padding before and after."""

    name: str
    n: int
    k: int
    s: int
    d: int = 1
    before: int = 0
    after: int = 0

    @property
    def span(self) -> int:
        """The input positions one window covers: d·(k − 1) + 1."""
        return self.d * (self.k - 1) + 1

    @property
    def out(self) -> int:
        return (self.n + self.before + self.after - self.span) // self.s + 1

    @property
    def dropped(self) -> int:
        """Input rows (columns) at the end that no window reads."""
        rest = (self.n + self.before + self.after - self.span) % self.s
        return max(0, rest - self.after)

    def step(self) -> Step:
        window = f"{self.k}" if self.d == 1 else f"{self.d}{DOT}({self.k} {MINUS} 1) + 1"
        if self.d != 1:
            window = f"({window})"
        expr = f"({self.n} + {self.before} + {self.after} {MINUS} {window}) // {self.s} + 1"
        return Step(self.name, expr, self.out)


@dataclass(frozen=True)
class Lesson:
    """What one node's kind does, in numbers."""

    out: Shape
    shape: tuple[Step, ...] = ()
    params: Step | None = None
    macs: Step | None = None
    window: tuple[Axis, ...] = ()
    activation: str | None = None
    grow: Callable[[Field], Field] = field(default=lambda f: f)
    note: str = ""


def product(factors: Sequence[int]) -> str:
    return DOT.join(str(f) for f in factors)


def act(name: str | None) -> str | None:
    return None if name in (None, "linear") else name
