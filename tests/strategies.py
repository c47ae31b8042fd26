"""Hypothesis strategies that build only valid models, by construction.

The strategy tracks the tensor's shape while it draws layers, using the closed
formula out = floor((n + pads - d*(k-1) - 1) / s) + 1 written here (not the
checker's code), and only draws options under which every size stays >= 1.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

ACTS = [
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "softmax",
]


def _out(n: int, total_pad: int, k: int, s: int, d: int) -> int:
    return (n + total_pad - d * (k - 1) - 1) // s + 1


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's 'same' split: the extra row/column at the end."""
    total = max((_ceil_div(n, s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


@st.composite
def _window(draw, sizes: list[int], pool: bool):
    """Kernel, stride, dilation, padding text and output sizes for one conv or pool."""
    r = len(sizes)
    k = [draw(st.integers(1, 4)) for _ in range(r)]
    if pool or draw(st.booleans()):
        s, d = [draw(st.integers(1, 3)) for _ in range(r)], [1] * r
    else:
        s, d = [1] * r, [draw(st.integers(1, 2)) for _ in range(r)]
    # explicit padding: "pad" any split, "sym" the same both sides (what frameworks pad
    # natively), "mirror" 'same''s totals split the other way, (1, 0) where 'same' pads
    # (0, 1): what a lowering that maps written pads onto a padding mode must tell apart
    mode = draw(st.sampled_from(["valid", "same", "full", "pad", "sym", "mirror"]))
    if mode == "same":
        out = [_ceil_div(n, si) for n, si in zip(sizes, s)]
        text = "same"
    elif mode == "full":
        out = [_out(n, 2 * di * (ki - 1), ki, si, di) for n, ki, si, di in zip(sizes, k, s, d)]
        text = "full"
    elif mode in ("pad", "sym", "mirror"):
        limit = [ki - 1 if pool else 2 for ki in k]  # pooling pads stay below the window
        if mode == "mirror":
            pads = [_same(*a)[::-1] for a in zip(sizes, k, s, d)]
        elif mode == "sym":
            pads = [(p, p) for p in (draw(st.integers(min(lim, 1), lim)) for lim in limit)]
        else:
            pads = [(draw(st.integers(0, lim)), draw(st.integers(0, lim))) for lim in limit]
        out = [_out(n, a + b, ki, si, di) for n, (a, b), ki, si, di in zip(sizes, pads, k, s, d)]
        flat = [p for pair in pads for p in pair]
        text = f"pad=({','.join(map(str, flat))})"
    else:
        out = [_out(n, 0, ki, si, di) for n, ki, si, di in zip(sizes, k, s, d)]
        text = ""
    if min(out) < 1:
        text = "same"
        out = [_ceil_div(n, si) for n, si in zip(sizes, s)]
    x = "x".join
    opts = f"{x(map(str, k))} {text} stride={x(map(str, s))}"
    if not pool:
        opts += f" dilation={x(map(str, d))}"
    return opts, out


class State:
    """The tensor while a model is drawn: spatial sizes and channels, channels last."""

    def __init__(self, sizes: list[int], c: int) -> None:
        self.sizes, self.c = sizes, c
        self.names = 0  # tensors named so far (j1, j2...)

    @property
    def r(self) -> int:
        return len(self.sizes)


def _nested(values: list[int], shape: list[int]) -> str:
    if not shape:
        return str(values[0])
    step = len(values) // shape[0]
    rows = (_nested(values[i : i + step], shape[1:]) for i in range(0, len(values), step))
    return "[" + ",".join(rows) + "]"


def _literal(draw, shape: list[int]) -> str:
    """A kernel written in the source: small integers that never repeat in a pattern a
    transposed or flipped layout would reproduce (a constant kernel hides layout bugs)."""
    a, b = draw(st.integers(0, 6)), draw(st.integers(1, 6))
    return _nested([(a + b * i) % 7 - 3 for i in range(math.prod(shape))], shape)


def _conv(draw, t: State) -> str:
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if t.c % g == 0]))
    filters = groups * draw(st.integers(1, 3))
    cin = t.c
    opts, t.sizes = draw(_window(t.sizes, pool=False))
    act, bias = draw(st.sampled_from(ACTS)), draw(st.booleans())
    t.c = filters
    text = f"conv {filters} {opts} {act} groups={groups} bias={'true' if bias else 'false'}"
    # sometimes a fixed kernel (`weights=`): the generated code carries it as a literal
    shape = [int(k) for k in opts.split()[0].split("x")] + [cin // groups, filters]
    if math.prod(shape) <= 72 and draw(st.integers(0, 3)) == 0:
        text += f" weights={_literal(draw, shape)}"
    return text


def _pool(draw, t: State) -> str:
    op = draw(st.sampled_from(["max", "avg"]))
    opts, t.sizes = draw(_window(t.sizes, pool=True))
    return f"pool {op} {opts}"


def _batchnorm(draw, t: State) -> str:
    return f"batchnorm eps={draw(st.sampled_from(['1e-5', '0.001', '0.1']))}"


def _activation(draw, t: State) -> str:
    fn = draw(st.sampled_from([*ACTS, "leaky_relu", "elu", "gelu"]))  # parameters: twice
    extra = ""
    # the default alpha is drawn inline (conv ... leaky_relu); here mostly written ones
    if fn in ("leaky_relu", "elu") and draw(st.integers(0, 3)):
        extra = f" alpha={draw(st.sampled_from(['0.1', '0.3', '2.0']))}"
    if fn == "gelu" and draw(st.booleans()):
        extra = " approximate=true"
    return f"{fn}{extra}"


def _separable(draw, t: State) -> str:
    f = draw(st.integers(1, 4))
    opts, t.sizes = draw(_window(t.sizes, pool=False))
    m = draw(st.integers(1, 2))
    t.c = f
    return (
        f"separable {f} {opts} multiplier={m} {draw(st.sampled_from(ACTS))} "
        f"bias={'true' if draw(st.booleans()) else 'false'}"
    )


def _deconv(draw, t: State) -> str:
    f = draw(st.integers(1, 4))
    k = [draw(st.integers(1, 4)) for _ in range(t.r)]
    s_ = [draw(st.integers(1, 3)) for _ in range(t.r)]
    same = draw(st.booleans())
    x = "x".join
    t.sizes = [n * si + (0 if same else max(ki - si, 0)) for n, ki, si in zip(t.sizes, k, s_)]
    t.c = f
    return (
        f"deconv {f} {x(map(str, k))} stride={x(map(str, s_))} "
        f"{'same' if same else 'valid'} {draw(st.sampled_from(ACTS))}"
    )


def _layernorm(draw, t: State) -> str:
    # eps >= 1e-3: a near-constant position (C = 1 or 2 channels after sigmoids) makes
    # float32 rounding grow by 1/sqrt(var + eps), up to 300x at eps=1e-5 (measured:
    # 2e-5 between NumPy and PyTorch); that is float32's limit, not a disagreement
    return f"layernorm eps={draw(st.sampled_from(['0.001', '0.01', '0.1']))}"


def _depthwise(draw, t: State) -> str:
    m = draw(st.integers(1, 2))
    opts, t.sizes = draw(_window(t.sizes, pool=False))
    t.c *= m
    return f"depthwise {opts} multiplier={m} {draw(st.sampled_from(ACTS))}"


def _upsample(draw, t: State) -> str:
    f = [draw(st.integers(1, 2)) for _ in range(t.r)]
    mode = draw(st.sampled_from(["nearest", "bilinear"])) if t.r == 2 else "nearest"
    if mode == "bilinear" and f == [1, 1]:  # an identity resize interpolates nothing
        f[draw(st.integers(0, 1))] = 2
    t.sizes = [n * fi for n, fi in zip(t.sizes, f)]
    return f"upsample {'x'.join(map(str, f))} {mode}"


def _residual(draw, t: State) -> str:
    """Residual blocks, drawn for `add`: a body that keeps the shape (stride 1, 'same'),
    or one with stride s and new channels, projected alike; or joins by name: ``add j``
    right after ``j`` reads j twice (j + j), and the next ``add j`` reads it once more
    (an interpreter that freed j after its first reader's two reads failed on it)."""
    how = draw(st.sampled_from(["same", "projected", "joins"]))
    if how == "same":
        k, act = draw(st.integers(1, 3)), draw(st.sampled_from(ACTS))
        return f"residual {{ conv {t.c} {k} same {act}; batchnorm }}"
    if how == "joins":
        t.names += 1
        return f"relu name=j{t.names}\nadd j{t.names}\nadd j{t.names}"
    s_, f = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    t.sizes, t.c = [_ceil_div(n, s_) for n in t.sizes], f
    return (
        f"residual {{ conv {f} 3 same stride={s_}; batchnorm\n"
        f"  shortcut {{ conv {f} 1 stride={s_} }} }}"
    )


def _concat(draw, t: State) -> str:
    """Branches that keep the size; one may be the input itself."""
    branches, total = [], 0
    for _ in range(draw(st.integers(2, 3))):
        which = draw(st.sampled_from(["empty", "conv", "pool"]))
        if which == "empty":
            branches.append("branch { }")
            total += t.c
        elif which == "conv":
            f = draw(st.integers(1, 4))
            branches.append(f"branch {{ conv {f} {draw(st.integers(1, 3))} same relu }}")
            total += f
        else:
            branches.append("branch { pool max 3 stride=1 same }")
            total += t.c
    t.c = total
    return "concat { " + " ".join(branches) + " }"


def _dropout(draw, t: State) -> str:
    return f"dropout {draw(st.sampled_from(['0', '0.25', '0.5']))}"


def _zeropad(draw, t: State) -> str:
    pads = [draw(st.integers(0, 2)) for _ in range(2 * t.r)]
    t.sizes = [n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(t.sizes)]
    return f"zeropad ({','.join(map(str, pads))})"


def _crop(draw, t: State) -> str:
    """Crops that leave every size >= 1: before + after <= n - 1 on each axis."""
    crops = []
    for n in t.sizes:
        before = draw(st.integers(0, min(n - 1, 2)))
        crops += [before, draw(st.integers(0, min(n - 1 - before, 2)))]
    t.sizes = [n - crops[2 * i] - crops[2 * i + 1] for i, n in enumerate(t.sizes)]
    return f"crop ({','.join(map(str, crops))})"


def _prelu(draw, t: State) -> str:
    return "prelu"


def _flatten(draw, t: State) -> str:
    t.sizes, t.c = [], math.prod(t.sizes) * t.c
    return "flatten"


def _dense(draw, t: State) -> str:
    """Sometimes square (units = input features): a transposed kernel keeps its shape."""
    units = draw(st.integers(1, 5) | st.just(t.c)) if t.c <= 64 else draw(st.integers(1, 5))
    t.c = units
    return f"dense {units} {draw(st.sampled_from(ACTS))}"


def _flatten_head(draw, t: State, graphs: bool) -> str:
    """Flatten, alone or joined with other features: the flatten plan must keep PyTorch's
    NCHW order only where the weight converter can permute it away."""
    c, flat = t.c, math.prod(t.sizes) * t.c
    how = draw(st.sampled_from(["alone", "concat", "add"])) if graphs else "alone"
    t.sizes, t.c = [], flat
    if how == "concat":  # flattened features beside per-channel ones
        t.c = flat + c
        op = draw(st.sampled_from(["avg", "max"]))
        return f"concat {{ branch {{ flatten }} branch {{ globalpool {op} }} }}"
    if how == "add" and flat <= 64:  # (C, H, W)-ordered features added to (H, W, C) ones
        return f"add {{ branch {{ flatten }} branch {{ flatten; dense {flat} }} }}"
    return "flatten"


def _globalpool(draw, t: State) -> str:
    t.sizes = []
    return f"globalpool {draw(st.sampled_from(['avg', 'max']))}"


#: A drawer for every kind of the registry, by KIND (tests/test_design.py fails when one
#: is missing). ``BODY`` kinds keep a sequence or image a sequence or image and may come
#: anywhere; the others end the model (``HEAD``) or start it.
DRAWERS = {
    "input": None,  # drawn by linear_models itself
    "conv": _conv,
    "pool": _pool,
    "batchnorm": _batchnorm,
    "activation": _activation,
    "dropout": _dropout,
    "zeropad": _zeropad,
    "crop": _crop,
    "prelu": _prelu,
    "depthwise": _depthwise,
    "upsample": _upsample,
    "separable": _separable,
    "layernorm": _layernorm,
    "deconv": _deconv,
    "add": _residual,
    "concat": _concat,
    "flatten": _flatten,
    "dense": _dense,
    "globalpool": _globalpool,
}
HEAD = {"flatten", "dense", "globalpool"}
GRAPH = {"add", "concat"}
#: kinds that enlarge the tensor, not drawn once it holds MAX_ELEMENTS (CI time)
GROWS = {"upsample", "deconv", "zeropad", "concat", "depthwise"}
MAX_ELEMENTS = 2048


def _fits(kind: str | None, t: State) -> bool:
    """Layer norm over one channel is beta whatever the input, and Keras computes it as a
    difference of two terms of size |x| / sqrt(eps): float32 noise, not a disagreement."""
    return kind != "layernorm" or t.c > 1


@st.composite
def linear_models(draw, max_layers: int = 6, head: bool = True, graphs: bool = False) -> str:
    """A valid model's source: 1-D or 2-D input, any layer kind and option; with ``graphs``,
    residual blocks (with and without projection) and concatenated branches too."""
    r = draw(st.sampled_from([1, 2]))
    t = State([draw(st.integers(3, 10)) for _ in range(r)], draw(st.integers(1, 4)))
    lines = [f"input {'x'.join(map(str, [*t.sizes, t.c]))}"]
    body = [k for k in DRAWERS if k != "input" and k not in HEAD and (graphs or k not in GRAPH)]
    # the workhorse, and the kinds with the most variants (padding modes, alphas), twice
    body += ["conv", "pool", "activation"]
    for _ in range(draw(st.integers(1, max_layers))):
        big = math.prod(t.sizes) * t.c > MAX_ELEMENTS
        kinds = [k for k in body if not (big and k in GROWS) and _fits(k, t)]
        lines.append(DRAWERS[draw(st.sampled_from(kinds))](draw, t))
        if draw(st.integers(0, 2)) == 0:  # conv; batchnorm; relu: activations of their own
            lines.append(_activation(draw, t))
    if head and graphs and draw(st.integers(0, 3)) == 0:
        lines.append(_globalpool(draw, t))
        if draw(st.booleans()):  # on a vector whose order no flatten changed
            lines.append(_prelu(draw, t))
        lines.append(_dense(draw, t))
    elif head and draw(st.booleans()):
        lines.append(_flatten_head(draw, t, graphs))
        # per-feature norms over flattened features: their vectors follow the flatten order
        norm = draw(st.sampled_from([n for n in (None, "batchnorm", "layernorm") if _fits(n, t)]))
        if norm:
            lines.append(DRAWERS[norm](draw, t))
        # sometimes the model ends on the flattened features; sometimes two dense layers
        for _ in range(draw(st.sampled_from([1, 2, 0]))):
            lines.append(_dense(draw, t))
    return "\n".join(lines) + "\n"


def models(max_layers: int = 16) -> st.SearchStrategy[str]:
    """Valid models, chains and graphs alike; deep enough that each one exercises many
    kinds and options (tests/test_planted_bugs.py measures what that buys)."""
    return linear_models(max_layers=max_layers, graphs=True)
