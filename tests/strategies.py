"""Hypothesis strategies that build only valid models, by construction.

The strategy tracks the tensor's shape while it draws layers, using the closed
formula out = floor((n + pads - d*(k-1) - 1) / s) + 1 written here (not the
checker's code), and only draws options under which every size stays >= 1.
"""

from __future__ import annotations

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


@st.composite
def _window(draw, sizes: list[int], pool: bool):
    """Kernel, stride, dilation, padding text and output sizes for one conv or pool."""
    r = len(sizes)
    k = [draw(st.integers(1, 4)) for _ in range(r)]
    if pool or draw(st.booleans()):
        s, d = [draw(st.integers(1, 3)) for _ in range(r)], [1] * r
    else:
        s, d = [1] * r, [draw(st.integers(1, 2)) for _ in range(r)]
    mode = draw(st.sampled_from(["valid", "same", "full", "pad"]))
    if mode == "same":
        out = [_ceil_div(n, si) for n, si in zip(sizes, s)]
        text = "same"
    elif mode == "full":
        out = [_out(n, 2 * di * (ki - 1), ki, si, di) for n, ki, si, di in zip(sizes, k, s, d)]
        text = "full"
    elif mode == "pad":
        limit = [ki - 1 if pool else 2 for ki in k]  # pooling pads stay below the window
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


