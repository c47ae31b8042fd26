"""Standalone training scripts: ``cnndsl compile MODEL --target pytorch|keras --train``.

One readable file that runs without cnndsl installed: the generated model (the ordinary
:func:`~cnndsl.backends.emit` output, its imports merged with the script's), the data
loading of ``cnndsl train`` (digits resized as :mod:`cnndsl.training.data` does, a
``.npz``, a folder of images per class), the loop with cross-entropy on logits, and for
PyTorch the DistributedDataParallel setup ``torchrun`` needs. The templates are
``templates/train_data.py.j2`` (shared) and ``templates/<target>_train.py.j2``.
"""

from __future__ import annotations

import re

from ..errors import CnnDslError, Diagnostic
from ..ir import Model
from . import emit
from .codegen import class_name, render

#: imports each script needs besides the model's
IMPORTS = {
    "pytorch": [
        "import argparse",
        "import math",
        "import os",
        "import numpy as np",
        "import torch",
        "import torch.distributed as dist",
        "from torch import nn",
        "from torch.utils.data import DistributedSampler",
    ],
    "keras": ["import argparse", "import math", "import os", "import numpy as np", "import keras"],
}
_STDLIB = {"argparse", "math", "os", "collections"}
#: what a script defines at the top level besides the model's code
SCRIPT_NAMES = frozenset(
    {
        "Arrays", "CLASSES", "EVAL_BATCH", "HEAD", "IMAGE_SUFFIXES", "INPUT_SHAPE", "OUTPUT",
        "SPLIT_SEED", "TEST_FRACTION", "TrainLogits", "accuracy", "channels_first", "digits",
        "folder", "learning_rate", "load_data", "logits_model", "main", "npz",
        "resize_matrix", "setup", "split", "train", "argparse", "math", "os", "np", "dist",
        "DistributedSampler",
    }
)  # fmt: skip
_DEFINED = re.compile(r"^(?:class |def )?([A-Za-z_]\w*)", re.M)


def _parts(code: str) -> tuple[list[str], list[str], str]:
    """Generated source as (header comments, import lines, the rest without its
    ``if __name__`` block)."""
    lines = code.splitlines()
    i = 0
    while lines[i].startswith("#"):
        i += 1
    header, i = lines[:i], i + 1  # the module docstring is the script's own
    imports = []
    while not lines[i] or lines[i].startswith(("import ", "from ")):
        if lines[i]:
            imports.append(lines[i])
        i += 1
    body = "\n".join(lines[i:])
    return header, imports, body[: body.index('\n\nif __name__ == "__main__":')].rstrip()


def _import_key(line: str) -> tuple[bool, bool, str]:
    module = line.split()[1]
    return module.split(".")[0] not in _STDLIB, line.startswith("from "), module.lower()


def sorted_imports(lines: list[str]) -> list[str]:
    """The import block as isort lays it out: the standard library, a blank line, the rest;
    ``import x`` before ``from x import y`` in each."""
    ordered = sorted(set(lines), key=_import_key)
    out: list[str] = []
    for line in ordered:
        if out and not _import_key(out[-1])[0] and _import_key(line)[0]:
            out.append("")
        out.append(line)
    return out


def _check_names(model: Model, body: str) -> None:
    """The model's classes and functions may not take a name the script defines."""
    taken = sorted(set(_DEFINED.findall(body)) & SCRIPT_NAMES)
    if taken:
        hint = "rename the model or the block; the training script defines these names"
        message = f"the generated code defines {', '.join(taken)}, a name the script uses"
        raise CnnDslError([Diagnostic(message, None, hint)], model.filename, None)


def emit_train(model: Model, target: str, script: str | None = None) -> str:
    """The training script for ``model`` in ``target`` (pytorch or keras); ``script`` is
    its file name, quoted in its docstring. A model whose head is no softmax over classes
    is refused (:func:`~cnndsl.training.heads.classifier_head`)."""
    from ..training.common import BATCH_SIZE, EPOCHS, LR
    from ..training.data import SPLIT_SEED, TEST_FRACTION
    from ..training.heads import classifier_head
    from .keras.functions import keras_name

    head = classifier_head(model)
    header, imports, body = _parts(emit(model, target))
    _check_names(model, body)
    image = len(model.input_shape) == 3
    data = render(
        "train_data.py.j2",
        input_shape=tuple(model.input_shape),
        classes=head.classes,
        split_seed=SPLIT_SEED,
        test_fraction=TEST_FRACTION,
        image=image,
    )
    suffix = "pt" if target == "pytorch" else "weights.h5"
    return render(
        f"{target}_train.py.j2",
        header=header,
        name=model.name,
        script=script or f"train_{model.name}.py",
        class_name=class_name(model.name, reserved=("F", "FIXED_WEIGHTS", "nn", "torch")),
        imports=sorted_imports([*imports, *IMPORTS[target]]),
        model=body,
        data=data.rstrip(),
        head=keras_name(model.node(head.softmax_node)),
        fused=head.fused,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        lr=LR,
        output=f"{model.name}_trained.{suffix}",
    )
