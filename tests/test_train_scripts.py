"""Logits in the generated PyTorch module, and standalone training scripts
(``cnndsl compile --target pytorch|keras --train``).

The scripts are golden-tested like the other generated code (``pytest --update-golden``) and
run for one short epoch on the digits in a fresh interpreter that cannot import cnndsl:
``python -I`` from a temporary directory, and under ``torch.distributed.run`` with two
processes.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.backends import emit
from cnndsl.frameworks import torch_module
from cnndsl.weights import init_weights
from conftest import EXAMPLES

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("example", ["lenet5", "kim_cnn"])
def test_logits_is_log_of_forward_up_to_a_row_constant(example: str) -> None:
    model = cnndsl.load(EXAMPLES / f"{example}.cnn")
    assert "def logits(self, x: torch.Tensor)" in emit(model, "pytorch")
    net = torch_module(model, init_weights(model, seed=3)).double()
    x = torch.from_numpy(np.random.default_rng(0).random((5, *model.input_shape)))
    x = x.movedim(-1, 1)
    with torch.no_grad():
        logits, probs = net.logits(x), net(x)
    diff = (logits - torch.log(probs)).numpy()
    # log softmax(z) = z - logsumexp(z): the difference is one constant per row
    assert np.allclose(diff, diff[:, :1], atol=1e-9)
    assert not np.allclose(logits.numpy(), torch.log(probs).numpy())  # not a softmax itself
    assert np.allclose(probs.sum(1).numpy(), 1)


def test_a_model_without_a_softmax_head_has_no_logits_method() -> None:
    for example in ("unet_small", "resnet18"):
        assert "def logits" not in emit(cnndsl.load(EXAMPLES / f"{example}.cnn"), "pytorch")


def test_a_classifier_cannot_name_a_layer_logits() -> None:
    src = "input 4x4x1\nflatten\ndense 3 softmax name=logits\n"
    with pytest.raises(cnndsl.CnnDslError, match="logits"):
        emit(cnndsl.parse(src, "t.cnn"), "pytorch")
    emit(cnndsl.parse(src.replace(" softmax", ""), "t.cnn"), "pytorch")  # no head, no method
