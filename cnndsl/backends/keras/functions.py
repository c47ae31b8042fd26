"""The model's structure in Keras: a Python function per block, in the functional API.

Each block instance becomes a call ``x = basic(x, 64, name="layer1_0")`` of one
function per block; its layers are named ``f"{name}_conv1"``, so the names show the
hierarchy (``layer1_0_conv1``) as the source's scope paths do. Stages and named
shortcuts or branches only prefix names here: Keras has no container to put them in.
Instances whose numbers differ share a function with parameters (cnndsl.backends.tree).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ...ir import Model, Node
from ..codegen import Call, Code, def_lines, fresh, layout
from ..params import Param
from ..tree import (
    Scope,
    build,
    by_height,
    produced,
    reads,
    shape_of,
    share,
    substitute,
    variables,
    with_defaults,
    without_defaults,
)
from .lower import KERAS, Ctx, Lowered


def keras_name(node: Node) -> str:
    """A node's layer name in Keras: its scope path joined (its own name at the top)."""
    return "_".join(node.path)


@dataclass
class Step:
    """``targets = call(applied)``, or ``targets = call`` when nothing is applied."""

    targets: str
    call: Call
    applied: str | None


@dataclass
class Body:
    steps: list[Step] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    kept: str | None = None
    ins: int = 1


@dataclass
class FuncDef:
    name: str
    block: str
    body: Body
    params: list[str]
    names: list[str | None]
    types: dict[str, str]


def dissolve(scope: Scope) -> Scope:
    """The tree with only block instances left: containers' items moved to their parent."""
    items: list[Node | Scope] = []
    for item in scope.items:
        if isinstance(item, Scope) and not item.block:
            items += dissolve(item).items
        elif isinstance(item, Scope):
            items.append(dissolve(item))
        else:
            items.append(item)
    return replace(scope, items=items)


class Functions:
    """Lowers every node and lays block instances out as function calls."""

    def __init__(self, model: Model):
        self.model = model
        self.ctx = Ctx(model)
        self.ctx.taken = {keras_name(n) for n in model.nodes}
        self.weights: dict[str, list[Param]] = {}
        self.functions: list[FuncDef] = []
        self.made: dict[tuple[str, ...], Call] = {}
        self.root = dissolve(build(model))
        self.taken: set[str] = set()

    def lower(self, node: Node) -> Lowered:
        low = KERAS(node.layer, replace(node, name=keras_name(node)), self.ctx)
        self.weights[node.name] = low.params
        low.calls = [_collapsed(c) for c in low.calls]
        return low

    def generate(self, reserved: frozenset[str]) -> Body:
        """Every block instance, those of one height together, then the model's body."""
        self.taken |= reserved
        for level in by_height(self.root):
            groups: dict[Any, list[tuple[Scope, Body]]] = {}
            for scope in level:
                body = self.body(scope)
                groups.setdefault(_key(scope, body), []).append((scope, body))
            for group in groups.values():
                self.make_function(group)
        return self.body(self.root)

    # complex: the model and a block differ in their input, its name and their returns
    def body(self, scope: Scope) -> Body:
        extra = [f"skip{i + 1 if i else ''}" for i in range(len(scope.inputs) - 1)]
        owner = {t: item for item in scope.items for t in produced(item)}
        first = "x" if scope.frame else "inputs"
        depth = len(scope.path)
        var = variables(scope, "x", extra, lambda t: _var_name(owner[t], t, first, depth))
        if not scope.frame:  # the model's input is `inputs`, which keras.Model needs later
            x0 = scope.items[0]
            assert isinstance(x0, Node) and not x0.inputs
            var.write[x0.name] = "inputs"
            var.read = {k: "inputs" if k[1] == x0.name else v for k, v in var.read.items()}
        body = Body(kept=var.kept, ins=max(len(scope.inputs), 1))
        prefix = "_".join(scope.path)
        for i, item in enumerate(scope.items):
            ins = [var.read[(i, t)] for t in reads(item)]
            outs = [var.write[t] for t in produced(item)]
            body.steps += self.steps(scope, item, ins, outs, prefix)
        end = len(scope.items)
        body.results = [var.read[(end, t)] for t in scope.outputs[: 1 if not scope.frame else None]]
        return body

    def steps(
        self, scope: Scope, item: Node | Scope, ins: list[str], outs: list[str], prefix: str
    ) -> list[Step]:
        """One item's lines: a block instance's call, or a layer's Keras layers in turn."""
        if isinstance(item, Scope):
            call = self.made[item.path]
            args = (*(Code(v) for v in ins), *call.args)
            name = _relative("_".join(item.path[len(scope.path) :]), prefix)
            kwargs = (*call.kwargs, ("name", name))
            return [Step(", ".join(outs), Call(call.fn, args, kwargs), None)]
        low = self.lower(item)
        if not item.inputs:
            return [Step(outs[0], low.calls[0], None)]
        arg = ins[0] if len(ins) == 1 else f"[{', '.join(ins)}]"
        steps = []
        for call in low.calls:
            steps.append(Step(outs[0], with_defaults(_renamed(call, prefix), DEFAULTS), arg))
            arg = outs[0]
        return steps

    def make_function(self, group: list[tuple[Scope, Body]]) -> None:
        """One function for instances with the same code but their numbers."""
        scope0, body0 = group[0]
        trees = [[s.call for s in body.steps] for _, body in group]
        hint = [h for s in body0.steps for h in _hints(s.call)]
        shared = share([s for s, _ in group], trees, hint, self.model)
        fn = self.function_name(scope0.block)
        self.functions.append(
            FuncDef(fn, scope0.block, body0, shared.params, shared.names, shared.types)
        )
        for i, (scope, _) in enumerate(group):
            self.made[scope.path] = shared.call(fn, i)

    def function_name(self, block: str) -> str:
        name = fresh(block, self.taken, "_")
        self.taken.add(name)
        return name


