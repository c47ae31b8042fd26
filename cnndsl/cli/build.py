"""``compile``: generate Keras 3 or PyTorch source code, or an ONNX graph.

The code generator (and jinja2) is imported when the command runs, and neither
framework ever is: compiling works on a machine that has neither installed. The ONNX
target needs the ``onnx`` package (``cnndsl[onnx]``), imported only for it.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import parse
from ..errors import CnnDslError
from ..ir import Model
from .common import EXIT_OK, EXIT_USAGE, Subparsers, cannot_write, read, report, target


def add_parsers(sub: Subparsers) -> None:
    co = sub.add_parser(
        "compile",
        help="generate Keras 3 or PyTorch source code, or an ONNX graph",
        description="Write the model as standalone Keras 3 or PyTorch source code, to stdout "
        "or to -o FILE (written whole, then renamed into place; never imports either "
        "framework), or as an ONNX graph with its weights (-o FILE.onnx; --weights or "
        "seeded initial weights).",
        epilog="example: cnndsl compile examples/lenet5.cnn --target keras -o lenet5_keras.py\n"
        "         cnndsl compile examples/lenet5.cnn --target pytorch --train -o train.py\n"
        "         cnndsl compile examples/lenet5.cnn --target onnx -o lenet5.onnx",
    )
    co.add_argument("model", metavar="MODEL", nargs="?", help="model file ('-' reads stdin)")
    co.add_argument(
        "--target",
        "-t",
        type=target,
        choices=["keras", "pytorch", "onnx"],
        help="what to generate (torch: pytorch)",
    )
    co.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    co.add_argument("--list-targets", action="store_true", help="list the targets and exit")
    co.add_argument(
        "--train",
        action="store_true",
        help="pytorch/keras: a standalone training script (model, data, loop; DDP for "
        "torchrun) instead of the model alone; the model must end in a softmax over classes",
    )
    co.add_argument("--weights", "-w", metavar="W.npz", help="onnx: canonical weights to embed")
    co.add_argument("--seed", type=int, default=0, help="onnx: seed of the initial weights")
    co.add_argument("--opset", type=int, default=None, help="onnx: operator set (default 17)")
    co.add_argument(
        "--layout",
        choices=["nchw", "nhwc"],
        default="nchw",
        help="onnx: the graph's input and output layout (nhwc: channels-last, as the language)",
    )
    co.set_defaults(func=cmd_compile)


def cmd_compile(args: argparse.Namespace) -> int:
    """Generated code goes to stdout (pipeable); the one-line receipt for -o goes to stderr."""
    from ..backends import TARGETS

    if args.list_targets:
        for name, (_, what) in TARGETS.items():
            print(f"{name:<8} {what}")
        return EXIT_OK
    wrong = _wrong_usage(args)
    if wrong:
        print(f"cnndsl compile: error: {wrong}", file=sys.stderr)
        return EXIT_USAGE
    if args.target == "onnx":
        from .onnx_export import compile_onnx

        return compile_onnx(args)
    try:
        model, code = _generate(args.model, args.target, args.train, args.output)
    except CnnDslError as err:
        return report(err)
    if args.output is None:
        sys.stdout.write(code)
        return EXIT_OK
    from ..safeio import write_text

    try:
        write_text(args.output, code)
    except OSError as exc:
        return cannot_write(args.output, exc)
    from ..backends import describe

    what = f"a {args.target} training script" if args.train else describe(code, args.target)
    print(f"{args.output}: {what} for {model.name}", file=sys.stderr)
    return EXIT_OK


def _wrong_usage(args: argparse.Namespace) -> str | None:
    if args.model is None or args.target is None:
        return "give MODEL and --target (or --list-targets)"
    if args.train and args.target not in ("pytorch", "keras"):
        return "--train needs --target pytorch or keras"
    return None


def _generate(path: str, target: str, train: bool, output: str | None) -> tuple[Model, str]:
    """Parse and emit; an error from the emitter gets the source text, to quote the line."""
    from ..backends import emit

    text = ""
    try:
        text, name = read(path)
        model = parse(text, name)
        if train:
            from ..backends.scripts import emit_train

            return model, emit_train(model, target, output and os.path.basename(output))
        return model, emit(model, target)
    except CnnDslError as err:
        if err.source is None:
            err.source = text
        raise
