"""``check`` and ``summary``: read models and report on them, nothing more.

These are the commands run most often (editors, CI, pre-commit), so they import
neither NumPy nor jinja2: the parser and the standard library only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import CnnDslError, printable
from ..ir import Model
from ..jsonout import strict_json
from ..layers import fmt_shape
from .common import EXIT_MODEL, EXIT_OK, Subparsers, load, report

CHECK_SCHEMA = "cnndsl.check/1"


def add_parsers(sub: Subparsers) -> None:
    c = sub.add_parser(
        "check",
        help="check models: shapes and parameter counts, one line per file",
        description="Parse and check each model; print one line per file, errors to stderr.",
        epilog="example: cnndsl check examples/lenet5.cnn examples/vgg16.cnn",
    )
    c.add_argument("files", nargs="+", metavar="FILE", help="model files ('-' reads stdin)")
    c.add_argument("--json", action="store_true", help=f"print JSON ({CHECK_SCHEMA})")
    c.set_defaults(func=cmd_check)

    s = sub.add_parser(
        "summary",
        help="print a layer table: output shapes, parameters, MACs",
        description="Print a table like Keras' summary(): each layer with its output "
        "shape, parameters and multiply-accumulates, then the totals.",
        epilog="example: cnndsl summary examples/lenet5.cnn",
    )
    s.add_argument("file", metavar="FILE", help="model file ('-' reads stdin)")
    s.add_argument("--json", action="store_true", help="print the model as JSON (cnndsl.model/1)")
    s.add_argument(
        "--depth",
        type=_depth,
        metavar="N",
        help="fold block instances and stages nested deeper than N into one row each "
        "(1: the model's top level), like torchinfo's depth",
    )
    s.set_defaults(func=cmd_summary)


def _depth(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 up, got {text!r}")
    return n


def cmd_check(args: argparse.Namespace) -> int:
    """Check every file, even after a bad one: one run reports all of them."""
    results = [_check_file(path, args.json) for path in args.files]
    if args.json:
        print(strict_json({"schema": CHECK_SCHEMA, "files": results}))
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_MODEL


def _check_file(path: str, as_json: bool) -> dict[str, Any]:
    """Check one file; print its line (text mode) and return its JSON entry."""
    try:
        model = load(path)
    except CnnDslError as err:
        if as_json:
            return {"ok": False, **err.to_dict()}
        report(err)
        n = len(err.diagnostics)
        print(f"{printable(err.filename)}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return {"ok": False}
    if as_json:
        return _check_entry(model)
    print(
        f"{printable(model.filename)}: ok: {model.name}, {fmt_shape(model.input_shape)} -> "
        f"{fmt_shape(model.output_shape)}, {model.total_params:,} params "
        f"({model.trainable_params:,} trainable, "
        f"{model.non_trainable_params:,} non-trainable)"
    )
    return {"ok": True}


def _check_entry(model: Model) -> dict[str, Any]:
    """A checked model in the cnndsl.check/1 schema (docs/json.md)."""
    return {
        "file": model.filename,
        "ok": True,
        "model": model.name,
        "input_shape": list(model.input_shape),
        "output_shape": list(model.output_shape),
        "layers": len(model.nodes),
        "params": {
            "total": model.total_params,
            "trainable": model.trainable_params,
            "non_trainable": model.non_trainable_params,
        },
        "macs": model.total_macs,
    }


def cmd_summary(args: argparse.Namespace) -> int:
    """One model's layer table; with --json, errors are JSON too, for tools that read stdout."""
    try:
        model = load(args.file)
    except CnnDslError as err:
        if not args.json:
            return report(err)
        print(strict_json({"schema": "cnndsl.errors/1", **err.to_dict()}))
        return EXIT_MODEL
    if args.json:
        print(strict_json(model.to_dict()))
    else:
        print(model.summary(args.depth))
    return EXIT_OK
