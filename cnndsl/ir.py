"""The IR: a checked model as a small DAG of nodes, nothing framework-specific.

Every node names its inputs, so linear models today and branching ones later use
the same structure. Shapes, weights and MAC counts are computed once, by the
checker, and stored here; backends and tools only read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import Span
from .layers import Layer, Shape, Weight, fmt_shape

#: Version of the JSON documents written by ``to_dict`` / ``--json`` (docs/json.md).
SCHEMA = "cnndsl.model/1"
BYTES_PER_PARAM = 4  # float32


@dataclass(frozen=True)
class Node:
    """One layer application: ``layer`` is bound (every option resolved for its input)."""

    name: str
    layer: Layer
    inputs: tuple[str, ...]
    shape: Shape
    weights: tuple[Weight, ...]
    macs: int
    span: Span
    keyword: str

    @property
    def kind(self) -> str:
        return self.layer.KIND

    @property
    def trainable_params(self) -> int:
        return sum(w.size for w in self.weights if w.trainable)

    @property
    def non_trainable_params(self) -> int:
        return sum(w.size for w in self.weights if not w.trainable)

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "keyword": self.keyword,
            "inputs": list(self.inputs),
            "output_shape": list(self.shape),
            "params": {
                "total": self.params,
                "trainable": self.trainable_params,
                "non_trainable": self.non_trainable_params,
            },
            "macs": self.macs,
            "weights": [
                {"name": w.name, "shape": list(w.shape), "trainable": w.trainable}
                for w in self.weights
            ],
            "layer": self.layer.to_dict(),
            "span": self.span.to_dict(),
        }


@dataclass(frozen=True)
class Model:
    """A checked model. Build one with :func:`cnndsl.parse` or :func:`cnndsl.load`."""

    name: str
    nodes: tuple[Node, ...]
    filename: str = "<string>"

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def inputs(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if not n.inputs)

    @property
    def outputs(self) -> tuple[Node, ...]:
        """Nodes nobody consumes: the model's results."""
        used = {i for n in self.nodes for i in n.inputs}
        return tuple(n for n in self.nodes if n.name not in used)

    @property
    def input_shape(self) -> Shape:
        return self.inputs[0].shape

    @property
    def output_shape(self) -> Shape:
        return self.outputs[-1].shape

    @property
    def trainable_params(self) -> int:
        return sum(n.trainable_params for n in self.nodes)

    @property
    def non_trainable_params(self) -> int:
        return sum(n.non_trainable_params for n in self.nodes)

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description following the ``cnndsl.model/1`` schema."""
        return {
            "schema": SCHEMA,
            "name": self.name,
            "file": self.filename,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "totals": {
                "params": self.total_params,
                "trainable": self.trainable_params,
                "non_trainable": self.non_trainable_params,
                "param_bytes": self.total_params * BYTES_PER_PARAM,
                "macs": self.total_macs,
            },
            "nodes": [n.to_dict() for n in self.nodes],
        }

    def summary(self) -> str:
        """A table like Keras' ``summary()``: layer, output shape, params, MACs."""
        header: tuple[str, ...] = (
            "Layer",
            "Kind",
            "Output shape",
            "Params",
            "MACs",
            "Line",
            "Inputs",
        )
        rows: list[tuple[str, ...]] = []
        for i, n in enumerate(self.nodes):
            # show where a layer reads from only where it is not simply the row above
            chained = n.inputs == ((self.nodes[i - 1].name,) if i else ())
            rows.append(
                (
                    n.name,
                    n.keyword,
                    fmt_shape(n.shape),
                    f"{n.params:,}",
                    f"{n.macs:,}",
                    str(n.span.line),
                    "" if chained else " + ".join(n.inputs),
                )
            )
        if all(not r[-1] for r in rows):  # a chain: no Inputs column at all
            header = header[:-1]
            rows = [r[:-1] for r in rows]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        right = {3, 4, 5}

        def line(cells: tuple[str, ...]) -> str:
            parts = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            ]
            return "  ".join(parts).rstrip()

        rule = "-" * len(line(header))
        total_bytes = self.total_params * BYTES_PER_PARAM
        out = [
            f'Model "{self.name}" ({self.filename})',
            rule,
            line(header),
            rule,
            *(line(r) for r in rows),
            rule,
            f"Total params:         {self.total_params:,} ({_human_bytes(total_bytes)} as float32)",
            f"Trainable params:     {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"MACs per sample:      {self.total_macs:,} ({_human_count(self.total_macs)})",
            f"Input: {fmt_shape(self.input_shape)}   Output: {fmt_shape(self.output_shape)}"
            "   (batch implied, channels last)",
        ]
        return "\n".join(out)


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.2f} {unit}" if unit != "B" else f"{n} B"
        size /= 1024
    raise AssertionError  # pragma: no cover


def _human_count(n: int) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return str(n)
