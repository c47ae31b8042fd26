"""The ``cnndsl`` command. Exit status: 0 ok, 1 error in a model or its data, 2 wrong usage.

Only the standard library and cnndsl itself are imported on the way to ``check`` and
``summary``: no TensorFlow, no torch, not even NumPy (``run`` loads it) or Lark (only a
syntax error needs it). Each command group lives in its own module and adds its own
subcommands; this one only assembles the parser and dispatches. A command line that
starts with a command imports and builds only that command's group (:data:`COMMANDS`);
anything else (``--help``, a typo) gets the whole parser.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .. import __version__
from .common import EXIT_MODEL, EXIT_OK, EXIT_USAGE

__all__ = [
    "CHECK_SCHEMA",
    "COMMANDS",
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

#: the command groups, in the order --help lists them
GROUPS = ("inspect", "teach", "build", "run", "verify", "weights", "tools", "train")
#: each command's group (tests/test_cli.py checks it against the whole parser)
COMMANDS = {
    "check": "inspect",
    "summary": "inspect",
    "compile": "build",
    "run": "run",
    "verify": "verify",
    "export-weights": "weights",
    "import-weights": "weights",
    "init-weights": "weights",
    "explain": "teach",
    "help": "teach",
    "diagram": "tools",
    "fmt": "tools",
    "train": "train",
    "filters": "train",
}
#: the names this package exports from its group modules, loaded when first used
_LAZY = {
    "CHECK_SCHEMA": "inspect",
    "cmd_check": "inspect",
    "cmd_summary": "inspect",
    "cmd_compile": "build",
    "cmd_run": "run",
    "cmd_verify": "verify",
    "cmd_export_weights": "weights",
    "cmd_import_weights": "weights",
    "cmd_init_weights": "weights",
    "cmd_train": "train",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def terminal_width() -> int:
    """``shutil.get_terminal_size().columns``, which argparse asks for at every
    ``add_argument``, without importing shutil (4 ms of a cold check)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
        return 80


def _sized(cls: type[argparse.HelpFormatter]) -> Callable[..., argparse.HelpFormatter]:
    return lambda prog: cls(prog, width=terminal_width() - 2)


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with a hint, the same for every subcommand."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["formatter_class"] = _sized(kwargs.get("formatter_class", argparse.HelpFormatter))
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        print(f"try '{self.prog} --help'", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser(groups: Sequence[str] = GROUPS) -> argparse.ArgumentParser:
    """The whole command line, or the commands of ``groups`` only; --help lists the
    subcommands in the order of :data:`GROUPS`."""
    p = _Parser(
        prog="cnndsl",
        description="A small text language for CNNs: check shapes, count parameters, run models, "
        "generate Keras and PyTorch code.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"cnndsl {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for group in groups:
        importlib.import_module(f".{group}", __name__).add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Returns the exit status instead of exiting, so tests can call it in-process."""
    argv = sys.argv[1:] if argv is None else list(argv)
    group = COMMANDS.get(argv[0]) if argv else None
    parser = build_parser((group,) if group else GROUPS)
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
