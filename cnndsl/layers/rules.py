"""Shape rules shared by the kinds that slide a window (conv, pool, depthwise, separable,
zero padding): ranks, per-axis sizes, padding modes and the output-size formula."""

from __future__ import annotations

from ..options import ChoiceT
from .base import Layer, LayerError, Shape, fmt_shape

PADDINGS: tuple[str, ...] = ("valid", "same", "full")
PADDING = ChoiceT(PADDINGS, "padding")
ACTIVATIONS: tuple[str, ...] = (
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
)
#: Defaults the language picks (documented in docs/language.md, spelled out by every backend).
LEAKY_RELU_ALPHA = 0.01
ELU_ALPHA = 1.0

ACTIVATION = ChoiceT(ACTIVATIONS, "activation")


def spatial_rank(kind: str, shape: Shape) -> int:
    """Conv and pool work on sequences (L x C) and images (H x W x C)."""
    if len(shape) not in (2, 3):
        raise LayerError(
            f"{kind} needs a sequence (length x channels) or an image "
            f"(height x width x channels), but its input is {describe(shape)}",
            hint="a flattened tensor cannot be convolved; move flatten/dense after it",
        )
    return len(shape) - 1


def describe(shape: Shape) -> str:
    names = {1: "a vector", 2: "a sequence", 3: "an image"}
    return f"{names.get(len(shape), 'a tensor')} of shape {fmt_shape(shape)}"


def fit_rank(kind: str, name: str, value: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """``3`` means ``3x3`` on an image and ``3`` on a sequence; ``3x3`` on a sequence is wrong."""
    if len(value) == rank:
        return value
    if len(value) == 1:
        return value * rank
    what = "an image (2 sizes)" if rank == 2 else "a sequence (1 size)"
    raise LayerError(
        f"{name} {fmt_shape(value)} has {len(value)} sizes, but the input is {what}",
        field=name,
        hint=f"write {name}={value[0]}" if rank == 1 else None,
    )


def resolve_pad(
    kind: str, pad: tuple[int, ...], rank: int, field: str = "pad"
) -> tuple[tuple[int, int], ...]:
    """Explicit padding (or cropping: ``field``) as written -> one (before, after) pair per
    spatial axis."""
    if len(pad) == 1:
        return ((pad[0], pad[0]),) * rank
    if rank == 1 and len(pad) == 2:
        return ((pad[0], pad[1]),)
    if rank == 2 and len(pad) == 2:
        return ((pad[0], pad[0]), (pad[1], pad[1]))
    if rank == 2 and len(pad) == 4:
        return ((pad[0], pad[1]), (pad[2], pad[3]))
    raise LayerError(
        f"{field} has {len(pad)} numbers, but a sequence takes 1 or (before, after)",
        field=field,
    )


def auto_pads(
    mode: str, sizes: Shape, kernel: Shape, stride: Shape, dilation: Shape
) -> tuple[tuple[int, int], ...]:
    """valid: none; full: k_eff - 1 each side; same: TensorFlow's split, the extra
    row/column at the bottom/right, so that out = ceil(n / stride)."""
    pads = []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        keff = d * (k - 1) + 1
        if mode == "valid":
            pads.append((0, 0))
        elif mode == "full":
            pads.append((keff - 1, keff - 1))
        else:  # same
            out = -(-n // s)
            total = max((out - 1) * s + keff - n, 0)
            pads.append((total // 2, total - total // 2))
    return tuple(pads)


AXES = {1: ("length",), 2: ("height", "width")}


def window_out(
    kind: str,
    sizes: Shape,
    kernel: Shape,
    stride: Shape,
    dilation: Shape,
    pads: tuple[tuple[int, int], ...],
    kernel_field: str,
) -> Shape:
    """out = floor((n + pad_total - dilation*(k-1) - 1) / stride) + 1, per axis."""
    out = []
    for axis, n, k, s, d, (pb, pa) in zip(AXES[len(sizes)], sizes, kernel, stride, dilation, pads):
        o = (n + pb + pa - d * (k - 1) - 1) // s + 1
        if o < 1:
            sub = f"{k}" if d == 1 else f"{d * (k - 1) + 1}"
            arith = (
                f"({n} + {pb + pa} - {k}) // {s} + 1 = {o}"
                if d == 1
                else f"({n} + {pb + pa} - {d}*({k}-1) - 1) // {s} + 1 = {o}"
            )
            raise LayerError(
                f"{kernel_field} {fmt_shape(kernel)} does not fit the {axis} of the input: {arith}",
                field=kernel_field,
                hint=f"the {axis} is {n} with {pb + pa} padding, the window spans {sub}; "
                "use a smaller window, padding 'same', or fewer pooling layers before it",
            )
        out.append(o)
    return tuple(out)


# ---------------------------------------------------------------- layer kinds


class Windowed(Layer):
    """Shared by the kinds that slide a window over padded input (conv, pool, depthwise,
    separable): they have ``padding`` (a mode) and ``pad`` (explicit; after binding, the
    resolved (before, after) per axis, flattened)."""

    padding: str
    pad: tuple[int, ...] | None

    def check_options(self) -> None:
        _check_pad_mode(self.padding, self.pad)

    def pads(self) -> tuple[tuple[int, int], ...]:
        """(before, after) per spatial axis; only on a bound layer."""
        assert self.pad is not None
        return tuple(zip(self.pad[0::2], self.pad[1::2]))


def _check_pad_mode(padding: str, pad: tuple[int, ...] | None) -> None:
    if pad is not None and padding != "valid":
        raise LayerError(
            f"give either padding ({padding}) or an explicit pad=, not both", field="pad"
        )
