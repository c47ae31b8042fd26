"""Planted bugs: the agreement proof must prove its own strength.

Each bug below is one monkeypatched lowering, table entry or conversion: a mistake a
contributor could make. It counts as caught when (a) ``verify`` on the bug's fixed model
fails for the bug's framework alone, at the bug's layer (or the conversion refuses the
weights outright), and (b) the random agreement property, run under Hypothesis with the
bug planted, finds a falsifying model within ``BUDGET`` examples. Controls: every fixed
model passes ``verify`` without its bug, and every falsifying model agrees again once
the bug is removed, so each failure is the bug's and nothing else's.

Measured with this strategy and Hypothesis 6.170 (derandomized: the same models on every
run until either changes). verify: "FAIL at" the first diverging layer it names;
"refused": the conversion rejects the arrays (set_weights, load_state_dict, or its own
completeness check), so verify raises instead of reporting. property: how many random
models were drawn up to the first falsifying one, out of 100; "refused" as above, with
the first model on which the bug is silent (a square kernel or layer) where that differs.
The whole module runs in about 3 minutes on two cores.

    #   bug, then its fixed model          verify                    property: models drawn
    --  ---------------------------------  ------------------------  --------------------------
    1   flatten_perm_dropped               FAIL at dense_1           25
          input 4x4x3; conv 4 3 same relu; flatten; dense 6
    2   per_channel_perm_dropped           FAIL at dense_1           25
          input 3x3x2; conv 3 1; flatten; batchnorm; layernorm; dense 4
    3   keras_depthwise_m_c                refused, ValueError       25 refused
          input 5x5x3; depthwise 3 multiplier=2
    3   keras_separable_m_c                refused, ValueError       19 refused
          input 5x5x3; separable 4 3 multiplier=2
    3   keras_depthwise_multiplier_major   FAIL at depthwise_1       25
          input 5x5x2; depthwise 3 multiplier=2
    3   torch_depthwise_multiplier_major   FAIL at depthwise_1       25
          input 5x5x3; depthwise 3 multiplier=2
    4   torch_same_top_left                FAIL at conv_1            7
          input 8x8x2; conv 3 2x2 same; conv 3 3 same stride=2
    4   keras_mode_by_totals               FAIL at conv_1            7
          input 6x6x2; conv 3 2x2 pad=(1,0,1,0)
    4   torch_pad_natural_order            FAIL at zeropad_1         10
          input 5x5x2; zeropad (0,2,1,1)
    5   torch_kernel_reversed              FAIL at conv_1            3 refused; silent case 19
          input 6x6x2; conv 3 3
    5   keras_kernel_hw                    FAIL at conv_1            10 refused; silent case 12
          input 6x6x2; conv 3 3
    5   torch_fixed_literal_hw             PASS: hole (xfail)        19 refused; silent case 21
          input 5x5x1; conv 1 3x3 weights=[[1,2,3],[4,5,6],[7,8,9]]
    6   torch_dense_untransposed           FAIL at dense_1           10 refused; silent case 14
          input 2x2x1; flatten; dense 4 relu; dense 4
    7   torch_conv_bias_false              refused, AssertionError   7 refused
          input 5x5x2; conv 3 3
    7   keras_dense_bias_unplaced          refused, AssertionError   1 refused
          input 3x3x2; flatten; dense 4
    8   keras_bn_eps                       FAIL at batchnorm_1       7
          input 4x4x3; conv 3 1; batchnorm
    8   torch_bn_eps                       FAIL at batchnorm_1       20
          input 4x4x3; conv 3 1; batchnorm eps=0.001
    8   keras_ln_eps                       FAIL at layernorm_1       7
          input 4x4x3; conv 3 1; layernorm
    8   keras_bn_momentum                  PASS: hole (xfail)        missed (xfail)
          input 4x4x3; conv 3 1; batchnorm
    8   torch_norm_gamma_beta_swapped      FAIL at batchnorm_1       7
          input 4x4x3; conv 3 1; batchnorm
    9   torch_avg_counts_pad               FAIL at pool_1            12
          input 6x6x2; pool avg 3 stride=1 same
    9   keras_padded_avg_counts_pad        FAIL at pool_1            7
          input 5x5x2; pool avg 3 stride=1 pad=(2,0,0,2)
    9   torch_maxpool_pads_zero            FAIL at pool_1            65
          input 5x5x2; conv 2 1; pool max 2 stride=2 same
    10  keras_leaky_default                FAIL at conv_1            10
          input 5x5x2; conv 3 3 leaky_relu
    10  torch_leaky_default                FAIL at leaky_relu_1      44
          input 5x5x2; conv 3 3; leaky_relu alpha=0.2
    11  torch_gelu_tanh                    FAIL at conv_1            7
          input 8x3; conv 4 3 gelu
    11  keras_gelu_tanh                    FAIL at gelu_1            missed (xfail)
          input 8x3; conv 4 3; gelu
    12  torch_bilinear_align_corners       FAIL at upsample_1        5
          input 4x4x2; upsample 2 bilinear
    12  keras_bilinear_nearest             FAIL at upsample_1        5
          input 4x4x2; upsample 2 bilinear
    13  torch_concat_reversed              FAIL at concat_1          10
          input 4x4x2; concat { branch { } branch { conv 3 1 } }
    14  torch_deconv_in_out                FAIL at deconv_1          3 refused; silent case >100
          input 4x4x3; deconv 3 3 stride=2
    14  torch_deconv_flipped               FAIL at deconv_1          3
          input 4x4x3; deconv 3 3 stride=2
    15  torch_elu_alpha                    FAIL at elu_1             7
          input 6x3; conv 3 3; elu alpha=2.0
    15  keras_elu_alpha                    FAIL at elu_1             7
          input 6x3; conv 3 3; elu alpha=2.0
    15  torch_softmax_last                 FAIL at conv_1            12
          input 4x4x3; conv 3 1 softmax
    15  torch_relu6_as_relu                FAIL at relu6_1           12
          input 4x4x1; conv 1 1 bias=false weights=[[8]]; relu6
    16  flatten_plan_never_canonical       FAIL at flatten_1         75
          input 3x3x2; conv 2 1; flatten
    +   torch_dropout_functional           FAIL at dropout_1         5
          input 4x4x2; conv 2 1; dropout 0.5

Holes (xfailed): batchnorm momentum is never read in inference, so neither verify nor
the property can see it; verify loads converted weights over the kernels the generated
code fixes, so a wrong literal passes verify (the property checks the literals
themselves); gelu's tanh form differs from erf's by 4.7e-4 at most, so random models
usually attenuate it below float32 tolerance before the output. A Keras depthwise kernel
reshaped (k..., m, C) is refused whenever m != C and the identity when m == C: never
silent. What the property needed to catch the rest (tests/strategies.py, agree): explicit
pads mirroring 'same' and symmetric ones, square dense layers, literal kernels, flattens
joined with other features or ending the model, layer norm over flattened features,
activations with written parameters after any layer, deeper models (up to 16 layers),
one input sample at 8x scale (relu6's clamp), and a tolerance per sample.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from test_agreement import agree

import cnndsl
from cnndsl import convert, frameworks
from cnndsl.backends import order
from cnndsl.backends.codegen import Call, nested
from cnndsl.backends.keras import conv as keras_conv
from cnndsl.backends.keras import lower as keras_lower
from cnndsl.backends.params import SAME, Layout, Param
from cnndsl.backends.pytorch import conv as torch_conv
from cnndsl.backends.pytorch import lower as torch_lower
from cnndsl.layers import (
    BatchNorm,
    Concat,
    Conv,
    Deconv,
    Dense,
    Depthwise,
    Dropout,
    LayerNorm,
    Pool,
    Separable,
    Upsample,
    auto_pads,
)
from cnndsl.layers.base import Weight, evolve
from cnndsl.verify import verify
from cnndsl.weights import probe_weights
from strategies import models

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

#: random models the property may draw per bug before the bug counts as missed
BUDGET = 200
FRAMEWORK = {"pytorch": "torch", "keras": "keras"}

MOMENTUM_HOLE = "inference never reads batchnorm momentum: verify runs eval mode only"
LITERAL_HOLE = "verify loads converted weights over the kernels the generated code fixes"
GELU_LIMIT = "at most 4.7e-4 apart: random models mostly attenuate it below tolerance"


@dataclass(frozen=True)
class Bug:
    """A planted bug: where it lives (``target``), how to plant it, a model that shows it."""

    name: str
    target: str  # "pytorch" or "keras": the only framework whose comparison may fail
    model: str  # a fixed model that exercises the bug
    plant: Callable[[pytest.MonkeyPatch], None]
    at: str | None = None  # the layer verify must name as the first to diverge
    refused: type[Exception] | None = None  # the conversion refuses it: no FAIL to report
    verify_hole: str | None = None  # why verify cannot see it (xfail, strict)
    property_hole: str | None = None  # why the property cannot see it (xfail, strict)
    property_limit: str | None = None  # why the property may miss it (xfail, not strict)


BUGS: list[Bug] = []


def planted(target: str, model: str, **kw: Any) -> Callable[[Any], Any]:
    """Register the decorated function as the plant of a bug named after it."""

    def deco(plant: Callable[[pytest.MonkeyPatch], None]) -> Callable[..., None]:
        BUGS.append(Bug(plant.__name__, target, model, plant, **kw))
        return plant

    return deco


# --------------------------------------------------------------------- planting tools


def kw(call: Call, drop: tuple[str, ...] = (), **changes: Any) -> Call:
    """``call`` with keywords dropped or set."""
    kept = [(k, v) for k, v in call.kwargs if k not in drop and k not in changes]
    return dataclasses.replace(call, kwargs=(*kept, *changes.items()))


def edit(expr: Any, fn: str, change: Callable[[Call], Call]) -> Any:
    """``expr`` with every nested call of ``fn`` changed."""
    if not isinstance(expr, Call):
        return expr
    args = tuple(edit(a, fn, change) for a in expr.args)
    kwargs = tuple((k, edit(v, fn, change)) for k, v in expr.kwargs)
    out = dataclasses.replace(expr, args=args, kwargs=kwargs)
    return change(out) if out.fn == fn else out


def wrap(mp: pytest.MonkeyPatch, table: Any, cls: type, change: Callable[..., Any]) -> None:
    """Replace a table entry by ``change(lowered, layer, node, ctx)`` of the real one."""
    real = table.lookup(cls)
    mp.setitem(table._entries, cls, lambda layer, node, ctx: change(real(layer, node, ctx), layer))


def relayout(params: list[Param], weight: str, layout: Callable[[Layout], Layout]) -> list[Param]:
    return [
        dataclasses.replace(p, layout=layout(p.layout)) if p.weight == weight else p for p in params
    ]


def modules(low: Any, change: Callable[[Call], Call]) -> Any:
    """A PyTorch Lowered with each module call changed."""
    return dataclasses.replace(low, modules=[(a, change(c)) for a, c in low.modules])


def steps(low: Any, fn: str, change: Callable[[Call], Call]) -> Any:
    """A PyTorch Lowered with each ``fn`` call in its forward steps changed."""
    return dataclasses.replace(low, steps=[(edit(e, fn, change), c) for e, c in low.steps])


def calls(low: Any, change: Callable[[Call], Call]) -> Any:
    """A Keras Lowered with each layer call changed."""
    return dataclasses.replace(low, calls=[change(c) for c in low.calls])


def after_to_pytorch(mp: pytest.MonkeyPatch, change: Callable[..., dict[str, np.ndarray]]) -> None:
    """A conversion bug: post-process the state_dict ``to_pytorch`` returns."""
    real = frameworks.to_pytorch
    mp.setattr(frameworks, "to_pytorch", lambda model, w: change(model, real(model, w)))


# ------------------------------------------------------------------------------ bugs


# 1. flatten permutation dropped


@planted("pytorch", "input 4x4x3; conv 4 3 same relu; flatten; dense 6", at="dense_1")
def flatten_perm_dropped(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(convert, "feature_order", lambda m: dict.fromkeys(n.name for n in m.nodes))


# 2. per-channel vectors after a flatten not permuted


@planted("pytorch", "input 3x3x2; conv 3 1; flatten; batchnorm; layernorm; dense 4", at="dense_1")
def per_channel_perm_dropped(mp: pytest.MonkeyPatch) -> None:
    """Only the ``i`` axes follow the flatten order; batchnorm/layernorm ``c`` vectors do not."""
    mp.setattr(Weight, "feature_axes", lambda w: tuple(i for i, a in enumerate(w.axes) if a == "i"))


# 3. depthwise / separable channel order with multiplier > 1


def _swap_last_two(layout: Layout) -> Layout:
    assert layout.shape is not None
    return dataclasses.replace(layout, shape=(*layout.shape[:-2], *layout.shape[:-3:-1]))


@planted("keras", "input 5x5x3; depthwise 3 multiplier=2", refused=ValueError)
def keras_depthwise_m_c(mp: pytest.MonkeyPatch) -> None:
    """Keras' depthwise kernel reshaped to (k..., multiplier, C) instead of (k..., C, m)."""

    def change(low: Any, layer: Depthwise) -> Any:
        if layer.multiplier == 1 or len(set(layer.stride)) > 1:
            return low  # the grouped-conv path has no reshape to get wrong
        return dataclasses.replace(low, params=relayout(low.params, "kernel", _swap_last_two))

    wrap(mp, keras_lower.KERAS, Depthwise, change)


