"""Where a canonical weight lives in a framework, as data a lowering returns.

A backend's lowering of a kind creates the framework's layers or modules, so it is the
one place that knows their names: it returns, beside the code, a :class:`Param` per
canonical weight (the state_dict key, or the Keras layer and its position in
``get_weights()``) with the :class:`Layout` change between the two. ``cnndsl.convert``
applies them, generically. No NumPy here: ``compile`` does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """Canonical -> framework: transpose by ``perm`` (if any), then reshape to ``shape``
    (if any). The inverse is derived, so a mapping cannot be right one way only."""

    perm: tuple[int, ...] | None = None
    shape: tuple[int, ...] | None = None


SAME = Layout()


def channels_first_kernel(rank: int) -> Layout:
    """(k..., a, b) -> (b, a, k...): conv (in, out -> out, in), transposed conv, dense."""
    return Layout((rank + 1, rank, *range(rank)))


@dataclass(frozen=True)
class Param:
    """Canonical weight ``weight`` of a node is the framework array at ``key`` (a PyTorch
    state_dict key, or a Keras layer name) and ``index`` (in ``layer.get_weights()``)."""

    weight: str
    key: str
    index: int = 0
    layout: Layout = SAME
