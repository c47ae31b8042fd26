"""``verify``: NumPy, Keras, PyTorch and ONNX Runtime on the same weights and inputs must
agree.

The comparison itself is in cnndsl.verify; this module is its command line: the
progress display, and the report as text or JSON. NumPy and the frameworks are
imported only when the command runs.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import read_source
from ..errors import CnnDslError, printable
from ..ir import Model
from ..jsonout import strict_json
from ..layers import fmt_shape
from .common import (
    EXIT_MODEL,
    EXIT_OK,
    Subparsers,
    add_memory_option,
    load_with_source,
    report,
    seed,
    weights_for,
    weights_source,
)

if TYPE_CHECKING:
    from ..verify import Report
    from ..weights import Weights


def add_parsers(sub: Subparsers) -> None:
    v = sub.add_parser(
        "verify",
        help="prove NumPy, Keras, PyTorch and ONNX Runtime compute the same function",
        description="Run the NumPy interpreter, the generated Keras and PyTorch code and the "
        "exported ONNX graph in ONNX Runtime (each when installed) on "
        "the same weights and random inputs; print max abs / max rel error per pair, PASS or "
        "FAIL, and on a failure the first layer that diverges. Exit 1 on disagreement. "
        "Without --weights, seeded probe weights: random kernels, biases, batchnorm "
        "statistics and every other array, so that no conversion bug hides behind a zero.",
        epilog="example: cnndsl verify examples/lenet5.cnn --samples 8",
    )
    v.add_argument("model", metavar="MODEL", help="model file")
    v.add_argument("--weights", "-w", metavar="W.npz", help="canonical weights (.npz)")
    v.add_argument("--seed", type=seed, default=0, help="seed for weights and inputs")
    v.add_argument("--samples", type=_samples, default=4, help="random inputs (default 4)")
    v.add_argument("--json", action="store_true", help="print JSON (cnndsl.verify/1)")
    v.add_argument(
        "--serial",
        action="store_true",
        help="run the frameworks one after another in this process (by default, on Linux, "
        "Keras runs in a second process meanwhile: TensorFlow takes longest to load)",
    )
    add_memory_option(v)
    v.set_defaults(func=cmd_verify)


def _samples(text: str) -> int:
    """An argparse type: at least one sample (how many more, the memory budget says)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--samples must be at least 1, not {n}")
    return n


class _Progress:
    """A one-line progress display on a terminal, shown once a step takes over a second."""

    def __init__(self, label: str) -> None:
        import time

        self.time: Callable[[], float] = time.monotonic
        self.start = self.time()
        self.label = label
        self.shown = False
        self.tty = sys.stderr.isatty()

    def __call__(self, step: str) -> None:
        if self.tty and (self.shown or self.time() - self.start > 1.0):
            self.shown = True
            sys.stderr.write(f"\r\033[K{self.label}: {step}...")
            sys.stderr.flush()

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 1 when the backends disagree, so CI can gate on it."""
    from ..budget import F32, check_run

    try:
        model, text = load_with_source(args.model)
        # the inputs are drawn in float64, then made float32; NumPy, Keras and PyTorch each
        # hold the weights; the frameworks' own activations are not counted
        drawn = 2 * args.samples * math.prod(model.input_shape) * F32
        check_run(
            model,
            args.samples,
            args.max_memory,
            copies=3,
            extra=drawn,
            what="verify",
            source=text,
        )
        weights = weights_for(args, model, probe=True)
    except CnnDslError as err:
        return report(err)
    result = _compare_backends(args, model, weights)
    _print_refusals(args.model, result)
    if args.json:
        _print_verify_json(args, model, result)
    else:
        _print_verify_text(args, model, result)
    return EXIT_OK if result.passed else EXIT_MODEL


def _compare_backends(args: argparse.Namespace, model: Model, weights: Weights) -> Report:
    """Random inputs from --seed, so a failure reproduces with the same command line."""
    import numpy as np

    from ..verify import verify

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.samples, *model.input_shape)).astype(np.float32)
    progress = _Progress(f"verify {model.name}")
    try:
        return verify(model, weights, x, progress, background=not args.serial)
    finally:
        progress.done()


def _print_verify_json(args: argparse.Namespace, model: Model, result: Report) -> None:
    from ..verify import ATOL, RTOL

    doc = {
        "schema": "cnndsl.verify/1",
        "model": model.name,
        "weights": weights_source(args, probe=True),
        "samples": args.samples,
        "tolerance": {"rtol": RTOL, "atol": ATOL},
        "compared": result.compared,
        "missing": result.missing,
        "refused": {t: err.to_dict() for t, err in result.refused.items()},
        "pairs": [p.to_dict() for p in result.pairs],
        "diverges_at": {
            t: {"layer": n.name, "kind": n.keyword, "line": n.span.line}
            for t, n in result.diverges_at.items()
        },
        "passed": result.passed,
    }
    print(strict_json(doc))


def _print_verify_text(args: argparse.Namespace, model: Model, result: Report) -> None:
    from ..verify import ATOL, RTOL

    n = args.samples
    print(
        f"verify {printable(model.filename)}: {weights_source(args, probe=True)}, {n} random input"
        f"{'s' * (n > 1)} of {fmt_shape(model.input_shape)}"
    )
    for p in result.pairs:
        verdict = "PASS" if p.passed else "FAIL"
        print(
            f"  {p.a:<7} vs {p.b:<7}  max abs {p.max_abs:.2e}  max rel {p.max_rel:.2e}  {verdict}"
        )
    for why in result.missing.values():
        print(f"  skipped: {why}")
    for target in result.refused:
        print(f"  not compared: {target}, whose code generator refuses the model (see stderr)")
    print(f"  tolerance: |a - b| <= {ATOL:g} * max(1, max|b|) + {RTOL:g} * |b|, element by element")
    _print_divergences(args.model, model, result)
    if len(result.compared) < 2:
        print("nothing to compare: install a framework (pip install 'cnndsl[keras,torch,onnx]')")
    print("PASS" if result.passed else "FAIL")


def _print_refusals(path: str, result: Report) -> None:
    """compile's error, with the source line it quotes, for each target that refused."""
    for err in result.refused.values():
        if err.source is None:
            err.source = "\n".join(_source_lines(path))
        print(err.render(), file=sys.stderr)


def _print_divergences(path: str, model: Model, result: Report) -> None:
    """Each failing framework's first bad layer, as a compiler error at its source line."""
    lines = _source_lines(path)
    for target, node in result.diverges_at.items():
        print(
            f"{printable(model.filename)}:{node.span.line}:{node.span.column}: error: {target} "
            f"first diverges from numpy at layer '{node.name}' ({node.keyword})"
        )
        if 0 < node.span.line <= len(lines):
            print(f" {node.span.line} | {printable(lines[node.span.line - 1])}")


def _source_lines(path: str) -> list[str]:
    try:
        return read_source(path).splitlines()
    except CnnDslError:
        return []
