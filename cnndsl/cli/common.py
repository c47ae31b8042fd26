"""What the commands share: exit codes, reading a model and its weights, printing errors.

Only the standard library and cnndsl's parser are imported at module level, so that
every command module can use it without making ``check`` pay for NumPy.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TypeAlias

from .. import decode_source, parse, read_limited, read_source
from ..errors import CnnDslError
from ..ir import Model

if TYPE_CHECKING:
    from ..weights import Weights

EXIT_OK, EXIT_MODEL, EXIT_USAGE = 0, 1, 2

# What add_subparsers() returns. argparse keeps the class private, so it is named once, here.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def read(path: str) -> tuple[str, str]:
    """The source text and the name to report it by; '-' is stdin."""
    if path == "-":
        return decode_source(read_limited(sys.stdin.buffer, "<stdin>"), "<stdin>"), "<stdin>"
    return read_source(path), path


def load(path: str) -> Model:
    """Read and check a model; any problem with it is a CnnDslError."""
    return parse(*read(path))


def report(err: CnnDslError) -> int:
    """Print a model's errors to stderr; returns EXIT_MODEL, for ``return report(err)``."""
    print(err.render(), file=sys.stderr)
    return EXIT_MODEL


def cannot_write(path: str, exc: OSError) -> int:
    """The one wording for an output file that cannot be written; returns EXIT_MODEL."""
    print(f"{path}: error: cannot write: {exc.strerror or exc}", file=sys.stderr)
    return EXIT_MODEL


def model_and_weights(args: argparse.Namespace, probe: bool = False) -> tuple[Model, Weights]:
    """For run and verify: the model, with the weights of --weights or else seeded ones —
    initial weights for ``run``, probe weights (every array non-trivial) for ``verify``.

    NumPy is imported only here, when a command needs weights.
    """
    from ..weights import init_weights, load_weights, probe_weights

    model = load(args.model)
    if args.weights:
        return model, load_weights(model, args.weights)
    return model, (probe_weights if probe else init_weights)(model, args.seed)


def weights_source(args: argparse.Namespace, probe: bool = False) -> str:
    """Where the weights came from, as the output names it."""
    what = "probe weights" if probe else "seeded weights"
    source: str = args.weights or f"{what} (seed {args.seed})"
    return source
