"""Reading a canonical ``.npz`` weight file without trusting it, and the one list of what can
be wrong with weights (missing, extra, mis-shaped, not numbers).

A ``.npz`` is a zip of ``.npy`` members; ``numpy.load`` would inflate and allocate whatever a
member declares. Here every member's name and header come first (a few hundred bytes
each, no NumPy needed), then only the members the model needs are read, never beyond
what they declare: a 1 MB zip inflating to 1 GB, a member declaring 2^31 floats or a
``.npy`` renamed ``.npz`` is an error that costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .errors import CnnDslError, Diagnostic
from .ir import Model, Node
from .layers import Weight, fmt_shape
from .npyfile import Header, NpzError, npy_headers, read_member
from .safeio import open_regular, why_unreadable

if TYPE_CHECKING:
    from .weights import Weights

#: problems listed at most for one file; the rest are counted
MAX_PROBLEMS = 20


def fail(path: str, messages: list[str]) -> CnnDslError:
    if len(messages) > MAX_PROBLEMS:
        rest = len(messages) - MAX_PROBLEMS + 1
        messages = [*messages[: MAX_PROBLEMS - 1], f"... and {rest:,} more problems"]
    return CnnDslError([Diagnostic(m, None) for m in messages], path, "")


def load_weights(model: Model, path: str | os.PathLike[str]) -> Weights:
    """Read a ``.npz`` and check it fits ``model`` exactly, in two steps so that a hostile
    file costs nothing: every member's name and ``.npy`` header (shape, dtype) first,
    then the data of the members the model needs — never more bytes than they declare,
    and nothing at all of a member the model has no use for (no pickles, ever)."""
    path = os.fspath(path)
    with _open_npz(path) as zf:
        headers = npy_headers(zf, set(expected(model)))
        problems = weight_problems(model, headers)
        if problems:
            raise fail(path, problems)
        try:
            flat = {key: read_member(zf, key, h) for key, h in headers.items()}
        except NpzError as exc:
            raise fail(path, [str(exc)]) from None
    from .weights import check_weights

    return check_weights(model, flat, path)


@contextlib.contextmanager
def _open_npz(path: str) -> Iterator[zipfile.ZipFile]:
    """The zip, open; a single ``.npy`` (renamed) or anything else is a clear error."""
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise fail(path, [why_unreadable(exc, "a weight file")]) from None
    with fh:
        if fh.read(6) == b"\x93NUMPY":
            raise fail(path, ["not a .npz weight file: it holds a single .npy array"])
        fh.seek(0)
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise fail(path, [f"not a readable .npz weight file ({exc})"]) from None
        with zf:
            yield zf


def expected(model: Model) -> dict[str, tuple[Node, Weight]]:
    return {f"{n.name}/{w.name}": (n, w) for n in model.nodes for w in n.weights}


def weight_problems(model: Model, found: Mapping[str, Any]) -> list[str]:
    """Every missing, extra, mis-shaped or unreadable array of ``found``.

    A value is an array, anything with ``shape`` and ``dtype`` (a ``.npy`` header, checked
    before its data is read), or a string saying why it could not be read.
    """
    wanted = expected(model)
    problems = [
        p
        for key, (node, w) in wanted.items()
        if (p := _problem(model, node, w, key, found.get(key))) is not None
    ]
    for key in sorted(set(found) - set(wanted)):
        known = key.split("/", 1)[0] in model
        why = "that layer has no such weight" if known else "the model has no such layer"
        problems.append(f"unexpected array {key}: {why}")
    return problems


def _problem(model: Model, node: Node, w: Weight, key: str, value: Any) -> str | None:
    """What is wrong with one weight's array (or header), if anything."""
    where = f"{model.filename}:{node.span.line}"
    if value is None:
        return f"missing {key} ({fmt_shape(w.shape)}) for the {node.keyword} layer at {where}"
    if isinstance(value, str):
        return f"{key}: {value}"
    kind, name, shape = _described(value)
    if kind not in "fiu":
        return f"{key} holds {name} values; weights must be numbers"
    if shape != w.shape:
        got = fmt_shape(shape) or "a scalar"
        return (
            f"{key} has shape {got}, but the {node.keyword} layer at {where} needs "
            f"{fmt_shape(w.shape)}"
        )
    return None


def _described(value: Any) -> tuple[str, str, tuple[int, ...]]:
    """(dtype kind, dtype name, shape) of an array or of a .npy header."""
    if isinstance(value, Header):
        return value.kind, value.type_name, value.shape
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        import numpy as np

        value = np.asarray(value)
    return value.dtype.kind, str(value.dtype), tuple(value.shape)
