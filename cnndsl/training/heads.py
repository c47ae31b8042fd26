"""The logits model of a classifier: the same model without its final softmax.

Training a classifier means cross-entropy on *logits* (PyTorch's ``nn.CrossEntropyLoss``,
Keras' ``SparseCategoricalCrossentropy(from_logits=True)``): both apply log-softmax
themselves, stably. The generated code's ``forward`` computes the language's function,
softmax included, so feeding its output to those losses would apply softmax twice — a loss
that starts near ln(10) and barely moves. Here the head is recognised on the IR and the
softmax taken off, by IR alone (no code generator is involved):

- a fused activation, ``dense 10 softmax`` or a conv whose activation is softmax: the same
  layer with ``linear`` in its place;
- a ``softmax`` layer of its own: the model without that last node.

Softmax has no weights, so the logits model has exactly the real model's weights, under the
same names: what trains the one trains the other, and the trained weights are the canonical
weights of the real model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import CnnDslError, Diagnostic
from ..ir import Model, Node
from ..layers import Activation, fmt_shape
from ..layers.base import evolve

HINT = "end the model with `dense N softmax` (or a `softmax` layer) over N >= 2 classes"


@dataclass(frozen=True)
class Head:
    """A classifier's head: the real model, its logits model, and the number of classes."""

    model: Model
    logits: Model
    classes: int
    softmax_node: str  # the node whose softmax was taken off
    fused: bool  # the softmax was a layer's activation (else a layer of its own)


def _softmax_kind(node: Node) -> str | None:
    """'fused' for a layer whose activation is softmax, 'layer' for a softmax layer."""
    if isinstance(node.layer, Activation):
        return "layer" if node.layer.fn == "softmax" else None
    return "fused" if getattr(node.layer, "activation", None) == "softmax" else None


def _fail(model: Model, node: Node, message: str, source: str | None) -> CnnDslError:
    return CnnDslError([Diagnostic(message, node.span, HINT)], model.filename, source)


def classifier_head(model: Model, source: str | None = None) -> Head:
    """The head of ``model`` if it is a classifier (its one output a softmax over classes,
    every other axis of size 1), else a :class:`~cnndsl.errors.CnnDslError` pointing at the
    last layer. ``source`` (the model's text) lets the error quote that layer's line."""
    last = model.output_node
    if len(model.outputs) != 1:
        n = len(model.outputs)
        raise _fail(model, last, f"the model has {n} outputs; a classifier has one", source)
    kind = _softmax_kind(last)
    if kind is None:
        raise _fail(
            model,
            last,
            f"not a classifier: the model ends with `{last.keyword}`, not a softmax over its "
            "classes (training needs class probabilities to compare labels with)",
            source,
        )
    classes = last.shape[-1]
    if math.prod(last.shape[:-1]) != 1 or classes < 2:
        raise _fail(
            model,
            last,
            f"not a classifier of whole inputs: the softmax gives {fmt_shape(last.shape)}, "
            "not one probability per class",
            source,
        )
    return Head(model, _logits(model, last, kind), classes, last.name, kind == "fused")


def _logits(model: Model, last: Node, kind: str) -> Model:
    if kind == "layer":
        nodes = model.nodes[:-1]
    else:
        linear = evolve(last.layer, activation="linear")
        nodes = (*model.nodes[:-1], dataclasses.replace(last, layer=linear))
    return Model(f"{model.name}_logits", nodes, model.filename)
