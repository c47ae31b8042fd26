"""Training on logits: the head is recognised on the IR, the logits model has the same
weights, and the trainer's loss is cross-entropy on logits — not on probabilities.

The double-softmax trap has a signature no amount of training removes: cross-entropy over
softmax(p) for a probability vector p is at least ln(1 + 9/e) ≈ 1.46 with 10 classes (the
best case is p one-hot: logits 1 and nine 0). A trainer whose loss falls below that cannot
be applying softmax twice.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cnndsl
from cnndsl.backends.numpy import forward
from cnndsl.training import Config, classifier_head, load_data, train
from cnndsl.weights import init_weights

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

LN10 = math.log(10)
DOUBLE_SOFTMAX_FLOOR = math.log(1 + 9 / math.e)  # ≈ 1.46, by hand: see the module
SMALL = "input 8x8x1; conv 8 3x3 relu; pool max 2; flatten; dense 10 softmax"


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize(
    ("src", "fused"),
    [
        ("input 8x8x1; conv 4 3x3 relu; flatten; dense 10 softmax", True),
        ("input 8x8x1; conv 4 3x3 relu; flatten; dense 10; softmax", False),
        ("input 8x8x1; conv 10 8x8 softmax", True),  # a conv head over a 1x1x10 map
        ("input 6x4; conv 5 3 relu; globalpool avg; dense 3 softmax", True),
    ],
)
def test_logits_model_is_the_model_before_softmax(src: str, fused: bool) -> None:
    model = cnndsl.parse(src)
    head = classifier_head(model)
    assert head.fused is fused
    assert head.classes == model.output_shape[-1]
    assert head.logits.total_params == model.total_params  # softmax has no weights
    weights = init_weights(model, 3)
    x = np.random.default_rng(0).standard_normal((5, *model.input_shape)).astype(np.float32)
    logits = forward(head.logits, weights, x)
    probs = forward(model, weights, x)
    np.testing.assert_allclose(softmax(logits), probs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(logits, probs)


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("input 8x8x1; flatten; dense 10", "not a classifier: the model ends with `dense`"),
        ("input 8x8x1; conv 4 3x3 softmax", "not a classifier of whole inputs"),
        ("input 8x8x1; flatten; dense 10 relu; softmax; relu", "ends with `relu`"),
        ("input 8x8x1; flatten; dense 1 softmax", "not a classifier of whole inputs"),
    ],
)
def test_not_a_classifier(src: str, message: str) -> None:
    with pytest.raises(cnndsl.CnnDslError) as info:
        classifier_head(cnndsl.parse(src), src)
    text = info.value.render()
    assert message in text
    assert "^" in text and "hint: end the model with `dense N softmax`" in text


def test_the_loss_is_cross_entropy_on_logits_not_on_probabilities() -> None:
    """On one batch, from the same weights: the loss PyTorch gets from the logits model is
    -mean log p[label] of the *real* model's probabilities (computed by the NumPy
    interpreter); the double softmax — CrossEntropyLoss on the real model's output — gives
    another number and gradients several times smaller."""
    from cnndsl.frameworks import torch_module
    from cnndsl.training.torch_loop import channels_first

    model = cnndsl.parse(SMALL)
    head = classifier_head(model)
    weights = init_weights(model, 0)
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 4, (32, 8, 8, 1)).astype(np.float32)  # large inputs: confident logits
    y = rng.integers(0, 10, 32)
    probs = forward(model, weights, x)
    oracle = -np.mean(np.log(probs[np.arange(32), y]))
    xt, yt = torch.from_numpy(channels_first(x)), torch.from_numpy(y)
    ce = torch.nn.CrossEntropyLoss()
    grads = []
    for m in (head.logits, model):  # ours, then the double softmax
        net = torch_module(m, weights)
        loss = ce(net(xt), yt)
        loss.backward()
        grads.append(math.sqrt(sum(float((p.grad**2).sum()) for p in net.parameters())))
        if m is head.logits:
            assert float(loss.detach()) == pytest.approx(oracle, rel=1e-4)
        else:
            assert abs(float(loss.detach()) - oracle) > 0.05
    assert grads[0] > 3 * grads[1]


@pytest.mark.parametrize("fw", ["pytorch", "keras"])
def test_training_starts_near_ln10_and_falls_below_the_double_softmax_floor(fw: str) -> None:
    if fw == "keras":
        pytest.importorskip("keras")
    model = cnndsl.parse(SMALL)
    head = classifier_head(model)
    data = load_data("digits", model, head.classes)
    result = train(head, data, init_weights(model, 0), Config(epochs=4, lr=0.01), fw)
    losses = [e.loss for e in result.history]
    assert abs(result.first_loss - LN10) < 0.15  # the initial weights' loss on a batch
    assert losses[0] < result.first_loss
    assert losses == sorted(losses, reverse=True)
    assert losses[-1] < DOUBLE_SOFTMAX_FLOOR - 0.5  # impossible with a double softmax
    assert result.test_accuracy > 0.85