@st.composite
def linear_models(draw, max_layers: int = 6, head: bool = True, graphs: bool = False) -> str:
    """A valid model's source: 1-D or 2-D input, any layer kind and option; with ``graphs``,
    residual blocks (with and without projection) and concatenated branches too."""
    r = draw(st.sampled_from([1, 2]))
    sizes = [draw(st.integers(3, 10)) for _ in range(r)]
    c = draw(st.integers(1, 4))
    lines = [f"input {'x'.join(map(str, [*sizes, c]))}"]
    kinds = ["conv", "conv", "pool", "batchnorm", "act", "dropout", "zeropad"]
    kinds += ["depthwise", "upsample", "separable", "layernorm", "deconv"]
    if graphs:
        kinds += ["residual", "residual_proj", "concat"]
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(kinds))
        if kind == "conv":
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
            filters = groups * draw(st.integers(1, 3))
            opts, sizes = draw(_window(sizes, pool=False))
            act = draw(st.sampled_from(ACTS))
            bias = draw(st.booleans())
            lines.append(
                f"conv {filters} {opts} {act} groups={groups} bias={'true' if bias else 'false'}"
            )
            c = filters
        elif kind == "pool":
            op = draw(st.sampled_from(["max", "avg"]))
            opts, sizes = draw(_window(sizes, pool=True))
            lines.append(f"pool {op} {opts}")
        elif kind == "batchnorm":
            lines.append(f"batchnorm eps={draw(st.sampled_from(['1e-5', '0.001', '0.1']))}")
        elif kind == "act":
            fn = draw(st.sampled_from(ACTS))
            extra = ""
            if fn in ("leaky_relu", "elu") and draw(st.booleans()):
                extra = f" alpha={draw(st.sampled_from(['0.1', '0.3', '2.0']))}"
            if fn == "gelu" and draw(st.booleans()):
                extra = " approximate=true"
            lines.append(f"{fn}{extra}")
        elif kind == "separable":
            f = draw(st.integers(1, 4))
            opts, sizes = draw(_window(sizes, pool=False))
            m = draw(st.integers(1, 2))
            lines.append(
                f"separable {f} {opts} multiplier={m} {draw(st.sampled_from(ACTS))} "
                f"bias={'true' if draw(st.booleans()) else 'false'}"
            )
            c = f
        elif kind == "deconv":
            f = draw(st.integers(1, 4))
            k = [draw(st.integers(1, 4)) for _ in range(r)]
            s_ = [draw(st.integers(1, 3)) for _ in range(r)]
            same = draw(st.booleans())
            x = "x".join
            lines.append(
                f"deconv {f} {x(map(str, k))} stride={x(map(str, s_))} "
                f"{'same' if same else 'valid'} {draw(st.sampled_from(ACTS))}"
            )
            sizes = [n * si + (0 if same else max(ki - si, 0)) for n, ki, si in zip(sizes, k, s_)]
            c = f
        elif kind == "layernorm":
            # eps >= 1e-3: a near-constant position (C = 1 or 2 channels after sigmoids) makes
            # float32 rounding grow by 1/sqrt(var + eps), up to 300x at eps=1e-5 (measured:
            # 2e-5 between NumPy and PyTorch); that is float32's limit, not a disagreement
            lines.append(f"layernorm eps={draw(st.sampled_from(['0.001', '0.01']))}")
        elif kind == "depthwise":
            m = draw(st.integers(1, 2))
            opts, sizes = draw(_window(sizes, pool=False))
            lines.append(f"depthwise {opts} multiplier={m} {draw(st.sampled_from(ACTS))}")
            c *= m
        elif kind == "upsample":
            f = [draw(st.integers(1, 2)) for _ in range(r)]
            mode = draw(st.sampled_from(["nearest", "bilinear"])) if r == 2 else "nearest"
            lines.append(f"upsample {'x'.join(map(str, f))} {mode}")
            sizes = [n * fi for n, fi in zip(sizes, f)]
        elif kind == "residual":  # a body that keeps the shape: stride 1, 'same'
            k = draw(st.integers(1, 3))
            act = draw(st.sampled_from(ACTS))
            lines.append(f"residual {{ conv {c} {k} same {act}; batchnorm }}")
        elif kind == "residual_proj":  # stride s and new channels, projected alike
            s_ = draw(st.integers(1, 2))
            f = draw(st.integers(1, 4))
            lines.append(
                f"residual {{ conv {f} 3 same stride={s_}; batchnorm\n"
                f"  shortcut {{ conv {f} 1 stride={s_} }} }}"
            )
            sizes, c = [_ceil_div(n, s_) for n in sizes], f
        elif kind == "concat":  # branches that keep the size; one may be the input itself
            branches, total = [], 0
            for _ in range(draw(st.integers(2, 3))):
                which = draw(st.sampled_from(["empty", "conv", "pool"]))
                if which == "empty":
                    branches.append("branch { }")
                    total += c
                elif which == "conv":
                    f = draw(st.integers(1, 4))
                    branches.append(f"branch {{ conv {f} {draw(st.integers(1, 3))} same relu }}")
                    total += f
                else:
                    branches.append("branch { pool max 3 stride=1 same }")
                    total += c
            lines.append("concat { " + " ".join(branches) + " }")
            c = total
        elif kind == "dropout":
            lines.append(f"dropout {draw(st.sampled_from(['0', '0.25', '0.5']))}")
        else:
            pads = [draw(st.integers(0, 2)) for _ in range(2 * r)]
            lines.append(f"zeropad ({','.join(map(str, pads))})")
            sizes = [n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(sizes)]
    if head and graphs and draw(st.integers(0, 3)) == 0:
        lines.append(f"globalpool {draw(st.sampled_from(['avg', 'max']))}")
        lines.append(f"dense {draw(st.integers(1, 5))} {draw(st.sampled_from(ACTS))}")
    elif head and draw(st.booleans()):
        lines.append("flatten")
        if draw(st.booleans()):
            lines.append("batchnorm")
        if draw(st.integers(0, 3)):  # sometimes the model ends on the flattened features
            lines.append(f"dense {draw(st.integers(1, 5))} {draw(st.sampled_from(ACTS))}")
    return "\n".join(lines) + "\n"


def models(max_layers: int = 6) -> st.SearchStrategy[str]:
    """Valid models, chains and graphs alike."""
    return linear_models(max_layers=max_layers, graphs=True)
