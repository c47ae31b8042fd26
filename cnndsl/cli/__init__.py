"""The ``cnndsl`` command. Exit status: 0 ok, 1 error in a model or its data, 2 wrong usage.

Only the standard library, lark and cnndsl itself are imported on the way to
``check`` and ``summary``: no TensorFlow, no torch, not even NumPy (``run`` loads it).
Each command group lives in its own module and adds its own subcommands; this one
only assembles the parser and dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from . import build, inspect, run, teach, tools, train, verify, weights
from .build import cmd_compile
from .common import EXIT_MODEL, EXIT_OK, EXIT_USAGE
from .inspect import CHECK_SCHEMA, cmd_check, cmd_summary
from .run import cmd_run
from .train import cmd_train
from .verify import cmd_verify
from .weights import cmd_export_weights, cmd_import_weights, cmd_init_weights

__all__ = [
    "CHECK_SCHEMA",
    "EPILOG",
    "EXIT_MODEL",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "cmd_check",
    "cmd_compile",
    "cmd_export_weights",
    "cmd_import_weights",
    "cmd_init_weights",
    "cmd_run",
    "cmd_summary",
    "cmd_train",
    "cmd_verify",
    "main",
]

EPILOG = """\
examples:
  cnndsl check examples/lenet5.cnn            one line per file: ok, shapes, parameters
  cnndsl check models/*.cnn --json            machine-readable, schema cnndsl.check/1
  cnndsl summary examples/vgg16.cnn           layer table: output shapes, params, MACs
  cnndsl explain examples/lenet5.cnn          the arithmetic of every layer
  echo 'input 8x8x1; conv 4 3x3' | cnndsl summary -
  cnndsl compile examples/lenet5.cnn --target pytorch -o lenet5.py
  cnndsl run examples/edge_detect.cnn --input examples/shapes.png --feature-maps out/
  cnndsl init-weights examples/lenet5.cnn -o lenet5.npz --seed 1
  cnndsl verify examples/lenet5.cnn           NumPy, Keras and PyTorch agree?
  cnndsl diagram examples/resnet18.cnn -o resnet18.svg
  cnndsl fmt --check models/*.cnn             exit 1 if a file is not formatted
  cnndsl train examples/lenet5.cnn --framework pytorch --data digits -o lenet5.npz

exit status: 0 ok, 1 an error in a model, 2 wrong usage.
reference: cnndsl help (layers and their options: cnndsl help conv; warnings: cnndsl help lints)
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with a hint, the same for every subcommand."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        print(f"try '{self.prog} --help'", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; --help lists the subcommands in the order added here."""
    p = _Parser(
        prog="cnndsl",
        description="A small text language for CNNs: check shapes, count parameters, run models, "
        "generate Keras and PyTorch code.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"cnndsl {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for group in (inspect, teach, build, run, verify, weights, tools, train):
        group.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Returns the exit status instead of exiting, so tests can call it in-process."""
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
