"""Backends: each keeps one table keyed by layer class (a test fails when one is missing).

``numpy`` interprets a model; ``keras`` and ``pytorch`` emit source code (and
import neither framework). ``TARGETS`` names the code generators.
"""

from __future__ import annotations

import importlib

from ..ir import Model

#: target name -> (module, what it writes)
TARGETS = {
    "keras": ("cnndsl.backends.keras", "Keras 3: build_model() returning a keras.Sequential"),
    "pytorch": ("cnndsl.backends.pytorch", "PyTorch: an nn.Module subclass, NCHW"),
    "onnx": (
        "cnndsl.backends.onnx",
        "ONNX: a graph with its weights (-o FILE.onnx; needs cnndsl[onnx]), NCHW",
    ),
}
#: targets whose output is source code (the others are binary files: -o required)
SOURCE_TARGETS = ("keras", "pytorch")


def emit(model: Model, target: str) -> str:
    """Source code of ``model`` for ``target`` (a key of TARGETS)."""
    module = importlib.import_module(TARGETS[target][0])
    code: str = module.emit(model)
    return code
