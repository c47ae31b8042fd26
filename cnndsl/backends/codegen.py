"""What the code generators share: calls as data, a safe literal renderer, names, the header.

A backend's table maps each layer class to a function returning *data* —
:class:`Call` objects whose arguments are plain Python values — and one Jinja2
template lays them out. Everything user-written that reaches the output (model
and layer names) is a validated ASCII identifier, rendered as a string literal or
an attribute name; the source file name only appears through ``ascii()`` in a
comment. So nothing in a ``.cnn`` file can inject code.

The renderer lays calls out the way ``ruff format`` (88 columns) does, so the
generated files are format-clean as written.
"""

from __future__ import annotations

import keyword
import os
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2

from .. import __version__
from ..errors import CnnDslError, Diagnostic
from ..ir import Model, Node
from ..layers import fmt_shape

LINE = 88
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Code:
    """A fragment of trusted code from a backend's own table (``x``, ``self.conv_1``)."""

    text: str


@dataclass(frozen=True)
class Call:
    """``fn(*args, **kwargs)`` with plain values, :class:`Code` or nested calls as arguments."""

    fn: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @staticmethod
    def of(fn: str, *args: Any, **kwargs: Any) -> Call:
        return Call(fn, args, tuple(kwargs.items()))


# complex: one branch per kind of literal; split, the type switch would be harder to check
def py(value: Any) -> str:
    """A Python literal for ``value``; strings must be identifiers or fixed table text."""
    if isinstance(value, Code):
        return value.text
    if isinstance(value, Call):
        return inline(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, str):
        if not value.isascii() or '"' in value or "\\" in value or not value.isprintable():
            raise ValueError(f"refusing to emit string {value!r}")
        return f'"{value}"'
    if isinstance(value, tuple):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    raise TypeError(f"cannot emit {type(value).__name__}")


def _parts(call: Call) -> list[str]:
    return [py(a) for a in call.args] + [f"{k}={py(v)}" for k, v in call.kwargs]


def inline(call: Call) -> str:
    return f"{call.fn}({', '.join(_parts(call))})"


def layout(
    call: Call, indent: int, prefix: str = "", suffix: str = "", applied_to: str | None = None
) -> list[str]:
    """Lines for ``prefix + call + suffix`` at ``indent`` spaces, as ruff format would.

    ``applied_to`` makes it ``prefix + call(applied_to) + suffix`` — a Keras layer called on
    a tensor — which ruff breaks at its last bracket when the rest still fits. An assignment
    whose first line cannot fit (a long layer name) gets its value in parentheses when
    every line then fits, as ruff does.
    """
    pad = " " * indent
    applied = "" if applied_to is None else f"({applied_to})"
    one = f"{pad}{prefix}{inline(call)}{applied}{suffix}"
    if len(one) <= LINE:
        return [one]
    split = _split(call, indent, prefix, suffix, applied_to)
    if len(split[0]) > LINE and prefix.endswith(" = ") and not suffix:
        wrapped = [f"{pad}{prefix}(", *layout(call, indent + 4, applied_to=applied_to), f"{pad})"]
        if all(len(line) <= LINE for line in wrapped):
            return wrapped
    return split


def _split(call: Call, indent: int, prefix: str, suffix: str, applied_to: str | None) -> list[str]:
    """The call broken at its brackets: the arguments hugged on one line, or one a line."""
    if applied_to is not None:
        return _split_applied(call, indent, prefix, suffix, applied_to)
    pad, inner = " " * indent, " " * (indent + 4)
    hugged = f"{inner}{', '.join(_parts(call))}"
    if len(hugged) <= LINE:
        return [f"{pad}{prefix}{call.fn}(", hugged, f"{pad}){suffix}"]
    args = [("", a) for a in call.args] + [(f"{k}=", v) for k, v in call.kwargs]
    lines = [f"{pad}{prefix}{call.fn}("]
    for key, value in args:
        text = f"{inner}{key}{py(value)},"
        if len(text) <= LINE or not isinstance(value, (Call, list)):
            lines.append(text)
        elif isinstance(value, Call):  # an argument too long is split too
            lines += layout(value, indent + 4, key, ",")
        else:
            lines += layout_literal(value, indent + 4, key, ",")
    return [*lines, f"{pad}){suffix}"]


