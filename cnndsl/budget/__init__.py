"""The run-time budget: what a NumPy forward pass will allocate, estimated from the IR before
anything is allocated, so that ``pool max 100000 same`` is an error naming the layer instead
of a MemoryError (or minutes of swapping) in the middle of a run.

The estimate walks the nodes as the interpreter runs them (``backends/numpy``): every
output held until its last reader has run, plus what the running layer allocates besides
its output — the padded input, the im2col window matrix, a deconvolution's scatter, float64
temporaries — all float32, times the batch. It errs high, never low (a test holds it to
tracemalloc's measure within a small factor). Layers that loop over their window taps in
Python (pooling, transposed convolution, a one-channel convolution) also get a work limit:
taps x elements per tap, so that a 20000x20000 window cannot keep the tool busy for minutes.

What each kind allocates is in :mod:`.kinds`. Pure Python: nothing here imports NumPy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import CnnDslError, Diagnostic
from ..ir import Model, Node
from .kinds import F32, Buffers, buffers, elems, loop_work

__all__ = [
    "DEFAULT_CAP",
    "F32",
    "MAX_LOOP_WORK",
    "Estimate",
    "buffers",
    "check_loops",
    "check_run",
    "check_weights",
    "default_limit",
    "estimate",
    "forward_peak",
    "human",
    "loop_work",
    "parse_size",
    "weight_bytes",
]
GIB = 1 << 30
#: the default budget: 2 GiB, or half the physical memory where that is less
DEFAULT_CAP = 2 * GIB
#: what Python's and NumPy's small objects (index arrays, views, reshaped kernels) add
SMALL_OBJECTS = 1 << 20
#: element steps the Python tap loops may take (taps x (elements per tap + TAP_OVERHEAD)):
#: some tens of seconds; real pooling windows and kernels stay far below it
MAX_LOOP_WORK = 1 << 35
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*\Z", re.IGNORECASE)


def default_limit() -> int:
    """2 GiB, or half the machine's physical memory if that is less."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return DEFAULT_CAP
    return min(DEFAULT_CAP, physical // 2) if physical > 0 else DEFAULT_CAP


def parse_size(text: str) -> int:
    """``500M``, ``4G``, ``1.5GiB``, ``1048576``: binary units (4G is 4 GiB); ValueError else."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (write it like 500M, 4G or 1.5GiB)")
    value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if value <= 0:
        raise ValueError(f"the size must be positive, not {text!r}")
    return value


def human(n: int) -> str:
    """Bytes for people: ``37.25 GiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError  # pragma: no cover


# ---------------------------------------------------------------- the walk


@dataclass
class Estimate:
    """The peak of one run: at which node, and what was held then."""

    total: int = 0
    node: Node | None = None
    own: Buffers = field(default_factory=list)  # the peak node's buffers
    weights: int = 0
    heaviest: tuple[Node, int] | None = None  # the node with the most weight bytes


def weight_bytes(model: Model) -> tuple[int, tuple[Node, int] | None]:
    """All weights as float32, and the node holding the most of them."""
    total, heaviest = 0, None
    for n in model.nodes:
        b = n.params * F32
        total += b
        if b and (heaviest is None or b > heaviest[1]):
            heaviest = (n, b)
    return total, heaviest


def _pictures(model: Model) -> Buffers:
    """Drawing feature maps (cnndsl.viz), after the pass: float copies of a tile (three of
    a sample's bytes) and the picture (a strip 32 pixels tall per feature at worst: eight),
    or at least 64 tiles enlarged to 128 pixels (2 MiB)."""
    largest = max(elems(n.shape) for n in model.nodes) * F32
    return [("feature-map pictures", 11 * largest + (2 << 20))]


def _release(node: Node, readers: dict[str, int], kept: set[str], live: dict[str, int]) -> int:
    """The bytes freed once ``node`` has read its inputs: those of no later reader. A
    reader counts once however often it reads a tensor (``add c`` after ``c``: c + c)."""
    freed = 0
    for name in dict.fromkeys(node.inputs):
        readers[name] -= 1
        if readers[name] == 0 and name not in kept:
            freed += live.pop(name)
    return freed


def forward_peak(model: Model, batch: int, keep_all: bool = False) -> Estimate:
    """The largest allocation of a forward pass: live outputs + the running layer's buffers.

    ``keep_all``: every output is kept (``forward_all``), then drawn (feature maps).
    """
    readers = {n.name: len(model.consumers(n.name)) for n in model.nodes}
    kept = {n.name for n in model.nodes} if keep_all else set(model.outputs)
    live: dict[str, int] = {}
    held = 0
    best = Estimate()
    for node in model.nodes:
        own = buffers(node, batch)
        need = held + sum(b for _, b in own)
        if need > best.total or best.node is None:
            best = Estimate(need, node, own)
        held -= _release(node, readers, kept, live)
        live[node.name] = batch * elems(node.shape) * F32
        held += live[node.name]
    if keep_all:
        drawing = _pictures(model)
        if held + drawing[0][1] > best.total:
            best = Estimate(held + drawing[0][1], model.nodes[-1], drawing)
    return best


def estimate(model: Model, batch: int, keep_all: bool = False, copies: int = 1) -> Estimate:
    """The whole run: ``copies`` of the weights (verify's frameworks hold their own), the
    largest weight once more in float64 while it is made or read, and the forward peak."""
    est = forward_peak(model, batch, keep_all)
    total, heaviest = weight_bytes(model)
    est.weights = total * copies + (2 * heaviest[1] if heaviest else 0)
    est.heaviest = heaviest
    est.total += est.weights + SMALL_OBJECTS
    return est


# ---------------------------------------------------------------- refusing


def _error(
    model: Model, node: Node | None, message: str, hint: str, source: str | None
) -> CnnDslError:
    diag = Diagnostic(message, node.span if node else None, hint)
    return CnnDslError([diag], model.filename, source)


def _more(total: int) -> str:
    return f"--max-memory {max(1, -(-total // GIB))}G"


def _over_memory(
    model: Model, est: Estimate, batch: int, limit: int, what: str, source: str | None
) -> CnnDslError:
    """Blame the layer that weighs most at the peak: its buffers, or its weights."""
    budget = f"{what} needs about {human(est.total)}, over the memory budget of {human(limit)}"
    own = sum(b for _, b in est.own)
    heavy = est.heaviest
    if heavy is not None and heavy[1] >= own:
        node, wb = heavy
        message = (
            f"the {node.keyword} layer '{node.name}' has {node.params:,} weights "
            f"({human(wb)} as float32): {budget}"
        )
        hint = f"make the layer smaller, or raise the budget: {_more(est.total)}"
        return _error(model, node, message, hint, source)
    assert est.node is not None
    node = est.node
    parts = ", ".join(f"{name} {human(b)}" for name, b in est.own if b)
    message = (
        f"the {node.keyword} layer '{node.name}' needs {human(own)} for a batch of {batch:,} "
        f"({parts}): {budget}"
    )
    hint = f"use a smaller batch or layer, or raise the budget: {_more(est.total)}"
    return _error(model, node, message, hint, source)


def check_loops(model: Model, batch: int, source: str | None = None) -> None:
    """Refuse a layer whose Python tap loop would run for minutes."""
    for node in model.nodes:
        taps, work = loop_work(node, batch)
        if work > MAX_LOOP_WORK:
            message = (
                f"the {node.keyword} layer '{node.name}' loops over {taps:,} window taps "
                f"({work:,} element steps), over the work limit of {MAX_LOOP_WORK:,}"
            )
            hint = "windows this large are almost surely a mistake; globalpool pools everything"
            raise _error(model, node, message, hint, source)


def check_run(
    model: Model,
    batch: int,
    limit: int,
    *,
    keep_all: bool = False,
    copies: int = 1,
    extra: int = 0,
    what: str = "the run",
    source: str | None = None,
) -> Estimate:
    """Raise a CnnDslError naming the layer when a forward pass of ``batch`` samples would
    need more than ``limit`` bytes or loop too long (``extra``: the input as read, before
    its conversion to float32; ``source``: the model's text, to quote the layer's line)."""
    est = estimate(model, batch, keep_all, copies)
    est.total += extra
    if est.total > limit:
        raise _over_memory(model, est, batch, limit, what, source)
    check_loops(model, batch, source)
    return est


def check_weights(
    model: Model, limit: int, what: str = "writing the weights", source: str | None = None
) -> int:
    """The weights alone (init-weights, export, import), refused above ``limit``."""
    total, heaviest = weight_bytes(model)
    est = Estimate(total + (2 * heaviest[1] if heaviest else 0), heaviest=heaviest)
    est.weights = est.total
    if est.total > limit:
        raise _over_memory(model, est, 0, limit, what, source)
    return est.total
