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
def linear_models(draw, max_layers: int = 6, head: bool = True) -> str:
    """A valid linear model's source: 1-D or 2-D input, any layer kind and option."""
    r = draw(st.sampled_from([1, 2]))
    sizes = [draw(st.integers(3, 10)) for _ in range(r)]
    c = draw(st.integers(1, 4))
    lines = [f"input {'x'.join(map(str, [*sizes, c]))}"]
    for _ in range(draw(st.integers(1, max_layers))):
        kind = draw(
            st.sampled_from(["conv", "conv", "pool", "batchnorm", "act", "dropout", "zeropad"])
        )
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
        elif kind == "dropout":
            lines.append(f"dropout {draw(st.sampled_from(['0', '0.25', '0.5']))}")
        else:
            pads = [draw(st.integers(0, 2)) for _ in range(2 * r)]
            lines.append(f"zeropad ({','.join(map(str, pads))})")
            sizes = [n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(sizes)]
    if head and draw(st.booleans()):
        lines.append("flatten")
        if draw(st.booleans()):
            lines.append("batchnorm")
        if draw(st.integers(0, 3)):  # sometimes the model ends on the flattened features
            lines.append(f"dense {draw(st.integers(1, 5))} {draw(st.sampled_from(ACTS))}")
    return "\n".join(lines) + "\n"
