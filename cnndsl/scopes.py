"""Where each layer sits in the model's structure, and the names that follow from it.

The checker expands blocks, repeats and branches into a flat DAG; this module keeps
what the expansion would otherwise lose: each node's *path* of scopes — block
instances and stages — and its label inside the innermost one. Code generators make
a class per block and an ``nn.Sequential`` per stage from it; summaries and diagrams
fold it.

Labels follow two styles, the two ways PyTorch code names submodules:

- **numbered** (a stage, a named ``shortcut``/``branch``, a block whose body is a plain
  chain): children are numbered like ``nn.Sequential``'s — each layer takes the next
  number, its fused activation the one after (``conv 64 3x3 relu`` is ``0`` and ``1``),
  a block instance one number;
- **named** (the model itself, a block with a residual, branches or ``name=`` inside):
  a layer's ``name=``, else a short name by kind counted in its scope (``conv1``,
  ``bn1``, ``fc1``).

Model-wide node names do not change unless the user asks for structure: inside a
*labelled* scope (a stage, or a block instance, shortcut or branch given ``name=``)
a node's name is its path joined by ``_`` (``layer1_0_conv1``); elsewhere it is the
``name=`` given, or ``conv_3`` as always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import Span
from .layers import Layer
from .syntax import Statement

#: short names in named scopes, as torchvision writes them; other kinds keep their keyword
SHORT = {"batchnorm": "bn", "dense": "fc", "layernorm": "ln", "dropout": "drop"}


@dataclass(frozen=True)
class Frame:
    """One scope a node sits in: a block instance (``block`` is the block's name) or a
    container (a stage, a named shortcut or branch: ``block`` is empty).

    ``args`` are a block instance's parameter values (plain numbers and words), which
    code generators turn into constructor arguments."""

    label: str
    block: str = ""
    numbered: bool = False
    args: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "block": self.block,
            "numbered": self.numbered,
            "args": {k: v for k, v in self.args},
        }

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> Frame:
        args = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in doc["args"].items())
        return Frame(doc["label"], doc["block"], doc["numbered"], args)


def fused_modules(layer: Layer) -> int:
    """How many numbers a layer takes in a numbered scope: one, two with a fused
    activation (PyTorch writes that activation as a module of its own), none for a
    layer that only reshapes or merges (``Layer.NUMBERED``)."""
    if not layer.NUMBERED:
        return 0
    act = getattr(layer, "activation", None)
    return 2 if isinstance(act, str) and act != "linear" else 1


@dataclass
class Scope:
    """The scope being filled while checking: its frames and how it labels children."""

    frames: tuple[Frame, ...] = ()
    numbered: bool = False
    labelled: bool = False  # model-wide names are paths in here
    reserved: frozenset[str] = frozenset()  # names its statements give themselves
    next_index: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    taken: dict[str, Span] = field(default_factory=dict)
    pending: str | None = None  # the label `repeat N name=P` gives this run's instance

    @property
    def root(self) -> bool:
        return not self.frames

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(f.label for f in self.frames)

    def auto(self, base: str) -> str:
        """``conv1``, ``conv2``...: the next of its kind here, never a reserved name."""
        n = self.counters.get(base, 0)
        while True:
            n += 1
            label = f"{base}{n}"
            if label not in self.reserved and label not in self.taken:
                self.counters[base] = n
                return label

    def label(self, explicit: str | None, base: str, numbers: int) -> str:
        """A child's label: ``explicit``, else its number or short name; a numbered
        scope counts ``numbers`` positions for it either way."""
        index = self.next_index
        if self.numbered:
            self.next_index += numbers
        if explicit is not None:
            return explicit
        return str(index) if self.numbered and numbers else self.auto(base)

    def child(
        self, label: str, block: str, numbered: bool, labelled: bool, args: Any = ()
    ) -> Scope:
        frame = Frame(label, block, numbered, tuple(args))
        return Scope(
            (*self.frames, frame),
            numbered,
            self.labelled or labelled,
        )


def numbered_body(body: tuple[Statement, ...]) -> bool:
    """A block is numbered (an ``nn.Sequential``) when its body is a plain chain: no
    residual or branches, no ``name=`` and no named stage at its own level."""
    return not any(_names_or_joins(st) for st in body)


def _names_or_joins(st: Statement) -> bool:
    """A statement that makes its block a named one (see numbered_body)."""
    if st.body is not None and st.keyword in ("residual", "concat", "add"):
        return True
    if any(o.key == "name" for o in st.options) or (st.keyword == "stage" and st.args):
        return True
    return st.keyword == "repeat" and st.body is not None and not numbered_body(st.body)


_TRANSPARENT = ("repeat", "residual", "concat", "add", "shortcut", "branch")


def reserved_names(body: tuple[Statement, ...]) -> frozenset[str]:
    """The names a scope's own statements give (so that short names avoid them)."""
    names: set[str] = set()
    for st in body:
        names.update(
            str(o.value.value) for o in st.options if o.key == "name" and o.value.kind == "name"
        )
        if st.keyword == "stage" and st.args and st.args[0].kind == "name":
            names.add(str(st.args[0].value))
        if st.body is not None and st.keyword in _TRANSPARENT:
            names |= reserved_names(st.body)
    return frozenset(names)
