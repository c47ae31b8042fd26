"""``explain`` (the arithmetic of a model, layer by layer) and ``help`` (the reference
that ships with the package: every layer and its options, every warning)."""

from __future__ import annotations

import argparse
import sys

from ..errors import CnnDslError, printable
from .common import EXIT_MODEL, EXIT_OK, EXIT_USAGE, Subparsers, load_with_source, report


def add_parsers(sub: Subparsers) -> None:
    e = sub.add_parser(
        "explain",
        help="show the arithmetic of each layer: shapes, parameters, MACs, receptive field",
        description="For each layer: the output size worked out axis by axis "
        "((28 + 1 + 1 - 3) // 1 + 1 = 28), the parameter count (3*3*1*32 + 32 = 320), the "
        "multiply-accumulates, and the receptive field with its jump.",
        epilog="example: cnndsl explain examples/lenet5.cnn --layer conv_2",
    )
    e.add_argument("file", metavar="FILE", help="model file ('-' reads stdin)")
    e.add_argument("--layer", metavar="NAME", help="explain this layer only (a name from summary)")
    e.set_defaults(func=cmd_explain)

    h = sub.add_parser(
        "help",
        help="the reference: layers and their options, warnings",
        description="Print the reference that ships with cnndsl.",
        epilog="topics: layers, lints, a layer keyword (conv), a warning code (W401)",
    )
    h.add_argument("topic", nargs="?", metavar="TOPIC", help="layers, lints, a keyword or a code")
    h.set_defaults(func=cmd_help)


def cmd_explain(args: argparse.Namespace) -> int:
    from ..explain import explain

    try:
        model, source = load_with_source(args.file)
    except CnnDslError as err:
        return report(err)
    if args.layer is not None and args.layer not in model:
        names = ", ".join(n.name for n in model.nodes)
        print(
            f"{printable(model.filename)}: error: no layer named {printable(args.layer)!r}; "
            f"the layers: {names}",
            file=sys.stderr,
        )
        return EXIT_MODEL
    print(explain(model, source, args.layer))
    return EXIT_OK


def cmd_help(args: argparse.Namespace) -> int:
    from ..reference import TOPICS, topic

    text = topic(args.topic)
    if text is None:
        print(f"cnndsl help: error: no topic {printable(args.topic)!r}", file=sys.stderr)
        print(f"topics: {TOPICS}", file=sys.stderr)
        return EXIT_USAGE
    print(text)
    return EXIT_OK
