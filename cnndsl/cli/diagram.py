"""``diagram``: draw a model as SVG (laid out here, no Graphviz), Mermaid or DOT."""

from __future__ import annotations

import argparse
import sys

from ..errors import CnnDslError
from .common import EXIT_OK, Subparsers, cannot_write, load_with_source, report


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a depth is a number >= 0, not {value}")
    return value


def add_parser(sub: Subparsers) -> None:
    d = sub.add_parser(
        "diagram",
        help="draw the model: SVG (no Graphviz needed), Mermaid or DOT",
        description="Draw the model's graph, one box per layer with its name, kind, options, "
        "output shape and parameters, a row per topological depth, branches side by side. "
        "SVG is laid out by cnndsl itself; Mermaid and DOT are text for other tools.",
        epilog="example: cnndsl diagram examples/resnet18.cnn -o resnet18.svg\n"
        "         cnndsl diagram examples/unet_small.cnn --format mermaid",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("model", metavar="MODEL", help="model file ('-' reads stdin)")
    d.add_argument("--format", "-f", choices=["svg", "mermaid", "dot"], default="svg")
    d.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    d.add_argument(
        "--depth",
        type=_depth,
        default=0,
        metavar="N",
        help="fold blocks and stages nested deeper than N into one box (0: every layer)",
    )
    d.set_defaults(func=cmd_diagram)


def cmd_diagram(args: argparse.Namespace) -> int:
    from ..diagram import diagram

    try:
        model, source = load_with_source(args.model)
    except CnnDslError as err:
        return report(err)
    try:
        text = diagram(model, args.format, args.depth)
    except CnnDslError as err:  # too much to draw: shown at its line
        return report(CnnDslError(err.diagnostics, err.filename, source))
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    from ..safeio import write_text

    try:
        write_text(args.output, text)
    except OSError as exc:
        return cannot_write(args.output, exc)
    print(f"{args.output}: {args.format} diagram of {model.name}", file=sys.stderr)
    return EXIT_OK
