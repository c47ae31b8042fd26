"""What the commands share: exit codes, reading a model and its weights, printing errors.

Only the standard library and cnndsl's parser are imported at module level, so that
every command module can use it without making ``check`` pay for NumPy.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TypeAlias

from .. import decode_source, parse, read_limited, read_source
from ..errors import CnnDslError, printable
from ..ir import Model

if TYPE_CHECKING:
    from ..weights import Weights

EXIT_OK, EXIT_MODEL, EXIT_USAGE = 0, 1, 2

# What add_subparsers() returns. argparse keeps the class private, so it is named once, here.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def seed(text: str) -> int:
    """An argparse type: a seed is a whole number >= 0 (NumPy refuses negative ones)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a number >= 0, not {value}")
    return value


def memory_size(text: str) -> int:
    """An argparse type for --max-memory: 500M, 4G, 1.5GiB (binary units)."""
    from ..budget import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_memory_option(p: argparse.ArgumentParser) -> None:
    """--max-memory, the same for every command that allocates arrays."""
    from ..budget import default_limit, human

    p.add_argument(
        "--max-memory",
        type=memory_size,
        default=default_limit(),
        metavar="SIZE",
        help="refuse a run estimated to need more memory than this: 500M, 4G... "
        f"(default {human(default_limit())}: 2 GiB or half the physical memory)",
    )


def read(path: str) -> tuple[str, str]:
    """The source text and the name to report it by; '-' is stdin."""
    if path == "-":
        return decode_source(read_limited(sys.stdin.buffer, "<stdin>"), "<stdin>"), "<stdin>"
    return read_source(path), path


def load(path: str) -> Model:
    """Read and check a model; any problem with it is a CnnDslError."""
    return parse(*read(path))


def load_with_source(path: str) -> tuple[Model, str]:
    """The model and its text, for errors found later that quote a layer's line."""
    text, name = read(path)
    return parse(text, name), text


def report(err: CnnDslError) -> int:
    """Print a model's errors to stderr; returns EXIT_MODEL, for ``return report(err)``."""
    print(err.render(), file=sys.stderr)
    return EXIT_MODEL


def cannot_write(path: str, exc: OSError) -> int:
    """The one wording for an output file that cannot be written; returns EXIT_MODEL."""
    print(f"{printable(path)}: error: cannot write: {exc.strerror or exc}", file=sys.stderr)
    return EXIT_MODEL


def weights_for(args: argparse.Namespace, model: Model, probe: bool = False) -> Weights:
    """For run and verify: the weights of --weights or else seeded ones — initial weights
    for ``run``, probe weights (every array non-trivial) for ``verify``. Call it once the
    budget has been checked: the model's weights are allocated here.

    NumPy is imported only here, when a command needs weights.
    """
    if args.weights:
        from ..weightfile import load_weights

        return load_weights(model, args.weights)
    from ..weights import init_weights, probe_weights

    return (probe_weights if probe else init_weights)(model, args.seed)


def weights_source(
    args: argparse.Namespace, probe: bool = False, model: Model | None = None
) -> str:
    """Where the weights came from, as the output names it: the file, the seed, or (for a
    run of a ``model`` whose every weight is written in its source) the source itself."""
    if args.weights:
        return str(args.weights)
    fixed = model is not None and all(w.literal is not None for n in model.nodes for w in n.weights)
    if fixed and not probe:
        return "the weights written in the model"
    what = "probe weights" if probe else "seeded weights"
    return f"{what} (seed {args.seed})"


def target(text: str) -> str:
    """An argparse type for --target: ``torch`` (the extra's name) is ``pytorch``."""
    return TARGET_ALIASES.get(text, text)


TARGET_ALIASES = {"torch": "pytorch", "tf": "keras", "tensorflow": "keras"}
