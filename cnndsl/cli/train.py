"""``train``: train a classifier written in cnndsl in PyTorch or Keras, on data from disk.

The frameworks, NumPy and scikit-learn are imported inside the command only. What training
means (logits, loss, optimizer, data) is docs/training.md; the work is
:mod:`cnndsl.training`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from ..errors import CnnDslError
from ..jsonout import strict_json
from .common import (
    EXIT_MODEL,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_memory_option,
    cannot_write,
    load_with_source,
    report,
    seed,
)

if TYPE_CHECKING:
    from ..ir import Model
    from ..training import Config, Head, Result
    from ..training.data import Dataset
    from ..weights import Weights


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
        return value

    return parse


def add_parsers(sub: Subparsers) -> None:
    from ..training.common import BATCH_SIZE, EPOCHS, LR

    t = sub.add_parser(
        "train",
        help="train a classifier in PyTorch or Keras; write canonical weights",
        description="Train the model's generated PyTorch or Keras code on the logits of its "
        "softmax head (cross-entropy on logits, Adam, a half-cosine learning rate), print "
        "loss and accuracy per epoch, and write canonical weights (.npz), the framework's "
        "own checkpoint and a training-curve PNG beside them. docs/training.md",
        epilog="example: cnndsl train examples/lenet5.cnn --framework pytorch --data digits "
        "-o lenet5.npz",
    )
    t.add_argument("model", metavar="MODEL", help="model file (its head: a softmax)")
    t.add_argument("--framework", "-f", required=True, choices=["pytorch", "keras"])
    t.add_argument(
        "--data",
        "-d",
        required=True,
        metavar="SOURCE",
        help="'digits' (scikit-learn's, bundled), FILE.npz (x, y) or DIR (a folder per class)",
    )
    t.add_argument("--epochs", type=_positive(int), default=EPOCHS, help=f"(default {EPOCHS})")
    t.add_argument(
        "--batch-size", type=_positive(int), default=BATCH_SIZE, help=f"(default {BATCH_SIZE})"
    )
    t.add_argument("--lr", type=_positive(float), default=LR, help=f"Adam's (default {LR})")
    t.add_argument("--seed", type=seed, default=0, help="initial weights and order (default 0)")
    t.add_argument("--weights", "-w", metavar="INIT.npz", help="start from these weights")
    t.add_argument(
        "--nproc",
        type=_positive(int),
        default=1,
        help="PyTorch processes under DistributedDataParallel (default 1)",
    )
    t.add_argument(
        "--threads", type=_positive(int), help="threads per process (default: the framework's)"
    )
    t.add_argument("-o", "--output", metavar="TRAINED.npz", help="default: MODEL_NAME.npz")
    t.add_argument("--json", action="store_true", help="print JSON (cnndsl.train/1)")
    t.set_defaults(func=cmd_train)
    add_filters_parser(sub)


def _usage(args: argparse.Namespace) -> str | None:
    if args.nproc > 1 and args.framework != "pytorch":
        return "--nproc runs PyTorch's DistributedDataParallel; use --framework pytorch"
    if args.batch_size % args.nproc:
        return f"--batch-size {args.batch_size} does not split over {args.nproc} processes"
    return None


def outputs(trained: str, framework: str) -> dict[str, str]:
    """The files written: canonical weights, the framework's checkpoint, the curve."""
    stem = trained[:-4] if trained.endswith(".npz") else trained
    ext = ".pt" if framework == "pytorch" else ".weights.h5"
    return {"weights": trained, "checkpoint": stem + ext, "curve": stem + ".curve.png"}