def _split_applied(call: Call, indent: int, prefix: str, suffix: str, applied_to: str) -> list[str]:
    """``call(applied_to)``: broken at the last brackets if the rest fits, else at the
    call's, and then at the last ones too if they still do not fit."""
    pad = " " * indent
    head = f"{pad}{prefix}{inline(call)}("
    if len(head) <= LINE:
        return [head, *_argument(applied_to, indent + 4), f"{pad}){suffix}"]
    *lines, last = _split(call, indent, prefix, "", None)
    if len(f"{last}({applied_to}){suffix}") <= LINE:
        return [*lines, f"{last}({applied_to}){suffix}"]
    return [*lines, f"{last}(", *_argument(applied_to, indent + 4), f"{pad}){suffix}"]


def _argument(text: str, indent: int) -> list[str]:
    """The tensor a Keras layer is applied to, on its own lines: a name, or a list of names
    exploded one a line when it does not fit on one."""
    pad = " " * indent
    if len(pad) + len(text) <= LINE or not text.startswith("["):
        return [f"{pad}{text}"]
    names = text[1:-1].split(", ")  # variable names: identifiers, no commas inside
    return [f"{pad}[", *(f"{pad}    {n}," for n in names), f"{pad}]"]


# complex: one branch per kind of literal ruff lays out its own way (call, tuple, list, dict)
def layout_literal(value: Any, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    """A list or dict literal as ruff format lays it out: on one line if it fits, else one
    element per line with a trailing comma, recursively."""
    pad = " " * indent
    one = f"{pad}{prefix}{py(value) if not isinstance(value, dict) else _dict_inline(value)}"
    if len(one) + len(suffix) <= LINE:
        return [one + suffix]
    if isinstance(value, Call):
        return layout(value, indent, prefix, suffix)
    if isinstance(value, tuple):  # exploded with a trailing comma, as ruff keeps it
        inner = [line for v in value for line in layout_literal(v, indent + 4, "", ",")]
        return [f"{pad}{prefix}(", *inner, f"{pad}){suffix}"]
    if not isinstance(value, (list, dict)):
        return [one + suffix]
    lines = [f"{pad}{prefix}{'[' if isinstance(value, list) else '{'}"]
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
    for key, item in items:
        lines += layout_literal(item, indent + 4, "" if key is None else f"{py(key)}: ", ",")
    lines.append(f"{pad}{']' if isinstance(value, list) else '}'}{suffix}")
    return lines


def _dict_inline(d: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in d.items()) + "}"


def nested(values: Sequence[float], shape: Sequence[int], perm: Sequence[int]) -> list[Any]:
    """Row-major ``values`` of ``shape`` as nested lists with the axes reordered by ``perm``
    (like ``numpy.transpose``), without NumPy."""
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    out_shape = [shape[p] for p in perm]
    out_strides = [strides[p] for p in perm]

    def build(axis: int, offset: int) -> Any:
        if axis == len(out_shape):
            v = values[offset]
            return int(v) if float(v).is_integer() else v
        return [build(axis + 1, offset + i * out_strides[axis]) for i in range(out_shape[axis])]

    out: list[Any] = build(0, 0)
    return out


def is_linear(model: Model) -> bool:
    """Each node reads exactly the one before it: a chain, no branches."""
    return all(
        n.inputs == ((model.nodes[i - 1].name,) if i else ()) for i, n in enumerate(model.nodes)
    )


def variables(model: Model, input_var: str) -> dict[str, str]:
    """The variable that holds each node's output in generated code: ``x`` while the value
    flows straight on (one reader, the next node), the node's own name when it must live
    longer (a residual's input, a concat's branches)."""
    readers: dict[str, list[int]] = {}
    for i, n in enumerate(model.nodes):
        for name in n.inputs:
            readers.setdefault(name, []).append(i)
    out = {}
    for i, n in enumerate(model.nodes):
        if not n.inputs:
            out[n.name] = input_var
        elif readers.get(n.name, [i + 1]) == [i + 1]:
            out[n.name] = "x"
        else:
            out[n.name] = n.name
    return out


def refuse_names(model: Model, clashes: list[tuple[Node, str]], target: str) -> None:
    """Raise one error per layer whose name the generated code cannot use, saying why."""
    if clashes:
        raise CnnDslError(
            [
                Diagnostic(
                    f"the layer name '{n.name}' is taken in generated {target} code ({why})",
                    n.span,
                    hint="choose another name=",
                )
                for n, why in clashes
            ],
            model.filename,
            None,
        )


def check_variables(model: Model, var: dict[str, str], taken: frozenset[str], target: str) -> None:
    """A layer whose output gets its own variable may not be named like one the file uses."""
    refuse_names(
        model,
        [
            (n, "a name the file uses")
            for n in model.nodes
            if var[n.name] == n.name and n.name in taken
        ],
        target,
    )


def check_identifier(name: str) -> str:
    """A layer name, used as a variable or attribute: no keyword, no dunder."""
    if not _IDENT.match(name) or keyword.iskeyword(name) or name.startswith("__"):
        raise ValueError(f"not a safe identifier: {name!r}")  # the checker prevents this
    return name


def check_model_name(name: str) -> str:
    """The model's name only appears in string literals, docstrings and (via
    :func:`class_name`) a class name, so a keyword is fine — a file ``class.cnn`` is the
    model ``class`` — but it must be ASCII identifier characters, nothing to escape."""
    if not _IDENT.match(name):
        raise ValueError(f"not a safe model name: {name!r}")  # the checker prevents this
    return name


def fresh(base: str, taken: Container[str], sep: str = "") -> str:
    """``base``, else ``base{sep}2``, ``base{sep}3``...: the first not in ``taken``."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{sep}{n}"
    return name


def camel(name: str, prefix: str) -> str:
    """``basic_down`` -> ``BasicDown``; ``prefix`` first when that would not start with a
    letter (``2x`` -> ``Stage2x``)."""
    out = "".join(p[:1].upper() + p[1:] for p in name.split("_") if p)
    return out if out and out[0].isalpha() else f"{prefix}{out}"


def class_name(model_name: str, reserved: Sequence[str] = ()) -> str:
    """``text_cnn`` -> ``TextCnn``; never a keyword or a name the module itself uses."""
    check_model_name(model_name)
    name = camel(model_name, "Model")
    if keyword.iskeyword(name) or name in reserved:
        name += "Net"
    return name


def header(model: Model, target: str) -> list[str]:
    """Comment lines: provenance (the file name escaped by ascii()) and the shape table."""
    lines = [
        # the base name only: the output must not depend on where the file was compiled
        f"Generated by cnndsl {__version__} from {os.path.basename(model.filename)!a} "
        f"for {target}.",
        "Edit the .cnn file and compile again rather than editing this file.",
        f"Input {fmt_shape(model.input_shape)} (channels last, batch implied), "
        f"output {fmt_shape(model.output_shape)}.",
        f"{model.total_params:,} parameters ({model.trainable_params:,} trainable, "
        f"{model.non_trainable_params:,} non-trainable); "
        "`cnndsl summary` shows every layer.",
    ]
    return [f"# {line}".rstrip() for line in lines]


_ENV: jinja2.Environment | None = None


def render(template: str, **context: Any) -> str:
    """Render ``cnndsl/backends/templates/<template>`` (StrictUndefined: no silent blanks)."""
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
    text = resources.files("cnndsl.backends").joinpath(f"templates/{template}").read_text("utf-8")
    return _ENV.from_string(text).render(**context)


def def_lines(indent: int, name: str, params: list[str], returns: str | None) -> list[str]:
    """``def name(params) -> returns:`` as ruff format lays it out: on one line, else the
    parameters hugged on the next, else one a line with a trailing comma."""
    pad, inner = " " * indent, " " * (indent + 4)
    tail = f" -> {returns}:" if returns else ":"
    one = f"{pad}def {name}({', '.join(params)}){tail}"
    if len(one) <= LINE:
        return [one]
    hugged = f"{inner}{', '.join(params)}"
    if len(hugged) <= LINE:
        return [f"{pad}def {name}(", hugged, f"{pad}){tail}"]
    return [f"{pad}def {name}(", *(f"{inner}{p}," for p in params), f"{pad}){tail}"]
