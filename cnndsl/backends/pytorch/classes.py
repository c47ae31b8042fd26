"""The model's structure in PyTorch: a class per block, an ``nn.Sequential`` per stage.

Scopes are generated innermost first (cnndsl.backends.tree). A numbered scope whose
items form a chain of modules is an ``nn.Sequential`` — inline for a stage, a subclass
for a block (like torchvision's ``Conv2dNormActivation``); any other scope is an
``nn.Module`` subclass whose attributes are its items' labels and whose ``forward``
reads like the source. The instances of one block share one class: where their
numbers differ, the class takes constructor arguments (:func:`tree.unify`), named
after the block's parameters where they match. The module paths are the nodes' scope
paths, so the state_dict keys are exactly the names the user chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ... import layers as L
from ...ir import Model, Node
from ..codegen import Call, Code, camel, def_lines, fresh, layout, py
from ..params import Param
from ..tree import (
    Scope,
    build,
    by_height,
    label,
    produced,
    reads,
    shape_of,
    share,
    substitute,
    variables,
    with_defaults,
    without_defaults,
)
from .lower import PYTORCH, Ctx, Lowered, inline_act

#: an activation as a module of its own, where a Sequential needs one
ACTIVATION_MODULES: dict[str, Any] = {
    "relu": lambda a, approx: Call.of("nn.ReLU"),
    "relu6": lambda a, approx: Call.of("nn.ReLU6"),
    "leaky_relu": lambda a, approx: Call.of("nn.LeakyReLU", negative_slope=a),
    "elu": lambda a, approx: Call.of("nn.ELU", alpha=a),
    "gelu": lambda a, approx: Call.of("nn.GELU", approximate="tanh" if approx else "none"),
    "silu": lambda a, approx: Call.of("nn.SiLU"),
    "sigmoid": lambda a, approx: Call.of("nn.Sigmoid"),
    "tanh": lambda a, approx: Call.of("nn.Tanh"),
    "softmax": lambda a, approx: Call.of("nn.Softmax", dim=1),
}

#: what nn.*'s positional arguments are called: names for constructor parameters
_POSITIONAL = {
    "Conv": ("in_channels", "out_channels"),
    "ConvTranspose": ("in_channels", "out_channels"),
    "Linear": ("in_features", "out_features"),
    "BatchNorm": ("num_features",),
    "LayerNorm": ("normalized_shape",),
    "PReLU": ("num_parameters",),
}
_CONV = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True}
_DECONV = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True}
#: keywords nn.* leaves at these values unless given: filled in while instances of a
#: block are compared, left out again in the code
DEFAULTS = {
    **{f"nn.Conv{r}d": _CONV for r in (1, 2, 3)},
    **{f"nn.ConvTranspose{r}d": _DECONV for r in (1, 2, 3)},
}
_INDEXED = re.compile(r"self\.(\d+)\b")


def activation_module(fn: str, layer: L.Activation | None = None) -> Call:
    """An activation as a module: a fused one with its defaults, or a layer's own."""
    bound = layer or L.Activation(fn=fn).bind(())
    made: Call = ACTIVATION_MODULES[fn](bound.alpha, bound.approximate)
    return made


@dataclass
class Body:
    """A scope's code before its instances are unified: the constructor's modules as
    (label, call) and the lines of ``forward`` (none: a plain Sequential)."""

    sequential: bool
    modules: list[tuple[str, Any]] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    ins: int = 1
    outs: int = 1


@dataclass
class ClassDef:
    name: str
    body: Body
    params: list[str]
    names: list[str | None]  # per literal of the modules: its parameter, or None
    types: dict[str, str]  # parameter -> its annotation
    doc: str = ""


