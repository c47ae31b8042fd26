"""The ``cnndsl`` command. Exit status: 0 ok, 1 error in a model or its data, 2 wrong usage.

Only the standard library, lark and cnndsl itself are imported on the way to
``check`` and ``summary``: no TensorFlow, no torch, not even NumPy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from . import __version__, decode_source, parse, read_source
from .errors import CnnDslError
from .ir import Model
from .layers import fmt_shape

EXIT_OK, EXIT_MODEL, EXIT_USAGE = 0, 1, 2
CHECK_SCHEMA = "cnndsl.check/1"

EPILOG = """\
examples:
  cnndsl check examples/lenet5.cnn            one line per file: ok, shapes, parameters
  cnndsl check models/*.cnn --json            machine-readable, schema cnndsl.check/1
  cnndsl summary examples/vgg16.cnn           layer table: output shapes, params, MACs
  echo 'input 8x8x1; conv 4 3x3' | cnndsl summary -

exit status: 0 ok, 1 an error in a model, 2 wrong usage.
docs: docs/language.md (the language), docs/json.md (the JSON schemas)
"""


def _load(path: str) -> Model:
    if path == "-":
        return parse(decode_source(sys.stdin.buffer.read(), "<stdin>"), "<stdin>")
    return parse(read_source(path), path)


def _report(err: CnnDslError, stream: TextIO) -> None:
    print(err.render(), file=stream)


def cmd_check(args: argparse.Namespace) -> int:
    status = EXIT_OK
    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            model = _load(path)
        except CnnDslError as err:
            status = EXIT_MODEL
            if args.json:
                results.append({"ok": False, **err.to_dict()})
            else:
                _report(err, sys.stderr)
                n = len(err.diagnostics)
                print(f"{err.filename}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
            continue
        if args.json:
            results.append(
                {
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
            )
        else:
            print(
                f"{model.filename}: ok: {model.name}, {fmt_shape(model.input_shape)} -> "
                f"{fmt_shape(model.output_shape)}, {model.total_params:,} params "
                f"({model.trainable_params:,} trainable, "
                f"{model.non_trainable_params:,} non-trainable)"
            )
    if args.json:
        print(json.dumps({"schema": CHECK_SCHEMA, "files": results}, indent=2))
    return status


def cmd_summary(args: argparse.Namespace) -> int:
    try:
        model = _load(args.file)
    except CnnDslError as err:
        if args.json:
            print(json.dumps({"schema": "cnndsl.errors/1", **err.to_dict()}, indent=2))
        else:
            _report(err, sys.stderr)
        return EXIT_MODEL
    if args.json:
        print(json.dumps(model.to_dict(), indent=2))
    else:
        print(model.summary())
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        print(f"try '{self.prog} --help'", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="cnndsl",
        description="A small text language for CNNs: check shapes, count parameters.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"cnndsl {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

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
    s.set_defaults(func=cmd_summary)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
