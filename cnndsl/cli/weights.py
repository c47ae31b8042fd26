"""``init-weights``, ``export-weights``, ``import-weights``: weight files in and out.

Canonical ``.npz`` weights are cnndsl's own format; export and import convert them
to and from the files the generated Keras and PyTorch code loads. The frameworks
are imported only inside these commands.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import CnnDslError, Diagnostic
from ..ir import Model
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
    target,
)

if TYPE_CHECKING:
    from ..weights import Weights


def add_parsers(sub: Subparsers) -> None:
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
    ex.add_argument("--target", "-t", required=True, type=target, choices=["keras", "pytorch"])
    ex.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    add_memory_option(ex)
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
    im.add_argument("--source", "-s", required=True, type=target, choices=["keras", "pytorch"])
    im.add_argument("-o", "--output", required=True, metavar="W.npz", help="file to write")
    add_memory_option(im)
    im.set_defaults(func=cmd_import_weights)

    iw = sub.add_parser(
        "init-weights",
        help="write seeded initial weights to a .npz file",
        description="Glorot-uniform kernels, zero biases, batchnorm gamma=1 beta=0 mean=0 "
        "var=1, prelu alpha=0.25; fixed weights= literals as written. Deterministic for a "
        "seed.",
        epilog="example: cnndsl init-weights examples/lenet5.cnn -o lenet5.npz --seed 1",
    )
    iw.add_argument("model", metavar="MODEL", help="model file")
    iw.add_argument("-o", "--output", required=True, metavar="W.npz", help="file to write")
    iw.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    add_memory_option(iw)
    iw.set_defaults(func=cmd_init_weights)


def _count(weights: Weights) -> int:
    return sum(int(a.size) for ws in weights.values() for a in ws.values())


def cmd_init_weights(args: argparse.Namespace) -> int:
    """Seeded weights written to a file, so every later run can start from the same ones."""
    from ..budget import check_weights
    from ..safeio import check_target

    try:
        check_target(args.output)
        model, text = load_with_source(args.model)
        check_weights(model, args.max_memory, "init-weights", text)
        from ..weights import init_weights, save_weights  # NumPy: not before the budget

        weights = init_weights(model, args.seed)
        save_weights(weights, args.output)
    except CnnDslError as err:
        return report(err)
    except OSError as exc:
        return cannot_write(args.output, exc)
    print(f"{args.output}: {_count(weights):,} weights for {model.name} (seed {args.seed})")
    return EXIT_OK


def cmd_export_weights(args: argparse.Namespace) -> int:
    """Canonical weights in the file format the generated code's framework loads."""
    from ..budget import check_weights
    from ..frameworks import FrameworkMissing
    from ..safeio import check_target
    from ..weightfile import load_weights

    out: str = args.output
    try:
        check_target(out)
        model, text = load_with_source(args.model)
        check_weights(model, args.max_memory // 2, "export-weights (twice the weights)", text)
        weights = load_weights(model, args.weights)
        if args.target == "keras" and not out.endswith(".weights.h5"):
            print(f"{out}: error: Keras weight files must end in .weights.h5", file=sys.stderr)
            return EXIT_USAGE
        _save_for_framework(model, weights, args.target, out)
    except CnnDslError as err:
        return report(err)
    except FrameworkMissing as exc:
        print(f"cnndsl export-weights: error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except OSError as exc:
        return cannot_write(out, exc)
    what = "model.load_weights()" if args.target == "keras" else "load_state_dict(torch.load())"
    print(f"{out}: {model.name} weights for {args.target}, for {what}")
    return EXIT_OK


def _save_for_framework(model: Model, weights: Weights, target: str, out: str) -> None:
    """Written safely (:func:`cnndsl.safeio.write_output`): a reader never sees half a
    file. Keras insists on the .weights.h5 suffix, hence the temporary name ending in it."""
    from ..frameworks import framework, keras_model, torch_module
    from ..safeio import write_output

    if target == "keras":
        built = keras_model(model, weights)
        write_output(out, built.save_weights, suffix=".weights.h5")
    else:
        torch = framework("pytorch")
        state = torch_module(model, weights).state_dict()
        write_output(out, lambda tmp: torch.save(state, tmp))


def cmd_import_weights(args: argparse.Namespace) -> int:
    """The reverse of export-weights; the result is validated like any canonical file."""
    from ..budget import check_weights as within_budget
    from ..frameworks import FrameworkMissing
    from ..safeio import check_target
    from ..weights import check_weights, save_weights

    try:
        check_target(args.output)
        model, text = load_with_source(args.model)
        within_budget(model, args.max_memory // 2, "import-weights (twice the weights)", text)
        weights = _load_from_framework(model, args.source, args.file)
        flat = {f"{n}/{k}": a for n, ws in weights.items() for k, a in ws.items()}
        weights = check_weights(model, flat, args.file)
        save_weights(weights, args.output)
    except CnnDslError as err:
        return report(err)
    except FrameworkMissing as exc:
        print(f"cnndsl import-weights: error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except OSError as exc:
        return cannot_write(args.output, exc)
    print(
        f"{args.output}: {_count(weights):,} canonical weights for {model.name} from {args.source}"
    )
    return EXIT_OK


def _load_from_framework(model: Model, source: str, path: str) -> Weights:
    """Load ``path`` into the generated code and read the weights back out."""
    from ..frameworks import framework, keras_model, keras_weights, torch_module, torch_weights
    from ..safeio import open_regular, why_unreadable

    try:
        fh = open_regular(path)
    except OSError as exc:
        why = why_unreadable(exc, "a weight file")
        raise CnnDslError([Diagnostic(why, None)], path, "") from None
    try:
        with fh:
            if source == "keras":
                built = keras_model(model)
                built.load_weights(path)
                return keras_weights(model, built)
            torch = framework("pytorch")
            net = torch_module(model)
            net.load_state_dict(torch.load(fh, weights_only=True))
            return torch_weights(model, net)
    except (ValueError, RuntimeError, KeyError, OSError) as exc:
        raise _does_not_fit(model, path, exc) from None


def _does_not_fit(model: Model, path: str, exc: Exception) -> CnnDslError:
    """A framework's complaint about a file, cut to its first line and pinned on the file."""
    text = str(exc).strip()
    message = text.splitlines()[0] if text else type(exc).__name__
    return CnnDslError([Diagnostic(f"does not fit {model.name}: {message}", None)], path, "")