@planted("keras", "input 5x5x3; separable 4 3 multiplier=2", refused=ValueError)
def keras_separable_m_c(mp: pytest.MonkeyPatch) -> None:
    def change(low: Any, layer: Separable) -> Any:
        if layer.multiplier == 1 or len(set(layer.stride)) > 1:
            return low
        params = relayout(low.params, "depthwise_kernel", _swap_last_two)
        return dataclasses.replace(low, params=params)

    wrap(mp, keras_lower.KERAS, Separable, change)


@planted("keras", "input 5x5x2; depthwise 3 multiplier=2", at="depthwise_1")
def keras_depthwise_multiplier_major(mp: pytest.MonkeyPatch) -> None:
    """The converter fills Keras' (k..., C, m) kernel from filters ordered m-major."""
    real = frameworks.to_keras

    def buggy(model: Any, weights: Any) -> dict[str, list[np.ndarray]]:
        out = real(model, weights)
        for node in model.nodes:
            if isinstance(node.layer, Depthwise) and len(set(node.layer.stride)) == 1:
                w = weights[node.name]["kernel"]
                c, m = node.input_shapes[0][-1], node.layer.multiplier
                k = w.shape[:-2]
                out[node.name][0] = np.ascontiguousarray(w.reshape(*k, m, c).swapaxes(-1, -2))
        return out

    mp.setattr(frameworks, "to_keras", buggy)