class Generator:
    """Lowers every node in its scope and lays the scopes out as classes."""

    def __init__(self, model: Model, reserved: frozenset[str]):
        self.model = model
        self.ctx = Ctx(model)
        self.weights: dict[str, list[Param]] = {}
        self.reserved = set(reserved)
        self.classes: list[ClassDef] = []
        self.by_key: dict[Any, ClassDef] = {}
        self.made: dict[tuple[str, ...], Any] = {}  # scope path -> how its parent builds it
        self.root = build(model)

    # ------------------------------------------------------------ leaves

    def lower(self, node: Node, attr: str, scope: Scope, ins: list[str]) -> Lowered:
        """The node's lowering with its module at ``self.<attr>``; its weights recorded
        under their state_dict keys (the scope path, then the attribute)."""
        ctx = self.ctx
        ctx.ins = [Code(v) for v in ins] or [Code("x")]
        ctx.node = node.name
        ctx.module_path = ".".join((*scope.path, attr))
        low = PYTORCH(node.layer, replace(node, name=attr), ctx)
        prefix = "".join(f"{p}." for p in scope.path)
        self.weights[node.name] = [replace(p, key=prefix + p.key) for p in low.params]
        return low

    # ------------------------------------------------------------ scopes

    def generate(self) -> Body:
        """Every scope, innermost first: those of one height together, so that all the
        instances of a block are known before its class is made. Returns the model's."""
        for level in by_height(self.root):
            classes: dict[Any, list[tuple[Scope, Body]]] = {}
            for scope in level:
                body = self.body(scope)
                body.modules = [(a, with_defaults(m, DEFAULTS)) for a, m in body.modules]
                if scope.numbered and body.sequential and not scope.block:
                    self.made[scope.path] = without_defaults(_sequential(body.modules), DEFAULTS)
                else:
                    classes.setdefault(_key(scope, body), []).append((scope, body))
            for group in classes.values():
                self.make_class(group)
        root = self.module_body(self.root)
        root.modules = [(a, without_defaults(m, DEFAULTS)) for a, m in root.modules]
        return root

    def body(self, scope: Scope) -> Body:
        """``scope``'s modules and forward; a Sequential when numbered and a chain."""
        if scope.numbered:
            chain = self.chain(scope)
            if chain is not None:
                return Body(True, chain)
        return self.module_body(scope)

    def chain(self, scope: Scope) -> list[tuple[str, Any]] | None:
        """The modules of a numbered scope in order, if its items are a chain of single
        modules each reading the one before (None: it needs a forward)."""
        if len(scope.inputs) != 1 or len(scope.outputs) != 1:
            return None
        modules: list[tuple[str, Any]] = []
        before = scope.inputs[0]
        for item in scope.items:
            if reads(item) != [before] or len(produced(item)) != 1:
                return None
            before = produced(item)[0]
            if isinstance(item, Scope):
                modules.append((item.label, self.made[item.path]))
                continue
            low = self.lower(item, label(item), scope, ["x"])
            if low.modules and low.steps == [(Call.of(f"self.{label(item)}", Code("x")), None)]:
                modules += _with_activation(label(item), low)
            elif isinstance(item.layer, L.Activation):
                modules.append((label(item), activation_module(item.layer.fn, item.layer)))
            else:
                return None
        return modules

    # complex: the model and a block differ in inputs and returns; one loop lays out both
    def module_body(self, scope: Scope) -> Body:
        """Attributes and a forward, for a named scope or a numbered one that is no chain."""
        extra = [f"skip{i + 1 if i else ''}" for i in range(len(scope.inputs) - 1)]
        owner = {t: item for item in scope.items for t in produced(item)}
        var = variables(scope, "x", extra, lambda t: _var_name(owner[t], t))
        body = Body(False, ins=max(len(scope.inputs), 1), outs=len(scope.outputs))
        if scope.frame is None:
            body.outs = 1
        if var.kept:
            body.forward.append(f"        {var.kept} = x")
        for i, item in enumerate(scope.items):
            ins = [var.read[(i, t)] for t in reads(item)]
            outs = [var.write[t] for t in produced(item)]
            self.item_lines(scope, item, ins, outs, body)
        end = len(scope.items)
        results = [var.read[(end, t)] for t in scope.outputs[: body.outs]]
        body.forward.append(f"        return {', '.join(results)}")
        keys = r"self[\1]" if all(a.isdigit() for a, _ in body.modules) else r'getattr(self, "\1")'
        body.forward = [_INDEXED.sub(keys, line) for line in body.forward]
        return body

    # complex: a block instance, the input, or a layer whose fused activation is inline or a module
    def item_lines(
        self, scope: Scope, item: Node | Scope, ins: list[str], outs: list[str], body: Body
    ) -> None:
        """The modules and forward lines of one item of a module body."""
        attr = label(item)
        if isinstance(item, Scope):
            body.modules.append((attr, self.made[item.path]))
            call = Call(f"self.{attr}", tuple(Code(v) for v in ins))
            body.forward += layout(call, 8, prefix=f"{', '.join(outs)} = ")
            return
        if not item.inputs:  # the model's input: the argument of forward
            if outs[0] != "x":
                body.forward.append(f"        {outs[0]} = x")
            return
        low = self.lower(item, attr, scope, ins)
        if isinstance(item.layer, L.Activation) and scope.numbered:  # a module, numbered
            low.modules = [(attr, activation_module(item.layer.fn, item.layer))]
            low.steps = [(Call.of(f"self.{attr}", Code(ins[0])), None)]
        body.modules += low.modules
        if low.activation != "linear" and scope.numbered:  # a module at the next number
            act = _with_activation(attr, low)[1]
            body.modules.append(act)
            low.steps[-1] = (Call.of(f"self.{act[0]}", low.steps[-1][0]), low.steps[-1][1])
        elif low.activation != "linear":
            expr, comment = low.steps[-1]
            low.steps[-1] = (inline_act(low.activation, expr, self.ctx), comment)
        if not low.steps and outs[0] != ins[0]:
            body.forward.append(f"        {outs[0]} = {ins[0]}")
        for expr, comment in low.steps:
            if comment:
                body.forward.append(f"        # {comment}")
            if isinstance(expr, Call):
                body.forward += layout(expr, 8, prefix=f"{outs[0]} = ")
            else:
                body.forward.append(f"        {outs[0]} = {py(expr)}")

    # ------------------------------------------------------------ classes

    def make_class(self, group: list[tuple[Scope, Body]]) -> None:
        """One class for instances with the same code but their numbers; each instance
        is built by calling it with its own."""
        scope0, body0 = group[0]
        trees = [[m for _, m in body.modules] for _, body in group]
        shared = share([s for s, _ in group], trees, hints(body0.modules), self.model)
        name = self.class_name(scope0.block or scope0.label)
        cls = ClassDef(name, body0, shared.params, shared.names, shared.types)
        cls.doc = f"The block `{scope0.block}`." if scope0.block else f"The stage `{scope0.label}`."
        self.classes.append(cls)
        for i, (scope, _) in enumerate(group):
            self.made[scope.path] = shared.call(name, i)

    def class_name(self, base: str) -> str:
        unique = fresh(camel(base, "Stage"), self.reserved)
        self.reserved.add(unique)
        return unique


