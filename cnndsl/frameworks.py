"""Run the generated Keras and PyTorch code, and the exported ONNX graph in ONNX Runtime,
on canonical weights.

Used by ``cnndsl verify``, ``cnndsl export-weights`` and the agreement tests. The
frameworks are imported only when a function here is called; a missing one
raises :class:`FrameworkMissing` naming the extra to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
import types
from typing import Any

import numpy as np

from .backends import emit
from .convert import from_keras, from_pytorch, keras_layers, to_keras, to_pytorch
from .ir import Model
from .weights import Weights

EXTRA = {"keras": "keras", "pytorch": "torch", "onnx": "onnx"}
_MODULE = {"keras": "keras", "pytorch": "torch", "onnx": "onnxruntime"}


class FrameworkMissing(Exception):
    def __init__(self, target: str):
        super().__init__(f"{target} is not installed: pip install 'cnndsl[{EXTRA[target]}]'")
        self.target = target


def framework(target: str) -> Any:
    """Import Keras (TensorFlow backend, quiet), torch or onnxruntime, or raise
    FrameworkMissing."""
    if target == "keras":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    name = _MODULE[target]
    needed = (name, "onnx") if target == "onnx" else (name,)
    if any(importlib.util.find_spec(n) is None for n in needed):
        raise FrameworkMissing(target)
    if target == "keras":
        return _import_keras()
    return importlib.import_module(name)


def _import_keras() -> Any:
    """Keras, in the ``cnndsl`` command without its scikit-learn wrappers. Keras imports
    scikit-learn (and SciPy) only to offer ``keras.wrappers``, which cnndsl never uses:
    1-2 s of a 4-6 s import here. Hidden for that import only; ``import sklearn`` works
    afterwards, though ``keras.wrappers`` then says that scikit-learn is missing: so only
    in the command, which ends with its work, never in a program that uses cnndsl's API
    (it may use keras.wrappers later)."""
    hide = _is_command() and "sklearn" not in sys.modules
    if hide:
        sys.modules["sklearn"] = None  # type: ignore[assignment]  # an ImportError on import
    try:
        return importlib.import_module("keras")
    finally:
        if hide and "sklearn" in sys.modules and sys.modules["sklearn"] is None:
            del sys.modules["sklearn"]


def _is_command() -> bool:
    """Whether this process is the ``cnndsl`` command (``python -m cnndsl``, the console
    script, or verify's child forked from either)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if getattr(spec, "name", None) == "cnndsl.__main__":
        return True
    return bool(sys.argv) and os.path.basename(sys.argv[0]) == "cnndsl"


def onnx_session(model: Model, weights: Weights) -> Any:
    """An ONNX Runtime session (CPU) of the exported graph with ``weights``."""
    ort = framework("onnx")
    from .backends.onnx import to_onnx

    options = ort.SessionOptions()
    options.log_severity_level = 3
    data = to_onnx(model, weights).SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def load_generated(model: Model, target: str) -> types.ModuleType:
    """Execute the generated source as a module (written to a temporary file first, so that
    tracebacks and inspection see real source lines)."""
    code = emit(model, target)
    fd, path = tempfile.mkstemp(prefix=f"cnndsl_{model.name}_{target}_", suffix=".py")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(code)
    try:
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # Keras looks helper classes up by module
        spec.loader.exec_module(module)
        return module
    finally:
        os.unlink(path)


def module_class(module: types.ModuleType) -> Any:
    """The model's nn.Module subclass in a generated PyTorch file: the last class it
    defines (the classes of its blocks come first)."""
    torch = framework("pytorch")
    classes = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, torch.nn.Module)
        and v.__module__ == module.__name__
    ]
    return classes[-1]


def torch_module(model: Model, weights: Weights | None = None) -> Any:
    """The generated nn.Module, in eval mode, with ``weights`` loaded if given."""
    torch = framework("pytorch")
    net = module_class(load_generated(model, "pytorch"))().eval()
    if weights is not None:
        state = {k: torch.from_numpy(v) for k, v in to_pytorch(model, weights).items()}
        missing, unexpected = net.load_state_dict(state, strict=False)
        assert not unexpected, unexpected
        assert all(k.endswith("num_batches_tracked") for k in missing), missing
    return net


def keras_model(model: Model, weights: Weights | None = None) -> Any:
    """The generated keras.Model, with ``weights`` set if given."""
    framework("keras")
    built = load_generated(model, "keras").build_model()
    if weights is not None:
        for name, arrays in to_keras(model, weights).items():
            built.get_layer(name).set_weights(arrays)
    return built


def torch_weights(model: Model, net: Any) -> Weights:
    return from_pytorch(model, {k: v.detach().numpy() for k, v in net.state_dict().items()})


def keras_weights(model: Model, built: Any) -> Weights:
    return from_keras(model, {k: built.get_layer(k).get_weights() for k in keras_layers(model)})


def run(target: str, model: Model, weights: Weights, x: np.ndarray) -> np.ndarray:
    """The generated model's output on a channels-last batch, returned channels-last."""
    if target == "keras":
        return np.asarray(keras_model(model, weights)(x, training=False))
    if target == "onnx":
        xt = np.ascontiguousarray(np.moveaxis(x, -1, 1) if x.ndim > 2 else x)
        y = onnx_session(model, weights).run(None, {model.inputs[0]: xt})[0]
        back: np.ndarray = np.moveaxis(y, 1, -1) if y.ndim > 2 else y
        return back
    torch = framework("pytorch")
    net = torch_module(model, weights)
    xt = np.moveaxis(x, -1, 1) if x.ndim > 2 else x
    with torch.no_grad():
        y = net(torch.from_numpy(np.ascontiguousarray(xt))).numpy()
    # NCHW -> the language's channels-last: the documented layout of the generated module;
    # flat features come out in the language's order (the flatten plan sees to that)
    out: np.ndarray = np.moveaxis(y, 1, -1) if y.ndim > 2 else y
    return out
