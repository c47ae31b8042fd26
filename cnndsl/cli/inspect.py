"""``check`` and ``summary``: read models and report on them, nothing more.

These are the commands run most often (editors, CI, pre-commit), so they import
neither NumPy nor jinja2: the parser and the standard library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from ..columns import COLUMNS, summary
from ..errors import CnnDslError, Diagnostic, printable, render_diagnostic
from ..ir import Model
from ..layers import fmt_shape
from .common import EXIT_MODEL, EXIT_OK, EXIT_USAGE, Subparsers, load, load_with_source, report

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
    add_lint_options(c)
    c.set_defaults(func=cmd_check)

    s = sub.add_parser(
        "summary",
        help="print a layer table: output shapes, parameters, MACs",
        description="Print a table like Keras' summary(): each layer with its output "
        "shape, parameters and multiply-accumulates, then the totals.",
        epilog="example: cnndsl summary examples/lenet5.cnn",
    )
    s.add_argument("files", nargs="+", metavar="FILE", help="model files ('-' reads stdin)")
    s.add_argument("--json", action="store_true", help="print the model as JSON (cnndsl.model/1)")
    s.add_argument(
        "--depth",
        type=_depth,
        metavar="N",
        help="fold block instances and stages nested deeper than N into one row each "
        "(1: the model's top level), like torchinfo's depth",
    )
    s.add_argument(
        "--columns",
        type=_columns,
        default=[],
        metavar="COLS",
        help="extra columns, comma-separated: " + ", ".join(COLUMNS),
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


def _columns(text: str) -> list[str]:
    """An argparse type: ``kernel,stride``, each a key of COLUMNS."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in COLUMNS]
    if bad:
        raise argparse.ArgumentTypeError(f"no column {bad[0]!r}; columns: {', '.join(COLUMNS)}")
    return names


def add_lint_options(p: argparse.ArgumentParser) -> None:
    """--ignore and --strict: which warnings (cnndsl.lints) to show, and how."""
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="CODE",
        help="do not report this warning (W401; repeat it, or W401,W501); "
        "`cnndsl help lints` lists them",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings as errors (exit 1)")


def _json(doc: Any) -> str:
    """JSON out; ``json`` loads only when asked for (a cold check does without it)."""
    from ..jsonout import strict_json

    return strict_json(doc)


def _codes(args: argparse.Namespace) -> list[str]:
    return [c.strip() for arg in args.ignore for c in arg.split(",") if c.strip()]


def cmd_check(args: argparse.Namespace) -> int:
    """Check every file, even after a bad one: one run reports all of them."""
    from ..lints import LINTS

    unknown = [c for c in _codes(args) if c.upper() not in LINTS]
    if unknown:
        print(f"cnndsl check: error: --ignore {unknown[0]}: no such warning", file=sys.stderr)
        print("try 'cnndsl help lints'", file=sys.stderr)
        return EXIT_USAGE
    results = [_check_file(path, args) for path in args.files]
    if args.json:
        print(_json({"schema": CHECK_SCHEMA, "files": results}))
    return EXIT_OK if all(r["ok"] for r in results) else EXIT_MODEL


def _check_file(path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Check one file; print its line (text mode) and return its JSON entry."""
    as_json = args.json
    try:
        model, source = load_with_source(path)
        warnings = _warnings(model, source, args)
        if args.strict and warnings:
            raise CnnDslError(warnings, model.filename, source)
    except CnnDslError as err:
        if as_json:
            return {"ok": False, **err.to_dict()}
        report(err)
        n = len(err.diagnostics)
        print(f"{printable(err.filename)}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return {"ok": False}
    if as_json:
        return {**_check_entry(model), "warnings": [w.to_dict() for w in warnings]}
    lines = source.splitlines()
    for w in warnings:
        print(render_diagnostic(w, model.filename, lines), file=sys.stderr)
    n = len(warnings)
    print(
        f"{printable(model.filename)}: ok: {model.name}, {fmt_shape(model.input_shape)} -> "
        f"{fmt_shape(model.output_shape)}, {model.total_params:,} params "
        f"({model.trainable_params:,} trainable, "
        f"{model.non_trainable_params:,} non-trainable)"
        + (f", {n} warning{'s' * (n != 1)}" if n else "")
    )
    return {"ok": True}


def _warnings(model: Model, source: str, args: argparse.Namespace) -> list[Diagnostic]:
    """The model's lints, minus the ignored ones; errors under --strict."""
    from ..lints import lint

    found = lint(model, source, _codes(args))
    if args.strict:
        return [dataclasses.replace(w, severity="error") for w in found]
    return found


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
    """Each model's layer table, a blank line apart; with --json, one document per file
    (errors as JSON too, for tools that read stdout). Exit 1 if any file has errors."""
    status = EXIT_OK
    for i, path in enumerate(args.files):
        if i and not args.json:
            print()
        status = max(status, _summary_file(path, args))
    return status


def _summary_file(path: str, args: argparse.Namespace) -> int:
    try:
        model = load(path)
    except CnnDslError as err:
        if not args.json:
            return report(err)
        print(_json({"schema": "cnndsl.errors/1", **err.to_dict()}))
        return EXIT_MODEL
    if args.json:
        print(_json(model.to_dict()))
    else:
        print(summary(model, args.columns, args.depth))
    return EXIT_OK
