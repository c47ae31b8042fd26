"""``compile --target onnx``: the graph with its weights, checked by ONNX's own checker."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import CnnDslError
from .common import EXIT_MODEL, EXIT_OK, EXIT_USAGE, cannot_write, load, report


def compile_onnx(args: argparse.Namespace) -> int:
    """A binary file: -o is required (a terminal is no place for protobuf)."""
    from ..backends.onnx import DEFAULT_OPSET, MIN_OPSET

    opset = DEFAULT_OPSET if args.opset is None else args.opset
    if args.output is None or opset < MIN_OPSET:
        why = "give -o FILE.onnx" if args.output is None else f"--opset must be >= {MIN_OPSET}"
        print(f"cnndsl compile: error: {why}", file=sys.stderr)
        return EXIT_USAGE
    try:
        proto, name = _export(args, opset)
    except CnnDslError as err:
        return report(err)
    except ModuleNotFoundError:
        print(
            "cnndsl compile: error: the onnx target needs pip install 'cnndsl[onnx]'",
            file=sys.stderr,
        )
        return EXIT_MODEL
    from ..safeio import write_output

    data = proto.SerializeToString()

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    try:
        write_output(args.output, write, suffix=".onnx")
    except OSError as exc:
        return cannot_write(args.output, exc)
    layout = "" if args.layout == "nchw" else f", {args.layout} input and output"
    print(
        f"{args.output}: ONNX opset {opset} graph with weights for {name}{layout}", file=sys.stderr
    )
    return EXIT_OK


def _export(args: argparse.Namespace, opset: int) -> tuple[Any, str]:
    from ..backends.onnx import to_onnx
    from ..weights import init_weights, load_weights

    model = load(args.model)
    weights = load_weights(model, args.weights) if args.weights else init_weights(model, args.seed)
    return to_onnx(model, weights, opset, args.layout), model.name
