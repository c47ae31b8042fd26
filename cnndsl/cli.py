"""The ``cnndsl`` command. Exit status: 0 ok, 1 error in a model or its data, 2 wrong usage.

Only the standard library, lark and cnndsl itself are imported on the way to
``check`` and ``summary``: no TensorFlow, no torch, not even NumPy (``run`` loads it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from . import __version__, decode_source, parse, read_source
from .errors import CnnDslError, Diagnostic
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
  cnndsl compile examples/lenet5.cnn --target pytorch -o lenet5.py
  cnndsl run examples/edge_detect.cnn --input examples/shapes.png --feature-maps out/
  cnndsl init-weights examples/lenet5.cnn -o lenet5.npz --seed 1
  cnndsl verify examples/lenet5.cnn           NumPy, Keras and PyTorch agree?

exit status: 0 ok, 1 an error in a model, 2 wrong usage.
docs: docs/language.md (the language), docs/json.md (the JSON schemas)
"""


def _read(path: str) -> tuple[str, str]:
    """The source text and the name to report it by; '-' is stdin."""
    if path == "-":
        return decode_source(sys.stdin.buffer.read(), "<stdin>"), "<stdin>"
    return read_source(path), path


def _load(path: str) -> Model:
    return parse(*_read(path))


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


def _model_and_weights(args: argparse.Namespace) -> tuple[Model, dict[str, Any]]:
    from .weights import init_weights, load_weights

    model = _load(args.model)
    if args.weights:
        return model, load_weights(model, args.weights)
    return model, init_weights(model, args.seed)


def _softmax_head(model: Model) -> bool:
    last = model.output_node.layer
    fn = getattr(last, "fn", None) or getattr(last, "activation", None)
    return fn == "softmax" and len(model.output_shape) == 1


def cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    from .backends.numpy import forward, forward_all
    from .inputs import load_input

    try:
        model, weights = _model_and_weights(args)
        x, notes = load_input(args.input, model)
        if args.feature_maps:
            from .viz import write_feature_maps

            acts = forward_all(model, weights, x)
            y = acts[model.outputs[-1]]
            maps = write_feature_maps(model, acts, args.feature_maps)
        else:
            y = forward(model, weights, x)
            maps = []
    except CnnDslError as err:
        _report(err, sys.stderr)
        return EXIT_MODEL
    top = None
    if _softmax_head(model):
        order = np.argsort(-y, axis=1, kind="stable")[:, :5]
        top = [[(int(c), float(row[c])) for c in idx] for idx, row in zip(order, y)]
    source = f"seeded weights (seed {args.seed})" if not args.weights else args.weights
    if args.json:
        doc = {
            "schema": "cnndsl.run/1",
            "model": model.name,
            "weights": source,
            "input": {"file": args.input, "shape": list(x.shape), "notes": notes},
            "output_shape": list(y.shape),
            "outputs": y.tolist(),
            "top5": None if top is None else [[{"class": c, "p": p} for c, p in t] for t in top],
            "feature_maps": maps,
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print(
        f"{model.name}: input {args.input} ({fmt_shape(x.shape[1:])}, batch {x.shape[0]}), {source}"
    )
    for note in notes:
        print(f"  note: {note}")
    print(f"output: {fmt_shape(y.shape[1:])} per sample")
    with np.printoptions(precision=4, suppress=True, linewidth=100, threshold=64):
        for i, row in enumerate(y[:16]):
            if top is not None:
                best = "  ".join(f"{c}: {p:.4f}" for c, p in top[i])
                print(f"  sample {i} top-5 classes  {best}")
            elif row.size <= 32:
                print(f"  sample {i}: {row}")
            else:
                print(
                    f"  sample {i}: min {row.min():.4g}, max {row.max():.4g}, "
                    f"mean {row.mean():.4g} (--json prints every value)"
                )
    if len(y) > 16:
        print(f"  ... {len(y) - 16} more samples (use --json for all)")
    if maps:
        print(f"feature maps: {len(maps)} PNG files in {args.feature_maps}/")
    return EXIT_OK


def cmd_init_weights(args: argparse.Namespace) -> int:
    from .weights import init_weights, save_weights

    try:
        model = _load(args.model)
        weights = init_weights(model, args.seed)
        save_weights(weights, args.output)
    except CnnDslError as err:
        _report(err, sys.stderr)
        return EXIT_MODEL
    except OSError as exc:
        print(f"{args.output}: error: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_MODEL
    n = sum(a.size for ws in weights.values() for a in ws.values())
    print(f"{args.output}: {n:,} weights for {model.name} (seed {args.seed})")
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from .backends import TARGETS, emit

    if args.list_targets:
        for name, (_, what) in TARGETS.items():
            print(f"{name:<8} {what}")
        return EXIT_OK
    if args.model is None or args.target is None:
        print("cnndsl compile: error: give MODEL and --target (or --list-targets)", file=sys.stderr)
        return EXIT_USAGE
    text = ""
    try:
        text, name = _read(args.model)
        model = parse(text, name)
        code = emit(model, args.target)
    except CnnDslError as err:
        if err.source is None:
            err.source = text
        _report(err, sys.stderr)
        return EXIT_MODEL
    if args.output is None:
        sys.stdout.write(code)
        return EXIT_OK
    try:
        _write_atomic(args.output, code)
    except OSError as exc:
        print(f"{args.output}: error: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_MODEL
    print(f"{args.output}: {TARGETS[args.target][1]} for {model.name}", file=sys.stderr)
    return EXIT_OK


def _write_atomic(path: str, text: str) -> None:
    """Write beside the target, then rename: a reader never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _Progress:
    """A one-line progress display on a terminal, shown once a step takes over a second."""

    def __init__(self, label: str) -> None:
        import time

        self.time = time.monotonic
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
    import numpy as np

    from .verify import ATOL, RTOL, verify

    try:
        model, weights = _model_and_weights(args)
    except CnnDslError as err:
        _report(err, sys.stderr)
        return EXIT_MODEL
    if args.samples < 1:
        print("cnndsl verify: error: --samples must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.samples, *model.input_shape)).astype(np.float32)
    progress = _Progress(f"verify {model.name}")
    try:
        report = verify(model, weights, x, progress)
    finally:
        progress.done()
    source = args.weights or f"seeded weights (seed {args.seed})"
    lines = _source_lines(args.model)
    if args.json:
        doc = {
            "schema": "cnndsl.verify/1",
            "model": model.name,
            "weights": source,
            "samples": args.samples,
            "tolerance": {"rtol": RTOL, "atol": ATOL},
            "compared": report.compared,
            "missing": report.missing,
            "pairs": [p.to_dict() for p in report.pairs],
            "diverges_at": {
                t: {"layer": n.name, "kind": n.keyword, "line": n.span.line}
                for t, n in report.diverges_at.items()
            },
            "passed": report.passed,
        }
        print(json.dumps(doc, indent=2))
    else:
        print(
            f"verify {model.filename}: {source}, {args.samples} random input"
            f"{'s' * (args.samples > 1)} of {fmt_shape(model.input_shape)}"
        )
        for p in report.pairs:
            verdict = "PASS" if p.passed else "FAIL"
            print(
                f"  {p.a:<7} vs {p.b:<7}  max abs {p.max_abs:.2e}  max rel {p.max_rel:.2e}"
                f"  {verdict}"
            )
        for why in report.missing.values():
            print(f"  skipped: {why}")
        print(
            f"  tolerance: |a - b| <= {ATOL:g} * max(1, max|b|) + {RTOL:g} * |b|, "
            "element by element"
        )
        for target, node in report.diverges_at.items():
            print(
                f"{model.filename}:{node.span.line}:{node.span.column}: error: {target} "
                f"first diverges from numpy at layer '{node.name}' ({node.keyword})"
            )
            if 0 < node.span.line <= len(lines):
                print(f" {node.span.line} | {lines[node.span.line - 1]}")
        if len(report.compared) < 2:
            print("nothing to compare: install a framework (pip install 'cnndsl[keras,torch]')")
        print("PASS" if report.passed else "FAIL")
    return EXIT_OK if report.passed else EXIT_MODEL


def _source_lines(path: str) -> list[str]:
    try:
        return read_source(path).splitlines()
    except CnnDslError:
        return []


def cmd_export_weights(args: argparse.Namespace) -> int:
    from .frameworks import FrameworkMissing, framework, keras_model, torch_module
    from .weights import load_weights

    try:
        model = _load(args.model)
        weights = load_weights(model, args.weights)
        out = args.output
        directory = os.path.dirname(os.path.abspath(out))
        if args.target == "keras":
            if not out.endswith(".weights.h5"):
                print(f"{out}: error: Keras weight files must end in .weights.h5", file=sys.stderr)
                return EXIT_USAGE
            built = keras_model(model, weights)
            tmp = os.path.join(directory, f".tmp-{os.getpid()}.weights.h5")
            built.save_weights(tmp)
        else:
            torch = framework("pytorch")
            net = torch_module(model, weights)
            tmp = os.path.join(directory, f".tmp-{os.getpid()}-{os.path.basename(out)}")
            torch.save(net.state_dict(), tmp)
        os.replace(tmp, out)
    except CnnDslError as err:
        _report(err, sys.stderr)
        return EXIT_MODEL
    except FrameworkMissing as exc:
        print(f"cnndsl export-weights: error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except OSError as exc:
        print(f"{args.output}: error: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_MODEL
    what = "model.load_weights()" if args.target == "keras" else "load_state_dict(torch.load())"
    print(f"{out}: {model.name} weights for {args.target}, for {what}")
    return EXIT_OK


def cmd_import_weights(args: argparse.Namespace) -> int:
    from .frameworks import (
        FrameworkMissing,
        framework,
        keras_model,
        keras_weights,
        torch_module,
        torch_weights,
    )
    from .weights import check_weights, save_weights

    try:
        model = _load(args.model)
        if not os.path.isfile(args.file):
            raise CnnDslError([Diagnostic("no such file", None)], args.file, "")
        try:
            if args.source == "keras":
                built = keras_model(model)
                built.load_weights(args.file)
                weights = keras_weights(model, built)
            else:
                torch = framework("pytorch")
                net = torch_module(model)
                net.load_state_dict(torch.load(args.file, weights_only=True))
                weights = torch_weights(model, net)
        except (ValueError, RuntimeError, KeyError, OSError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CnnDslError(
                [Diagnostic(f"does not fit {model.name}: {message}", None)], args.file, ""
            ) from None
        weights = check_weights(
            model, {f"{n}/{k}": a for n, ws in weights.items() for k, a in ws.items()}, args.file
        )
        save_weights(weights, args.output)
    except CnnDslError as err:
        _report(err, sys.stderr)
        return EXIT_MODEL
    except FrameworkMissing as exc:
        print(f"cnndsl import-weights: error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    n = sum(a.size for ws in weights.values() for a in ws.values())
    print(f"{args.output}: {n:,} canonical weights for {model.name} from {args.source}")
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
        description="A small text language for CNNs: check shapes, count parameters, run models, "
        "generate Keras and PyTorch code.",
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

    co = sub.add_parser(
        "compile",
        help="generate Keras 3 or PyTorch source code",
        description="Write the model as standalone Keras 3 or PyTorch source code, to stdout "
        "or atomically to -o FILE. Never imports either framework.",
        epilog="example: cnndsl compile examples/lenet5.cnn --target keras -o lenet5_keras.py",
    )
    co.add_argument("model", metavar="MODEL", nargs="?", help="model file ('-' reads stdin)")
    co.add_argument("--target", "-t", choices=["keras", "pytorch"], help="what to generate")
    co.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    co.add_argument("--list-targets", action="store_true", help="list the targets and exit")
    co.set_defaults(func=cmd_compile)

    r = sub.add_parser(
        "run",
        help="run a model on NumPy: print its output, draw feature maps",
        description="Run the model's forward pass with the NumPy interpreter on an input "
        "from a .npy array or an image (resized to the input shape, scaled to [0, 1]). "
        "Weights come from --weights or, by default, are initialised from --seed.",
        epilog="example: cnndsl run examples/edge_detect.cnn --input examples/shapes.png "
        "--feature-maps out/",
    )
    r.add_argument("model", metavar="MODEL", help="model file")
    r.add_argument(
        "--input",
        "-i",
        required=True,
        metavar="FILE",
        help=".npy (H x W x C or N x H x W x C) or an image (needs cnndsl[viz])",
    )
    r.add_argument("--weights", "-w", metavar="W.npz", help="canonical weights (.npz)")
    r.add_argument("--seed", type=int, default=0, help="seed for initial weights (default 0)")
    r.add_argument(
        "--feature-maps",
        metavar="DIR",
        help="write one PNG per layer, a tile per channel (needs cnndsl[viz])",
    )
    r.add_argument("--json", action="store_true", help="print JSON (cnndsl.run/1)")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser(
        "verify",
        help="prove NumPy, Keras and PyTorch compute the same function",
        description="Run the NumPy interpreter and the generated Keras and PyTorch code on "
        "the same weights and random inputs; print max abs / max rel error per pair, PASS or "
        "FAIL, and on a failure the first layer that diverges. Exit 1 on disagreement.",
        epilog="example: cnndsl verify examples/lenet5.cnn --samples 8",
    )
    v.add_argument("model", metavar="MODEL", help="model file")
    v.add_argument("--weights", "-w", metavar="W.npz", help="canonical weights (.npz)")
    v.add_argument("--seed", type=int, default=0, help="seed for weights and inputs")
    v.add_argument("--samples", type=int, default=4, help="random inputs (default 4)")
    v.add_argument("--json", action="store_true", help="print JSON (cnndsl.verify/1)")
    v.set_defaults(func=cmd_verify)

    ex = sub.add_parser(
        "export-weights",
        help="convert canonical .npz weights for the generated Keras or PyTorch code",
        description="Write canonical weights in a framework's own format: a PyTorch "
        "state_dict (torch.save) for the generated module's load_state_dict, or a Keras "
        ".weights.h5 for the generated model's load_weights.",
        epilog="example: cnndsl export-weights w.npz --model examples/lenet5.cnn "
        "--target pytorch -o lenet5.pt",
    )
    ex.add_argument("weights", metavar="W.npz", help="canonical weights")
    ex.add_argument("--model", "-m", required=True, metavar="MODEL", help="model file")
    ex.add_argument("--target", "-t", required=True, choices=["keras", "pytorch"])
    ex.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    ex.set_defaults(func=cmd_export_weights)

    im = sub.add_parser(
        "import-weights",
        help="convert Keras or PyTorch weights of the generated code back to canonical .npz",
        description="Read a .weights.h5 (Keras) or a state_dict file (PyTorch) made for the "
        "generated code, and write canonical weights, the reverse of export-weights.",
        epilog="example: cnndsl import-weights lenet5.pt --model examples/lenet5.cnn "
        "--source pytorch -o w.npz",
    )
    im.add_argument("file", metavar="FILE", help="the framework's weight file")
    im.add_argument("--model", "-m", required=True, metavar="MODEL", help="model file")
    im.add_argument("--source", "-s", required=True, choices=["keras", "pytorch"])
    im.add_argument("-o", "--output", required=True, metavar="W.npz", help="file to write")
    im.set_defaults(func=cmd_import_weights)

    iw = sub.add_parser(
        "init-weights",
        help="write seeded initial weights to a .npz file",
        description="Glorot-uniform kernels, zero biases, batchnorm gamma=1 beta=0 mean=0 "
        "var=1; fixed weights= literals as written. Deterministic for a seed.",
        epilog="example: cnndsl init-weights examples/lenet5.cnn -o lenet5.npz --seed 1",
    )
    iw.add_argument("model", metavar="MODEL", help="model file")
    iw.add_argument("-o", "--output", required=True, metavar="W.npz", help="file to write")
    iw.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    iw.set_defaults(func=cmd_init_weights)
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