def _key(scope: Scope, body: Body) -> Any:
    steps = tuple((s.targets, shape_of(s.call), s.applied) for s in body.steps)
    return (scope.block, steps, tuple(body.results), body.kept, body.ins)


def _var_name(item: Node | Scope, tensor: str, first: str, depth: int) -> str:
    """A tensor kept for later: named by its path below the scope (containers are gone
    here, so a label alone need not be unique)."""
    if isinstance(item, Node):
        text = first if not item.inputs else "_".join(item.path[depth:])
    else:
        text = "_".join(item.path[depth:])
        text = text if tensor == item.outputs[0] else f"{text}_{tensor}"
    return f"x{text}" if text[0].isdigit() else text


def _dims(r: int) -> dict[str, Any]:
    return {"strides": 1, "padding": "valid", "dilation_rate": 1, "use_bias": True}


def _collapsed(call: Call) -> Call:
    """``(3, 3)`` written ``3`` in Keras' own layers, as Keras code is written: one number
    for every axis of a window, stride or dilation (Keras takes either)."""
    if not call.fn.startswith("layers."):
        return call

    def one(v: Any) -> Any:
        same = isinstance(v, tuple) and v and all(isinstance(x, int) and x == v[0] for x in v)
        return v[0] if same else v

    args = tuple(one(a) if isinstance(a, tuple) else a for a in call.args)
    kwargs = tuple((k, one(v) if k in _WINDOWS else v) for k, v in call.kwargs)
    return Call(call.fn, args, kwargs)


_WINDOWS = {"strides", "dilation_rate", "pool_size", "kernel_size", "size"}


#: keywords Keras leaves at these values unless given (cnndsl.backends.tree.with_defaults)
DEFAULTS = {
    **{f"layers.Conv{r}D": {**_dims(r), "groups": 1} for r in (1, 2, 3)},
    **{f"layers.DepthwiseConv{r}D": _dims(r) for r in (1, 2)},
    **{f"layers.SeparableConv{r}D": _dims(r) for r in (1, 2)},
    **{f"layers.Conv{r}DTranspose": _dims(r) for r in (1, 2, 3)},
}


def _relative(rest: str, prefix: str) -> Any:
    """A layer or instance name: inside a function, relative to its ``name`` argument."""
    return Code(f'f"{{name}}_{rest}"') if prefix else rest


def _renamed(call: Call, prefix: str) -> Call:
    if not prefix:
        return call
    kwargs = tuple(
        (k, _relative(v[len(prefix) + 1 :], prefix) if k == "name" and isinstance(v, str) else v)
        for k, v in call.kwargs
    )
    return Call(call.fn, call.args, kwargs)


def _hints(value: Any, name: str = "arg") -> list[str]:
    if isinstance(value, Call):
        out: list[str] = []
        for a in value.args:
            out += _hints(
                a, "filters" if "Conv" in value.fn else "units" if "Dense" in value.fn else name
            )
        for k, v in value.kwargs:
            out += _hints(v, k)
        return out
    if isinstance(value, (tuple, list)):
        return [h for v in value for h in _hints(v, name)]
    return [] if isinstance(value, Code) else [name]


def function_lines(fn: FuncDef) -> list[str]:
    """The source of one generated function."""
    at = [0]
    steps = [
        replace(s, call=without_defaults(substitute(s.call, fn.names, at), DEFAULTS))
        for s in fn.body.steps
    ]
    extra = [f"skip{i + 1 if i else ''}" for i in range(fn.body.ins - 1)]
    params = ["x", *extra, *(f"{p}: {fn.types[p]}" for p in fn.params), "name: str"]
    lines = [*def_lines(0, fn.name, params, None), f'    """The block `{fn.block}`."""']
    if fn.body.kept:
        lines.append(f"    {fn.body.kept} = x")
    lines += body_lines(steps, 4)
    lines.append(f"    return {', '.join(fn.body.results)}")
    return lines


def body_lines(steps: list[Step], indent: int) -> list[str]:
    lines: list[str] = []
    for s in steps:
        call = without_defaults(s.call, DEFAULTS)
        lines += layout(call, indent, prefix=f"{s.targets} = ", applied_to=s.applied)
    return lines