def _key(scope: Scope, body: Body) -> Any:
    """Instances that can share a class: the same block, code and module layout."""
    modules = tuple((a, shape_of(m)) for a, m in body.modules)
    return (scope.block or scope.label, body.sequential, modules, tuple(body.forward), body.ins)


def _var_name(item: Node | Scope, tensor: str) -> str:
    """A tensor that must live longer than one step: named after the item leaving it."""
    if isinstance(item, Node):
        text = "inputs" if not item.inputs else label(item)
    else:
        text = item.label if tensor == item.outputs[0] else f"{item.label}_{tensor}"
    return f"x{text}" if text[0].isdigit() else text


def _with_activation(attr: str, low: Lowered) -> list[tuple[str, Any]]:
    modules: list[tuple[str, Any]] = [(attr, low.modules[0][1])]
    if low.activation != "linear":
        after = str(int(attr) + 1) if attr.isdigit() else f"{attr}_{low.activation}"
        modules.append((after, activation_module(low.activation)))
    return modules


def _sequential(modules: list[tuple[str, Any]]) -> Call:
    if all(a == str(i) for i, (a, _) in enumerate(modules)):
        return Call("nn.Sequential", tuple(m for _, m in modules))
    pairs = [(a, m) for a, m in modules]
    return Call.of("nn.Sequential", Call.of("OrderedDict", pairs))


def hints(modules: list[tuple[str, Any]]) -> list[str]:
    """A name for every literal of the modules: its keyword, or nn's positional name."""
    out: list[str] = []
    for _, call in modules:
        out += _hints(call)
    return out


def _hints(value: Any, name: str = "arg") -> list[str]:
    if isinstance(value, Call):
        base = value.fn.split(".")[-1].rstrip("123d")
        positional = _POSITIONAL.get(base, ())
        out: list[str] = []
        for i, a in enumerate(value.args):
            out += _hints(a, positional[i] if i < len(positional) else name)
        for k, v in value.kwargs:
            out += _hints(v, k)
        return out
    if isinstance(value, (tuple, list)):
        return [h for v in value for h in _hints(v, name)]
    return [] if isinstance(value, Code) else [name]


__all__ = ["ClassDef", "Generator", "class_lines", "hints"]


# ------------------------------------------------------------ the classes as code


def class_lines(cls: ClassDef) -> list[str]:
    """The source of one generated class."""
    at = [0]
    modules = [
        (a, without_defaults(substitute(m, cls.names, at), DEFAULTS)) for a, m in cls.body.modules
    ]
    base = "nn.Sequential" if cls.body.sequential or _indexed(modules) else "nn.Module"
    args = ["self", *(f"{p}: {cls.types[p]}" for p in cls.params)]
    lines = [f"class {cls.name}({base}):", f'    """{cls.doc}"""', ""]
    lines += def_lines(4, "__init__", args, "None")
    if base == "nn.Sequential":
        lines += layout(_super(modules), 8)
    else:
        lines.append("        super().__init__()")
        for a, m in modules:
            lines += layout(m, 8, prefix=f"self.{a} = ")
    if not cls.body.sequential:
        lines += ["", *forward_def(cls.body.ins, cls.body.outs), *cls.body.forward]
    return lines


def forward_def(ins: int, outs: int) -> list[str]:
    extra = [f"skip{i + 1 if i else ''}: torch.Tensor" for i in range(ins - 1)]
    result = "torch.Tensor" if outs == 1 else f"tuple[{', '.join(['torch.Tensor'] * outs)}]"
    return def_lines(4, "forward", ["self", "x: torch.Tensor", *extra], result)


def _indexed(modules: list[tuple[str, Any]]) -> bool:
    return any(a.isdigit() for a, _ in modules)


def _super(modules: list[tuple[str, Any]]) -> Call:
    made = _sequential(modules)
    return Call("super().__init__", made.args, made.kwargs)
