"""The IR: a checked model as a small DAG of nodes, nothing framework-specific.

Every node names its inputs and knows their shapes; the model indexes its nodes by
name and knows each node's consumers, built once, so that every lookup is O(1) and
tools scale linearly in the number of layers. Shapes, weights and MAC counts are
computed once, by the checker, and stored here; backends and tools only read them.
``Model.from_dict(model.to_dict())`` gives back an equal model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import Span
from .layers import Layer, Shape, Weight
from .scopes import Frame

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
    input_shapes: tuple[Shape, ...] = ()
    #: the block instances and stages it sits in, outermost first (cnndsl.scopes)
    scope: tuple[Frame, ...] = ()
    #: its label in the innermost scope (``conv1``, ``0``); the name itself at the top
    local: str = ""

    @staticmethod
    def build(
        name: str,
        layer: Layer,
        inputs: tuple[str, ...],
        input_shapes: tuple[Shape, ...],
        span: Span,
        keyword: str,
        bind: bool = True,
    ) -> Node:
        """Bind ``layer`` to its inputs' shapes (unless it is bound already) and compute its
        shape, weights and MACs: the one place that does. Raises
        :class:`~cnndsl.layers.LayerError`."""
        bound = layer.bind(input_shapes) if bind else layer
        shape = bound.output_shape(input_shapes)
        weights = bound.weight_specs(input_shapes)
        macs = bound.macs(input_shapes, shape)
        return Node(name, bound, inputs, shape, weights, macs, span, keyword, input_shapes)

    @property
    def kind(self) -> str:
        return self.layer.KIND

    @property
    def path(self) -> tuple[str, ...]:
        """Where it sits: scope labels, then its own (``("layer1", "0", "conv1")``)."""
        return (*(f.label for f in self.scope), self.local or self.name)

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
            "path": list(self.path),
            "scope": [f.to_dict() for f in self.scope],
        }

    @staticmethod
    def from_dict(doc: dict[str, Any], shapes: dict[str, Shape]) -> Node:
        """A node of :meth:`Model.from_dict`; ``shapes`` holds earlier nodes' output shapes.

        The stored layer is bound already; shape, weights and MACs are recomputed from it
        rather than trusted."""
        inputs = tuple(doc["inputs"])
        sp = doc["span"]
        span = Span(sp["line"], sp["column"], sp["end_line"], sp["end_column"])
        layer = Layer.from_dict(doc["layer"])
        in_shapes = tuple(shapes[i] for i in inputs)
        node = Node.build(doc["name"], layer, inputs, in_shapes, span, doc["keyword"], bind=False)
        scope = tuple(Frame.from_dict(f) for f in doc.get("scope", ()))
        local = doc.get("path", [node.name])[-1]
        return replace(node, scope=scope, local=local if scope else "")


@dataclass(frozen=True)
class Model:
    """A checked model. Build one with :func:`cnndsl.parse` or :func:`cnndsl.load`.

    ``inputs`` and ``outputs`` are node names, like :attr:`Node.inputs`; :meth:`node`
    and :meth:`consumers` look names up in indexes built once.
    """

    name: str
    nodes: tuple[Node, ...]
    filename: str = "<string>"
    _index: dict[str, Node] = field(init=False, repr=False, compare=False)
    _consumers: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {n.name: n for n in self.nodes}
        users: dict[str, dict[str, None]] = {n.name: {} for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                users[i][n.name] = None  # once, even when it reads the same tensor twice
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_consumers", {k: tuple(v) for k, v in users.items()})

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def node(self, name: str) -> Node:
        """The node called ``name`` (KeyError if there is none)."""
        return self._index[name]

    def consumers(self, name: str) -> tuple[str, ...]:
        """The nodes that read ``name``'s output, in model order."""
        return self._consumers[name]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the nodes that read nothing: the model's inputs."""
        return tuple(n.name for n in self.nodes if not n.inputs)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the nodes nobody reads: the model's results."""
        return tuple(n.name for n in self.nodes if not self._consumers[n.name])

    @property
    def input_node(self) -> Node:
        return self._index[self.inputs[0]]

    @property
    def output_node(self) -> Node:
        """The model's result (the last node nobody reads)."""
        return self._index[self.outputs[-1]]

    @property
    def input_shape(self) -> Shape:
        return self.input_node.shape

    @property
    def output_shape(self) -> Shape:
        return self.output_node.shape

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

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> Model:
        """The model :meth:`to_dict` described (``cnndsl.model/1``)."""
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema {doc.get('schema')!r})")
        shapes: dict[str, Shape] = {}
        nodes = []
        for d in doc["nodes"]:
            node = Node.from_dict(d, shapes)
            shapes[node.name] = node.shape
            nodes.append(node)
        return Model(doc["name"], tuple(nodes), doc["file"])

    def summary(self, depth: int | None = None) -> str:
        """A table like Keras' ``summary()``: layer, output shape, params, MACs. With
        ``depth``, scopes nested deeper than that fold into one row each, like
        torchinfo's ``depth`` (cnndsl.summary)."""
        from .summary import summary

        return summary(self, depth)