def cmd_train(args: argparse.Namespace) -> int:
    from ..frameworks import FrameworkMissing
    from ..training.data import DataMissing

    problem = _usage(args)
    if problem:
        print(f"cnndsl train: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _train(args)
    except CnnDslError as err:
        return report(err)
    except (FrameworkMissing, DataMissing) as exc:
        print(f"cnndsl train: error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except OSError as exc:
        return cannot_write(exc.filename or args.output or "output", exc)


def _train(args: argparse.Namespace) -> int:
    from ..frameworks import framework
    from ..safeio import check_target
    from ..training import Config, classifier_head, load_data, train

    model, text = load_with_source(args.model)
    head = classifier_head(model, text)
    files = outputs(args.output or f"{model.name}.npz", args.framework)
    for path in files.values():
        check_target(path)
    data = load_data(args.data, model, head.classes)
    _threads(framework(args.framework), args)
    cfg = Config(args.epochs, args.batch_size, args.lr, args.seed, args.nproc)
    init = _initial(args, model)
    if not args.json:
        _print_header(args, head, data, cfg)
    result = train(head, data, init, cfg, args.framework, echo=not args.json)
    _save(model, result, args.framework, files)
    if args.json:
        print(strict_json(_document(args, head, data, cfg, result, files)))
    else:
        for what, path in files.items():
            print(f"{what}: {path}")
        print(f"test accuracy: {result.test_accuracy:.3f}")
    return EXIT_OK


def _threads(fw: Any, args: argparse.Namespace) -> None:
    """--threads: PyTorch's intra-op threads (TensorFlow's too, if it has not started)."""
    if args.threads is None:
        return
    if args.framework == "pytorch":
        fw.set_num_threads(args.threads)
        return
    import contextlib
    import importlib

    tf: Any = importlib.import_module("tensorflow")

    # TensorFlow initialised already (in tests): it keeps its threads
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)


def _initial(args: argparse.Namespace, model: Model) -> Weights:
    if args.weights:
        from ..weightfile import load_weights

        return load_weights(model, args.weights)
    from ..weights import init_weights

    return init_weights(model, args.seed)


def _print_header(args: argparse.Namespace, head: Head, data: Dataset, cfg: Config) -> None:
    start = args.weights or f"initial weights (seed {cfg.seed})"
    print(
        f"{head.model.name}: {args.framework}, {head.classes} classes, logits of "
        f"{head.softmax_node} (cross-entropy on logits), from {start}"
    )
    print(
        f"data: {data.source}, {len(data.y_train)} training / {len(data.y_test)} test samples"
        + "".join(f"; {n}" for n in data.notes)
    )
    procs = f", {cfg.nproc} processes (DDP)" if cfg.nproc > 1 else ""
    print(f"{cfg.epochs} epochs, batch {cfg.batch_size}, Adam lr {cfg.lr}{procs}")


def _save(model: Model, result: Result, fw: str, files: dict[str, str]) -> None:
    from ..training.curve import write_curve
    from ..weights import save_weights
    from .weights import _save_for_framework

    save_weights(result.weights, files["weights"])
    _save_for_framework(model, result.weights, fw, files["checkpoint"])
    write_curve(result.history, f"{model.name} ({fw})", files["curve"])


def _document(
    args: argparse.Namespace,
    head: Head,
    data: Dataset,
    cfg: Config,
    result: Result,
    files: dict[str, str],
) -> dict[str, Any]:
    return {
        "schema": "cnndsl.train/1",
        "model": head.model.name,
        "framework": args.framework,
        "data": {
            "source": data.source,
            "train": len(data.y_train),
            "test": len(data.y_test),
            "notes": list(data.notes),
        },
        "config": vars(cfg),
        "history": [vars(e) for e in result.history],
        "test_accuracy": result.test_accuracy,
        "seconds": result.seconds,
        "rank_digests": result.rank_digests,
        "files": {k: os.fspath(v) for k, v in files.items()},
    }


def add_filters_parser(sub: Subparsers) -> None:
    f = sub.add_parser(
        "filters",
        help="draw each convolution's learned filters as a PNG grid",
        description="One PNG per kernel: a row per filter, a column per input channel, one "
        "grey scale per picture with mid-grey at 0 (needs cnndsl[viz]).",
        epilog="example: cnndsl filters examples/lenet5.cnn --weights lenet5.npz -o filters/",
    )
    f.add_argument("model", metavar="MODEL", help="model file")
    f.add_argument("--weights", "-w", metavar="W.npz", help="canonical weights (.npz)")
    f.add_argument("--seed", type=seed, default=0, help="seed for initial weights (default 0)")
    f.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write")
    add_memory_option(f)
    f.set_defaults(func=cmd_filters)


def cmd_filters(args: argparse.Namespace) -> int:
    from ..budget import check_weights
    from ..filters import check_filters, kernels, write_filters
    from ..safeio import make_dir
    from .common import weights_for

    try:
        model, text = load_with_source(args.model)
        if not kernels(model):
            print(f"{args.model}: no convolution kernels to draw", file=sys.stderr)
            return EXIT_MODEL
        check_weights(model, args.max_memory, "filters", text)  # before any is made
        check_filters(model, text)
        make_dir(args.output)
        paths = write_filters(model, weights_for(args, model), args.output)
    except CnnDslError as err:
        return report(err)
    except OSError as exc:
        return cannot_write(exc.filename or args.output, exc)
    print(f"filters: {len(paths)} PNG files in {args.output}/")
    for p in paths:
        print(f"  {p}")
    return EXIT_OK
