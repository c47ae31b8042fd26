"""cnndsl: a small text language for convolutional networks.

>>> import cnndsl
>>> m = cnndsl.parse("input 28x28x1; conv 8 3x3 relu same; flatten; dense 10")
>>> m.output_shape, m.total_params
((10,), 62810)

Importing cnndsl never imports TensorFlow or torch.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable
from typing import BinaryIO

from .check import check as _check
from .errors import CnnDslError, Diagnostic, Span
from .ir import SCHEMA, Model, Node
from .layers import REGISTRY, Layer, Weight
from .limits import SourceLimit, check_size, source_limits
from .parser import normalize_newlines, parse_statements

__all__ = [
    "REGISTRY",
    "SCHEMA",
    "CnnDslError",
    "Diagnostic",
    "Layer",
    "Model",
    "Node",
    "Span",
    "Weight",
    "lint",
    "load",
    "parse",
]
__version__ = "0.1.0"


def parse(text: str, filename: str = "<string>") -> Model:
    """Parse and check a model; raise :class:`CnnDslError` listing every problem found."""
    text = normalize_newlines(text)
    if "\x00" in text:
        raise CnnDslError(
            [Diagnostic("this is a binary file, not a cnndsl model", Span.point(1, 1))],
            filename,
            "",
        )
    # Parsing allocates many small acyclic objects; the cyclic collector would
    # rescan the growing tree again and again (10k statements: ~15% of the time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        statements, syntax = parse_statements(text)
        return _check(statements, syntax, filename, text)
    finally:
        if gc_was_enabled:
            gc.enable()


def lint(model: Model, source: str = "", ignore: Iterable[str] = ()) -> list[Diagnostic]:
    """The model's warnings (severity ``"warning"``, each with a stable ``code`` such as
    ``W401``: docs/lints.md); ``source``, the model's text, is read for
    ``# cnndsl: ignore[CODE]`` comments, ``ignore`` lists codes to leave out."""
    from .lints import lint as _lint

    return _lint(model, source, ignore)


def load(path: str | os.PathLike[str]) -> Model:
    """Read a ``.cnn`` file (UTF-8) and :func:`parse` it; unreadable files raise CnnDslError."""
    name = os.fspath(path)
    return parse(read_source(name), name)


def read_source(path: str) -> str:
    """The file's text, or a CnnDslError that says why it cannot be read."""

    def fail(msg: str, hint: str | None = None) -> CnnDslError:
        return CnnDslError([Diagnostic(msg, None, hint)], path, "")

    try:
        with open(path, "rb") as fh:
            data = read_limited(fh, path)
    except FileNotFoundError:
        near = f"{path}.cnn"
        hint = f"did you mean {near}?" if os.path.isfile(near) else None
        raise fail("no such file", hint) from None
    except IsADirectoryError:
        raise fail("is a directory, not a model file", _models_in(path)) from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    return decode_source(data, path)


def _models_in(directory: str) -> str | None:
    """A hint naming the directory's model files (a few), or None when it has none."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".cnn"))
    except OSError:
        return None
    paths = [os.path.join(directory, n) for n in names]
    if len(paths) == 1:
        return f"did you mean {paths[0]}?"
    if paths:
        more = ", \N{HORIZONTAL ELLIPSIS}" if len(paths) > 3 else ""
        return f"name a model file in it: {', '.join(paths[:3])}{more}"
    return None


def read_limited(stream: BinaryIO, name: str) -> bytes:
    """The stream's bytes, if there are no more than the source limit: one more is read
    to know, so /dev/zero or an endless pipe cost 2 MB, not all the memory there is."""
    try:
        limit = source_limits().source
        data = stream.read(limit + 1)
        check_size(len(data), limit, "the file" if name != "<stdin>" else "the input")
    except SourceLimit as exc:
        raise CnnDslError([exc.diagnostic], name, "") from None
    return data


def decode_source(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        msg = f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded"
        if b"\x00" in data[:1024]:
            msg = "this is a binary file, not a cnndsl model"
        raise CnnDslError([Diagnostic(msg, Span.point(line, col))], path, "") from None