@planted("pytorch", "input 5x5x3; depthwise 3 multiplier=2", at="depthwise_1")
def torch_depthwise_multiplier_major(mp: pytest.MonkeyPatch) -> None:
    """The converter orders a depthwise kernel's C*m filters multiplier-major."""

    def change(model: Any, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for node in model.nodes:
            if isinstance(node.layer, Depthwise) and node.layer.multiplier > 1:
                w = state[f"{node.name}.weight"]
                c, m = node.input_shapes[0][-1], node.layer.multiplier
                w = w.reshape(c, m, *w.shape[1:]).swapaxes(0, 1).reshape(w.shape)
                state[f"{node.name}.weight"] = np.ascontiguousarray(w)
        return state

    after_to_pytorch(mp, change)


# 4. 'same' split top/left instead of bottom/right; F.pad's axis order


@planted("pytorch", "input 8x8x2; conv 3 2x2 same; conv 3 3 same stride=2", at="conv_1")
def torch_same_top_left(mp: pytest.MonkeyPatch) -> None:
    """'same' with an odd total: PyTorch's F.pad puts the extra row/column top/left."""
    real = torch_conv._conv_parts

    def buggy(layer: Conv, cin: int, ctx: Any) -> Any:
        if layer.padding == "same":
            layer = evolve(layer, pad=tuple(p for a, b in layer.pads() for p in (b, a)))
        return real(layer, cin, ctx)

    mp.setattr(torch_conv, "_conv_parts", buggy)


@planted("keras", "input 6x6x2; conv 3 2x2 pad=(1,0,1,0)", at="conv_1")
def keras_mode_by_totals(mp: pytest.MonkeyPatch) -> None:
    """Explicit padding taken for Keras' 'same' when only the per-axis totals match."""

    def buggy(layer: Any, node: Any, kernel: Any, stride: Any, dilation: Any) -> str | None:
        pads = layer.pads()
        if not any(a or b for a, b in pads):
            return "valid"
        same = auto_pads("same", node.input_shapes[0][:-1], kernel, stride, dilation)
        return "same" if [sum(p) for p in pads] == [sum(p) for p in same] else None

    mp.setattr(keras_conv, "keras_mode", buggy)


@planted("pytorch", "input 5x5x2; zeropad (0,2,1,1)", at="zeropad_1")
def torch_pad_natural_order(mp: pytest.MonkeyPatch) -> None:
    """F.pad given (top, bottom, left, right): it reads the last axis first."""
    mp.setattr(torch_lower, "torch_pad", lambda pads: tuple(p for pair in pads for p in pair))


# 5. kernel kh/kw transposed


@planted("pytorch", "input 6x6x2; conv 3 3", at="conv_1")
def torch_kernel_reversed(mp: pytest.MonkeyPatch) -> None:
    """``kernel.T``: all axes reversed, (kh, kw, in, out) -> (out, in, kw, kh)."""
    mp.setattr(torch_conv, "channels_first_kernel", lambda r: Layout(tuple(range(r + 2))[::-1]))


@planted("keras", "input 6x6x2; conv 3 3", at="conv_1")
def keras_kernel_hw(mp: pytest.MonkeyPatch) -> None:
    def change(low: Any, layer: Conv) -> Any:
        if len(layer.kernel) != 2:
            return low
        params = relayout(low.params, "kernel", lambda _: Layout((1, 0, 2, 3)))
        return dataclasses.replace(low, params=params)

    wrap(mp, keras_lower.KERAS, Conv, change)


@planted(
    "pytorch",
    "input 5x5x1; conv 1 3x3 weights=[[1,2,3],[4,5,6],[7,8,9]]",
    at="conv_1",
    verify_hole=LITERAL_HOLE,
)
def torch_fixed_literal_hw(mp: pytest.MonkeyPatch) -> None:
    """A kernel fixed in the source emitted with kh and kw swapped (``.T`` on its taps)."""
    real = torch_lower.PYTORCH.lookup(Conv)

    def buggy(layer: Conv, node: Any, ctx: Any) -> Any:
        low = real(layer, node, ctx)
        if layer.weights is not None:
            t, r = layer.weights, len(layer.kernel)
            ctx.fixed[node.name] = nested(t.values, t.shape, (r + 1, r, *range(r)[::-1]))
        return low

    mp.setitem(torch_lower.PYTORCH._entries, Conv, buggy)


# 6. dense weight not transposed


@planted("pytorch", "input 2x2x1; flatten; dense 4 relu; dense 4", at="dense_1")
def torch_dense_untransposed(mp: pytest.MonkeyPatch) -> None:
    def change(low: Any, layer: Dense) -> Any:
        return dataclasses.replace(low, params=relayout(low.params, "kernel", lambda _: SAME))

    wrap(mp, torch_lower.PYTORCH, Dense, change)


# 7. a bias dropped


@planted("pytorch", "input 5x5x2; conv 3 3", refused=AssertionError)
def torch_conv_bias_false(mp: pytest.MonkeyPatch) -> None:
    wrap(mp, torch_lower.PYTORCH, Conv, lambda low, l_: modules(low, lambda c: kw(c, bias=False)))


@planted("keras", "input 3x3x2; flatten; dense 4", refused=AssertionError)
def keras_dense_bias_unplaced(mp: pytest.MonkeyPatch) -> None:
    def change(low: Any, layer: Dense) -> Any:
        return dataclasses.replace(low, params=[p for p in low.params if p.weight != "bias"])

    wrap(mp, keras_lower.KERAS, Dense, change)


# 8. normalisation constants and weights


EPS = ("epsilon",)


@planted("keras", "input 4x4x3; conv 3 1; batchnorm", at="batchnorm_1")
def keras_bn_eps(mp: pytest.MonkeyPatch) -> None:
    """Keras' own default epsilon (1e-3) instead of the language's."""
    wrap(mp, keras_lower.KERAS, BatchNorm, lambda low, l_: calls(low, lambda c: kw(c, EPS)))


@planted("pytorch", "input 4x4x3; conv 3 1; batchnorm eps=0.001", at="batchnorm_1")
def torch_bn_eps(mp: pytest.MonkeyPatch) -> None:
    drop = ("eps",)
    wrap(mp, torch_lower.PYTORCH, BatchNorm, lambda low, l_: modules(low, lambda c: kw(c, drop)))


@planted("keras", "input 4x4x3; conv 3 1; layernorm", at="layernorm_1")
def keras_ln_eps(mp: pytest.MonkeyPatch) -> None:
    wrap(mp, keras_lower.KERAS, LayerNorm, lambda low, l_: calls(low, lambda c: kw(c, EPS)))


@planted(
    "keras",
    "input 4x4x3; conv 3 1; batchnorm",
    at="batchnorm_1",
    verify_hole=MOMENTUM_HOLE,
    property_hole=MOMENTUM_HOLE,
)
def keras_bn_momentum(mp: pytest.MonkeyPatch) -> None:
    """The language's momentum (PyTorch's convention) passed to Keras unconverted."""

    def change(low: Any, layer: BatchNorm) -> Any:
        return calls(low, lambda c: kw(c, momentum=layer.momentum))

    wrap(mp, keras_lower.KERAS, BatchNorm, change)


@planted("pytorch", "input 4x4x3; conv 3 1; batchnorm", at="batchnorm_1")
def torch_norm_gamma_beta_swapped(mp: pytest.MonkeyPatch) -> None:
    mp.setitem(torch_lower._NORM, "gamma", ("bias", SAME))
    mp.setitem(torch_lower._NORM, "beta", ("weight", SAME))


# 9. pooling over padding


@planted("pytorch", "input 6x6x2; pool avg 3 stride=1 same", at="pool_1")
def torch_avg_counts_pad(mp: pytest.MonkeyPatch) -> None:
    drop = ("count_include_pad",)
    wrap(mp, torch_lower.PYTORCH, Pool, lambda low, l_: modules(low, lambda c: kw(c, drop)))


@planted("keras", "input 5x5x2; pool avg 3 stride=1 pad=(2,0,0,2)", at="pool_1")
def keras_padded_avg_counts_pad(mp: pytest.MonkeyPatch) -> None:
    helper = keras_lower.PADDED_POOLING.replace("return total / count", "return total")
    assert helper != keras_lower.PADDED_POOLING
    mp.setattr(keras_lower, "PADDED_POOLING", helper)


@planted("pytorch", "input 5x5x2; conv 2 1; pool max 2 stride=2 same", at="pool_1")
def torch_maxpool_pads_zero(mp: pytest.MonkeyPatch) -> None:
    real = torch_lower._padded_pool

    def buggy(layer: Pool, node: Any, ctx: Any, module: Call) -> Any:
        return steps(real(layer, node, ctx, module), "F.pad", lambda c: kw(c, ("value",)))

    mp.setattr(torch_lower, "_padded_pool", buggy)


# 10. leaky_relu slope defaults


@planted("keras", "input 5x5x2; conv 3 3 leaky_relu", at="conv_1")
def keras_leaky_default(mp: pytest.MonkeyPatch) -> None:
    code = lambda alpha, approx, name, ctx: Call.of("layers.LeakyReLU", name=name)  # noqa: E731
    mp.setitem(keras_lower.ACTIVATIONS, "leaky_relu", code)


@planted("pytorch", "input 5x5x2; conv 3 3; leaky_relu alpha=0.2", at="leaky_relu_1")
def torch_leaky_default(mp: pytest.MonkeyPatch) -> None:
    mp.setitem(torch_lower.ACTIVATIONS, "leaky_relu", lambda x, a, ap, ctx: ctx.F("leaky_relu", x))


# 11. gelu's tanh form for erf


@planted("pytorch", "input 8x3; conv 4 3 gelu", at="conv_1")
def torch_gelu_tanh(mp: pytest.MonkeyPatch) -> None:
    code = lambda x, a, ap, ctx: ctx.F("gelu", x, approximate="tanh")  # noqa: E731
    mp.setitem(torch_lower.ACTIVATIONS, "gelu", code)


@planted("keras", "input 8x3; conv 4 3; gelu", at="gelu_1", property_limit=GELU_LIMIT)
def keras_gelu_tanh(mp: pytest.MonkeyPatch) -> None:
    real = keras_lower.ACTIVATIONS["gelu"]
    mp.setitem(keras_lower.ACTIVATIONS, "gelu", lambda a, ap, name, ctx: real(a, True, name, ctx))


# 12. bilinear resize


@planted("pytorch", "input 4x4x2; upsample 2 bilinear", at="upsample_1")
def torch_bilinear_align_corners(mp: pytest.MonkeyPatch) -> None:
    def change(low: Any, layer: Upsample) -> Any:
        if layer.mode != "bilinear":
            return low
        return steps(low, "F.interpolate", lambda c: kw(c, align_corners=True))

    wrap(mp, torch_lower.PYTORCH, Upsample, change)


@planted("keras", "input 4x4x2; upsample 2 bilinear", at="upsample_1")
def keras_bilinear_nearest(mp: pytest.MonkeyPatch) -> None:
    wrap(
        mp,
        keras_lower.KERAS,
        Upsample,
        lambda low, l_: calls(low, lambda c: kw(c, ("interpolation",))),
    )


# 13. concat order


@planted("pytorch", "input 4x4x2; concat { branch { } branch { conv 3 1 } }", at="concat_1")
def torch_concat_reversed(mp: pytest.MonkeyPatch) -> None:
    real = torch_lower.PYTORCH.lookup(Concat)

    def buggy(layer: Concat, node: Any, ctx: Any) -> Any:
        ins, ctx.ins = ctx.ins, ctx.ins[::-1]
        try:
            return real(layer, node, ctx)
        finally:
            ctx.ins = ins

    mp.setitem(torch_lower.PYTORCH._entries, Concat, buggy)


# 14. transposed conv layout


@planted("pytorch", "input 4x4x3; deconv 3 3 stride=2", at="deconv_1")
def torch_deconv_in_out(mp: pytest.MonkeyPatch) -> None:
    """ConvTranspose's weight taken as (out, in, k...) like Conv's."""

    def change(low: Any, layer: Deconv) -> Any:
        r = len(layer.kernel)
        params = relayout(low.params, "kernel", lambda _: Layout((r, r + 1, *range(r))))
        return dataclasses.replace(low, params=params)

    wrap(mp, torch_lower.PYTORCH, Deconv, change)


@planted("pytorch", "input 4x4x3; deconv 3 3 stride=2", at="deconv_1")
def torch_deconv_flipped(mp: pytest.MonkeyPatch) -> None:
    """The converter flips a transposed conv's kernel, as if it were a conv's adjoint."""

    def change(model: Any, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for node in model.nodes:
            if isinstance(node.layer, Deconv):
                w = state[f"{node.name}.weight"]
                state[f"{node.name}.weight"] = np.ascontiguousarray(
                    np.flip(w, tuple(range(2, w.ndim)))
                )
        return state

    after_to_pytorch(mp, change)


# 15. activation parameters and axes


@planted("pytorch", "input 6x3; conv 3 3; elu alpha=2.0", at="elu_1")
def torch_elu_alpha(mp: pytest.MonkeyPatch) -> None:
    mp.setitem(torch_lower.ACTIVATIONS, "elu", lambda x, a, ap, ctx: ctx.F("elu", x))


@planted("keras", "input 6x3; conv 3 3; elu alpha=2.0", at="elu_1")
def keras_elu_alpha(mp: pytest.MonkeyPatch) -> None:
    code = lambda a, ap, name, ctx: Call.of("layers.Activation", "elu", name=name)  # noqa: E731
    mp.setitem(keras_lower.ACTIVATIONS, "elu", code)


@planted("pytorch", "input 4x4x3; conv 3 1 softmax", at="conv_1")
def torch_softmax_last(mp: pytest.MonkeyPatch) -> None:
    """Softmax over the last axis, which is W in NCHW."""
    code = lambda x, a, ap, ctx: ctx.F("softmax", x, dim=-1)  # noqa: E731
    mp.setitem(torch_lower.ACTIVATIONS, "softmax", code)


@planted("pytorch", "input 4x4x1; conv 1 1 bias=false weights=[[8]]; relu6", at="relu6_1")
def torch_relu6_as_relu(mp: pytest.MonkeyPatch) -> None:
    mp.setitem(torch_lower.ACTIVATIONS, "relu6", lambda x, a, ap, ctx: ctx.F("relu", x))


# 16. the flatten plan


@planted("pytorch", "input 3x3x2; conv 2 1; flatten", at="flatten_1")
def flatten_plan_never_canonical(mp: pytest.MonkeyPatch) -> None:
    """The flatten plan finds no conflicts: every flatten stays NCHW, even the output."""
    real = order._walk
    mp.setattr(order, "_walk", lambda model, canonical: (real(model, canonical)[0], set()))


# more: dropout at inference


@planted("pytorch", "input 4x4x2; conv 2 1; dropout 0.5", at="dropout_1")
def torch_dropout_functional(mp: pytest.MonkeyPatch) -> None:
    """``F.dropout(x, p)``: its ``training`` defaults to True, eval() or not."""

    def buggy(layer: Dropout, node: Any, ctx: Any) -> Any:
        return torch_lower.Lowered([], [(ctx.F("dropout", ctx.x, p=layer.rate), None)])

    mp.setitem(torch_lower.PYTORCH._entries, Dropout, buggy)


# ----------------------------------------------------------------------------- hunts


def run_verify(bug: Bug) -> Any:
    model = cnndsl.parse(bug.model)
    x = np.random.default_rng(0).standard_normal((4, *model.input_shape)).astype(np.float32)
    return verify(model, probe_weights(model, 0), x)


@dataclass
class Found:
    examples: int  # models drawn up to and including the falsifying one
    source: str
    error: BaseException


def hunt(bug: Bug) -> Found | None:
    """Run the agreement property with ``bug`` planted; the first falsifying model, or None.
    Only the bug's framework is compared: the other one's code is untouched by it."""
    drawn: list[str] = []
    found: list[Found] = []

    @settings(
        max_examples=BUDGET,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # no shrinking: the first falsifying model is enough
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(src=models())
    def prop(src: str) -> None:
        drawn.append(src)
        try:
            agree(cnndsl.parse(src), 0, frameworks=(FRAMEWORK[bug.target],))
        except Exception as exc:
            if not found:
                found.append(Found(len(drawn), src, exc))
            raise

    with pytest.MonkeyPatch.context() as mp:
        bug.plant(mp)
        with contextlib.suppress(Exception):
            prop()
    return found[0] if found else None


# ----------------------------------------------------------------------------- tests


def _param(bug: Bug, hole: str | None, limit: str | None = None) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=hole)] if hole else []
    marks += [pytest.mark.xfail(strict=False, reason=limit)] if limit else []
    return pytest.param(bug, id=bug.name, marks=marks)


@pytest.mark.parametrize("bug", [_param(b, None) for b in BUGS])
def test_fixed_model_passes_without_its_bug(bug: Bug) -> None:
    """The control: a fixed model that failed anyway would prove nothing."""
    assert run_verify(bug).passed


@pytest.mark.parametrize("bug", [_param(b, b.verify_hole) for b in BUGS])
def test_verify_catches(bug: Bug, monkeypatch: pytest.MonkeyPatch) -> None:
    bug.plant(monkeypatch)
    if bug.refused is not None:
        with pytest.raises(bug.refused):
            run_verify(bug)
        return
    report = run_verify(bug)
    failing = {p.b for p in report.pairs if p.a == "numpy" and not p.passed}
    # a bug in the shared weight converter or flatten plan reaches ONNX too, which reads
    # the same mechanism as PyTorch; any other bug must stay in its own framework
    allowed = {bug.target, "onnx"} if bug.target == "pytorch" else {bug.target}
    assert bug.target in failing and failing <= allowed, f"{bug.target}: got {failing}"
    assert not report.passed
    assert report.diverges_at[bug.target].name == bug.at


@pytest.mark.parametrize("bug", [_param(b, b.property_hole, b.property_limit) for b in BUGS])
def test_property_catches(bug: Bug) -> None:
    found = hunt(bug)
    assert found is not None, f"{BUDGET} random models, none falsified by {bug.name}"
    print(f"{bug.name}: falsified by model {found.examples} ({type(found.error).__name__})")
    # the failure is the bug's: the same model agrees once the bug is gone
    agree(cnndsl.parse(found.source), 0, frameworks=(FRAMEWORK[bug.target],))
