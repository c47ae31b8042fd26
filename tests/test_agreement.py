"""The three backends compute one function: NumPy, generated Keras and generated PyTorch
agree on the same weights, for the examples and for Hypothesis-generated models.

Weights travel through cnndsl.convert (the one place that knows the layouts and
the flatten order); tolerances are float32's: rtol 1e-4, atol 1e-5 scaled by the
output's magnitude.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, note, settings

import cnndsl
from cnndsl.backends import emit
from cnndsl.backends.numpy import forward
from cnndsl.convert import from_keras, from_pytorch, to_keras, to_pytorch
from cnndsl.weights import init_weights
from conftest import EXAMPLES
from strategies import linear_models

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")


def random_weights(model: cnndsl.Model, seed: int):
    """Seeded weights with non-trivial biases and batchnorm statistics."""
    w = init_weights(model, seed)
    rng = np.random.default_rng(seed + 1)
    for node in model.nodes:
        ws = w.get(node.name, {})
        for name in ("bias", "beta", "moving_mean"):
            if name in ws:
                ws[name] = rng.normal(0, 0.2, ws[name].shape).astype(np.float32)
        if "gamma" in ws:
            ws["gamma"] = rng.uniform(0.5, 1.5, ws["gamma"].shape).astype(np.float32)
            ws["moving_variance"] = rng.uniform(0.5, 2, ws["gamma"].shape).astype(np.float32)
    return w


def load(code: str, tmp: Path, name: str):
    path = tmp / f"{name}.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(f"{name}_{abs(hash(code))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_torch(model, weights, x, tmp):
    module = load(emit(model, "pytorch"), tmp, "gen_torch")
    cls = next(
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, torch.nn.Module)
        and v.__module__ == module.__name__
    )
    net = cls().eval()
    state = {k: torch.from_numpy(v) for k, v in to_pytorch(model, weights).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    back = from_pytorch(model, {k: v.numpy() for k, v in net.state_dict().items()})
    for node, ws in weights.items():  # the conversion round-trips exactly
        for name, arr in ws.items():
            np.testing.assert_array_equal(back[node][name], arr)
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1) if x.ndim > 2 else x))
    with torch.no_grad():
        y = net(xt).numpy()
    return np.moveaxis(y, 1, -1) if y.ndim > 2 else y


def run_keras(model, weights, x, tmp):
    built = load(emit(model, "keras"), tmp, "gen_keras").build_model()
    for name, arrays in to_keras(model, weights).items():
        built.get_layer(name).set_weights(arrays)
    back = from_keras(
        model, {n.name: built.get_layer(n.name).get_weights() for n in model.nodes if n.weights}
    )
    for node, ws in weights.items():
        for name, arr in ws.items():
            np.testing.assert_array_equal(back[node][name], arr)
    return np.asarray(built(x, training=False))


def agree(model, seed, tmp, frameworks=("torch", "keras")) -> None:
    weights = random_weights(model, seed)
    x = np.random.default_rng(seed).standard_normal((2, *model.input_shape)).astype(np.float32)
    ref = forward(model, weights, x)
    tol = dict(rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))
    if "torch" in frameworks:
        np.testing.assert_allclose(
            run_torch(model, weights, x, tmp), ref, **tol, err_msg="numpy vs pytorch"
        )
    if "keras" in frameworks:
        np.testing.assert_allclose(
            run_keras(model, weights, x, tmp), ref, **tol, err_msg="numpy vs keras"
        )


SMALL_EXAMPLES = ["lenet5", "text_cnn", "padding", "edge_detect", "oneliner"]


@pytest.mark.parametrize("example", SMALL_EXAMPLES)
def test_examples_agree(example: str, tmp_path) -> None:
    agree(cnndsl.load(EXAMPLES / f"{example}.cnn"), 0, tmp_path)


def test_edge_detector_fixed_weights_in_generated_code(tmp_path) -> None:
    """The generated modules carry the literal kernels themselves: no weight file needed."""
    m = cnndsl.load(EXAMPLES / "edge_detect.cnn")
    x = np.random.default_rng(0).random((1, 64, 64, 1), dtype=np.float32)
    ref = forward(m, init_weights(m), x)
    built = load(emit(m, "keras"), tmp_path, "edge_keras").build_model()
    np.testing.assert_allclose(np.asarray(built(x)), ref, rtol=1e-5, atol=1e-5)
    module = load(emit(m, "pytorch"), tmp_path, "edge_torch")
    with torch.no_grad():
        y = module.EdgeDetect()(torch.from_numpy(np.moveaxis(x, -1, 1).copy())).numpy()
    np.testing.assert_allclose(np.moveaxis(y, 1, -1), ref, rtol=1e-5, atol=1e-5)


@settings(max_examples=60)
@given(src=linear_models())
def test_random_models_agree_with_pytorch(src: str, tmp_path_factory) -> None:
    note(f"the model, as .cnn source:\n{src}")
    agree(cnndsl.parse(src), 0, tmp_path_factory.mktemp("a"), frameworks=("torch",))


@settings(max_examples=25)
@given(src=linear_models())
def test_random_models_agree_with_keras(src: str, tmp_path_factory) -> None:
    note(f"the model, as .cnn source:\n{src}")
    agree(cnndsl.parse(src), 0, tmp_path_factory.mktemp("a"), frameworks=("keras",))
