"""Backends: each keeps one table keyed by layer class (a test fails when one is missing).

``numpy`` interprets a model; ``keras`` and ``pytorch`` emit source code (and
import neither framework). ``TARGETS`` names the code generators.
"""

from __future__ import annotations

import gc
import importlib
import re

from ..ir import Model

#: target name -> (module, what it writes)
TARGETS = {
    "keras": ("cnndsl.backends.keras", "Keras 3: build_model(), a function per block"),
    "pytorch": ("cnndsl.backends.pytorch", "PyTorch: an nn.Module subclass per block, NCHW"),
    "onnx": (
        "cnndsl.backends.onnx",
        "ONNX: a graph with its weights (-o FILE.onnx; needs cnndsl[onnx]), NCHW",
    ),
}
#: targets whose output is source code (the others are binary files: -o required)
SOURCE_TARGETS = ("keras", "pytorch")


def describe(code: str, target: str) -> str:
    """What generated source holds, read off the code itself: for the status line."""
    classes = re.findall(r"^class (\w+)\((?:nn\.Module|nn\.Sequential)\)", code, re.M)
    functions = [f for f in re.findall(r"^def (\w+)\(x\b", code, re.M)]
    if target == "pytorch":
        *blocks, main = classes
        extra = f" and {len(blocks)} block class{'es' * (len(blocks) != 1)} ({', '.join(blocks)})"
        return f"PyTorch: {main}(nn.Module){extra if blocks else ''}, NCHW"
    kind = "keras.Sequential" if "keras.Sequential(" in code else "functional keras.Model"
    extra = (
        f", {len(functions)} block function{'s' * (len(functions) != 1)} ({', '.join(functions)})"
    )
    return f"Keras 3: build_model() returning a {kind}{extra if functions else ''}"


def emit(model: Model, target: str) -> str:
    """Source code of ``model`` for ``target`` (a key of TARGETS).

    The cyclic garbage collector is paused meanwhile: generation makes many small
    objects and no cycles, and the collector's passes over the live ones made the time
    grow faster than the model (8k layers took 13x 1k; 7x without, i.e. linear)."""
    module = importlib.import_module(TARGETS[target][0])
    paused = gc.isenabled()
    gc.disable()
    try:
        code: str = module.emit(model)
    finally:
        if paused:
            gc.enable()
    return code
