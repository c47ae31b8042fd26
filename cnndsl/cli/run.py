"""``run``: one forward pass of the NumPy interpreter, printed, with optional feature maps.

NumPy and the interpreter are imported inside the functions, never at module level:
``import cnndsl.cli`` has to stay light for ``check``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import CnnDslError
from ..ir import Model
from ..jsonout import strict_json
from ..layers import fmt_shape
from .common import (
    EXIT_OK,
    Subparsers,
    add_memory_option,
    cannot_write,
    load_with_source,
    report,
    seed,
    weights_for,
    weights_source,
)

if TYPE_CHECKING:
    import numpy.typing as npt

Top5 = list[list[tuple[int, float]]]  # per sample: (class, probability), likeliest first
SHOWN = 16  # samples printed as text; --json prints all


def add_parsers(sub: Subparsers) -> None:
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
    r.add_argument("--seed", type=seed, default=0, help="seed for initial weights (default 0)")
    r.add_argument(
        "--feature-maps",
        metavar="DIR",
        help="write one PNG per layer, a tile per channel (needs cnndsl[viz])",
    )
    r.add_argument("--json", action="store_true", help="print JSON (cnndsl.run/1)")
    add_memory_option(r)
    r.set_defaults(func=cmd_run)


@dataclass
class _Run:
    """One forward pass: what went in, what came out, which feature maps were drawn."""

    model: Model
    x: npt.NDArray[Any]
    notes: list[str]
    y: npt.NDArray[Any]
    maps: list[str]


def cmd_run(args: argparse.Namespace) -> int:
    """Run the NumPy interpreter once and print the output, or the top 5 of a classifier."""
    try:
        result = _forward(args)
    except CnnDslError as err:
        return report(err)
    except OSError as exc:  # only the feature maps are written
        return cannot_write(exc.filename or args.feature_maps, exc)
    top = _top5(result.model, result.y)
    if args.json:
        _print_run_json(args, result, top)
    else:
        _print_run_text(args, result, top)
    return EXIT_OK


def _forward(args: argparse.Namespace) -> _Run:
    """Check everything that can be checked before allocating anything: the input's header
    against the model, the memory the run will need against --max-memory, the feature-map
    directory. Every layer's output is kept only when feature maps need them."""
    from ..budget import check_run
    from ..inputs import open_input
    from ..safeio import make_dir

    model, text = load_with_source(args.model)
    inp = open_input(args.input, model)
    keep = bool(args.feature_maps)
    check_run(model, inp.batch, args.max_memory, keep_all=keep, extra=inp.raw_bytes, source=text)
    if keep:
        from ..viz import check_pixels

        check_pixels(model, text)
        make_dir(args.feature_maps)
    weights = weights_for(args, model)
    import numpy as np  # only now: a refused run has not paid for it

    from ..backends.numpy import forward, forward_all

    x, notes = inp.read()
    with np.errstate(all="ignore"):  # an overflow is seen in the output, not warned about
        if not keep:
            return _Run(model, x, notes, forward(model, weights, x), [])
        from ..viz import write_feature_maps

        acts = forward_all(model, weights, x)
        y = acts[model.outputs[-1]]
        return _Run(model, x, notes, y, write_feature_maps(model, acts, args.feature_maps))


def _softmax_head(model: Model) -> bool:
    last = model.output_node.layer
    fn = getattr(last, "fn", None) or getattr(last, "activation", None)
    return fn == "softmax" and len(model.output_shape) == 1


def _top5(model: Model, y: npt.NDArray[Any]) -> Top5 | None:
    """Class rankings, only for a model that ends in a softmax over classes."""
    if not _softmax_head(model):
        return None
    import numpy as np

    order = np.argsort(-y, axis=1, kind="stable")[:, :5]
    return [[(int(c), float(row[c])) for c in idx] for idx, row in zip(order, y)]


def _print_run_json(args: argparse.Namespace, r: _Run, top: Top5 | None) -> None:
    doc = {
        "schema": "cnndsl.run/1",
        "model": r.model.name,
        "weights": weights_source(args, model=r.model),
        "input": {"file": args.input, "shape": list(r.x.shape), "notes": r.notes},
        "output_shape": list(r.y.shape),
        "outputs": r.y.tolist(),
        "top5": None if top is None else [[{"class": c, "p": p} for c, p in t] for t in top],
        "feature_maps": r.maps,
    }
    print(strict_json(doc))


def _print_run_text(args: argparse.Namespace, r: _Run, top: Top5 | None) -> None:
    import numpy as np

    x, y = r.x, r.y
    print(
        f"{r.model.name}: input {args.input} ({fmt_shape(x.shape[1:])}, batch {x.shape[0]}), "
        f"{weights_source(args, model=r.model)}"
    )
    for note in r.notes:
        print(f"  note: {note}")
    print(f"output: {fmt_shape(y.shape[1:])} per sample")
    with np.printoptions(precision=4, suppress=True, linewidth=100, threshold=64):
        for i, row in enumerate(y[:SHOWN]):
            print(_sample_line(i, row, top))
    if len(y) > SHOWN:
        print(f"  ... {len(y) - SHOWN} more samples (use --json for all)")
    if r.maps:
        print(f"feature maps: {len(r.maps)} PNG files in {os.path.join(args.feature_maps, '')}")


def _sample_line(i: int, row: npt.NDArray[Any], top: Top5 | None) -> str:
    """Top 5 for a classifier, every value for a short output, else min/max/mean."""
    if top is not None:
        best = "  ".join(f"{c}: {p:.4f}" for c, p in top[i])
        return f"  sample {i} top-5 classes  {best}"
    if row.size <= 32:
        return f"  sample {i}: {row}"
    return (
        f"  sample {i}: min {row.min():.4g}, max {row.max():.4g}, "
        f"mean {row.mean():.4g} (--json prints every value)"
    )
