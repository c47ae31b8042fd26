"""A backend's table: one entry per layer kind, registered beside its implementation.

    KERNELS: Table[[list[np.ndarray], Arrays], np.ndarray] = Table("numpy")

    @KERNELS.register(Dense)
    def _dense(layer: Dense, xs: list[np.ndarray], w: Arrays) -> np.ndarray: ...

The decorator is typed over the layer class, so an entry receives its own kind (no
``isinstance`` prologue, no ``type: ignore``). ``tests/test_registry_docs.py`` fails
when a kind of the registry has no entry in some table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from ..layers import Layer

P = ParamSpec("P")
R = TypeVar("R")
L = TypeVar("L", bound=Layer)

#: every table ever made, by backend name: what the completeness test walks
TABLES: dict[str, Table[Any, Any]] = {}


class Table(Generic[P, R]):
    """Layer class -> the function that lowers (or runs) that kind in one backend."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._entries: dict[type[Layer], Callable[..., R]] = {}
        TABLES[backend] = self

    def register(
        self, cls: type[L]
    ) -> Callable[[Callable[Concatenate[L, P], R]], Callable[Concatenate[L, P], R]]:
        def deco(fn: Callable[Concatenate[L, P], R]) -> Callable[Concatenate[L, P], R]:
            assert cls not in self._entries, f"{self.backend}: {cls.__name__} twice"
            self._entries[cls] = fn
            return fn

        return deco

    def __call__(self, layer: Layer, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._entries[type(layer)](layer, *args, **kwargs)

    def __contains__(self, cls: object) -> bool:
        return cls in self._entries

    def lookup(self, cls: type[Layer]) -> Callable[..., R]:
        """The raw entry (a hot loop may look it up once per node)."""
        return self._entries[cls]
