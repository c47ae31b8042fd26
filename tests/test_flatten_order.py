"""Flatten order, closed: wherever flattened features meet other features or leave the
model, the generated PyTorch computes exactly the language's function — compared raw,
with nothing un-permuted on the way (issue: "A proof as strong as the claim")."""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.backends import emit
from cnndsl.backends.numpy import forward
from cnndsl.backends.order import plan
from cnndsl.weights import probe_weights
from conftest import EXAMPLES

torch = pytest.importorskip("torch")

CASES = {
    # flattened (C,H,W)-ordered features added to a dense layer's (H,W,C)-ordered ones
    "residual_over_flatten": "input 4x4x2\nflatten\nresidual { dense 32 }\n",
    # the permutation of a 1x1 map is the identity: nothing to refuse
    "identity_permutation": (
        "input 4x4x8\nadd { branch { pool avg 4; flatten } branch { globalpool max } }\ndense 3\n"
    ),
    # the model's output is the flattened map itself
    "ends_on_flatten": "input 2x2x3\nconv 3 1x1\nflatten\n",
    "ends_on_flatten_then_relu": "input 3x2x4\nconv 3 1x1\nflatten\nrelu\n",
    # two flattens of one shape agree with each other: both may stay idiomatic
    "two_flattens_added": (
        "input 4x4x2\nadd { branch { conv 3 1 ; flatten } branch { conv 3 1; flatten } }\ndense 5\n"
    ),
    # concat of flattened and dense features, then more layers
    "concat_flatten_dense": (
        "input 3x3x2\nconcat { branch { flatten } branch { flatten; dense 4 } }\n"
        "batchnorm\ndense 3\n"
    ),
    "concat_then_output": "input 3x3x2\nconcat { branch { flatten } branch { globalpool avg } }\n",
}


def raw_pytorch(model: cnndsl.Model, weights, x: np.ndarray) -> np.ndarray:
    """The generated module's own output (NCHW in, its output as it comes out)."""
    from cnndsl.frameworks import torch_module

    net = torch_module(model, weights)
    xt = np.ascontiguousarray(np.moveaxis(x, -1, 1) if x.ndim > 2 else x)
    with torch.no_grad():
        y = net(torch.from_numpy(xt)).numpy()
    return np.moveaxis(y, 1, -1) if y.ndim > 2 else y


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_pytorch_computes_the_language_function(name: str) -> None:
    model = cnndsl.parse(CASES[name])
    weights = probe_weights(model, 3)
    x = np.random.default_rng(0).standard_normal((3, *model.input_shape)).astype(np.float32)
    ref = forward(model, weights, x)
    got = raw_pytorch(model, weights, x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(ref).max()))


def test_plan_makes_only_the_needed_flattens_canonical() -> None:
    """By hand: the residual's flatten meets a dense output, the output flatten leaves the
    model; a flatten feeding only a dense stays idiomatic; a 1x1 map needs nothing."""
    assert plan(cnndsl.parse(CASES["residual_over_flatten"])).canonical == {"flatten_1"}
    assert plan(cnndsl.parse(CASES["ends_on_flatten"])).canonical == {"flatten_1"}
    assert plan(cnndsl.parse(CASES["identity_permutation"])).canonical == set()
    assert plan(cnndsl.parse(CASES["two_flattens_added"])).canonical == set()
    lenet = cnndsl.load(EXAMPLES / "lenet5.cnn")
    assert plan(lenet).canonical == set()


def test_idiomatic_flatten_stays_and_canonical_one_permutes() -> None:
    lenet = emit(cnndsl.load(EXAMPLES / "lenet5.cnn"), "pytorch")
    assert "torch.flatten(x, 1)" in lenet and ".permute(" not in lenet
    res = emit(cnndsl.parse(CASES["residual_over_flatten"]), "pytorch")
    assert "torch.flatten(x.permute(0, 2, 3, 1), 1)" in res


def test_verify_passes_raw_on_every_case(capsys, tmp_path) -> None:
    from cnndsl.cli import main

    for name, src in CASES.items():
        path = tmp_path / f"{name}.cnn"
        path.write_text(src)
        assert main(["verify", str(path)]) == 0, capsys.readouterr().out
        out = capsys.readouterr().out
        assert "probe weights" in out and "PASS" in out
