"""PyTorch code generation: an ``nn.Module`` subclass, NCHW, read as a person would write it.

``PYTORCH`` (in :mod:`.lower`) holds each kind's lowering; :func:`emit` lays the
modules and ``forward`` steps out with the template, :func:`weight_map` returns where
each canonical weight lands in the module's state_dict (used by ``cnndsl.convert``).
"""

from __future__ import annotations

from ...errors import CnnDslError
from ...ir import Model
from ..codegen import class_name, header, layout, layout_literal, refuse_names, render
from ..params import Param
from . import conv as _conv  # noqa: F401  (registers the convolution kinds)
from .classes import Body, Generator, class_lines
from .lower import ACTIVATIONS, PYTORCH
from .names import FILE_NAMES, MODULE_ATTRIBUTES

__all__ = ["ACTIVATIONS", "FILE_NAMES", "MODULE_ATTRIBUTES", "PYTORCH", "emit", "weight_map"]


def _why_taken(name: str) -> str:
    return "an nn.Module attribute" if name in MODULE_ATTRIBUTES else "a name the file uses"


def _check_names(model: Model, classifier: bool) -> None:
    clashes = [
        (n, _why_taken(n.name))
        for n in model.nodes
        if n.name in MODULE_ATTRIBUTES or n.name in FILE_NAMES
    ]
    if classifier:
        clashes += [(n, "the method giving the logits") for n in model.nodes if n.name == "logits"]
    refuse_names(model, clashes, "PyTorch")


def logits_model(model: Model) -> Model | None:
    """For a model whose head is a softmax over classes, the same model without that
    softmax (the rule of :func:`cnndsl.training.heads.classifier_head`), under the model's
    own name; else None. The generated class computes it in ``logits`` and applies the
    softmax in ``forward``. Softmax has no weights: the state_dict is the same."""
    from ...training.heads import classifier_head

    try:
        head = classifier_head(model)
    except CnnDslError:
        return None
    return Model(model.name, head.logits.nodes, model.filename)


def _nchw(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, (shape[-1], *shape[:-1]) if len(shape) > 1 else shape))


def _generator(model: Model) -> tuple[Generator, Body]:
    """The generator of the model's code: of its logits model, for a classifier."""
    body = logits_model(model) or model
    gen = Generator(body, FILE_NAMES | {class_name(model.name, tuple(sorted(FILE_NAMES)))})
    return gen, gen.generate()


def weight_map(model: Model) -> dict[str, list[Param]]:
    """Node name -> where its canonical weights live in the generated module's state_dict."""
    gen, _ = _generator(model)
    return {name: params for name, params in gen.weights.items() if params}


def emit(model: Model) -> str:
    """The PyTorch source of ``model``: a class per block, the model's class last."""
    gen, root = _generator(model)
    classifier = gen.model is not model
    _check_names(model, classifier)
    init_lines: list[str] = []
    for attr, call in root.modules:
        init_lines += layout(call, 8, prefix=f"self.{attr} = ")
    ctx = gen.ctx
    classes = [class_lines(c) for c in gen.classes]
    code = [
        *init_lines,
        *root.forward,
        *(line for c in classes for line in c),
        *ctx.helpers.values(),
    ]
    text = render(
        "pytorch.py.j2",
        header=header(model, "PyTorch"),
        name=model.name,
        class_name=class_name(model.name, reserved=tuple(sorted(FILE_NAMES))),
        functional=classifier or any("F." in line for line in code),
        logits=classifier,  # a fused activation may be a module
        ordered=any("OrderedDict(" in line for line in code),
        helpers=[ctx.helpers[k] for k in sorted(ctx.helpers)],
        classes=classes,
        init_lines=init_lines,
        fixed=list(ctx.fixed),
        fixed_lines=layout_literal(ctx.fixed, 0, "FIXED_WEIGHTS = ") if ctx.fixed else [],
        forward_lines=root.forward,
        input_nchw=_nchw(model.input_shape),
        output_nchw=_nchw(model.output_shape),
    )
    return text
