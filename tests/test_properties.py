"""Hypothesis properties: the shape rule is the closed formula; junk only raises CnnDslError."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

import cnndsl
from conftest import EXAMPLES


def formula(n: int, pad_total: int, k: int, s: int, d: int) -> int:
    """floor((n + pad_total - dilation*(k-1) - 1) / stride) + 1, written independently."""
    return math.floor((n + pad_total - d * (k - 1) - 1) / s) + 1


@st.composite
def conv_case(draw):
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    if draw(st.booleans()):
        s, d = (draw(st.integers(1, 4)), draw(st.integers(1, 4))), (1, 1)
    else:
        s, d = (1, 1), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple(draw(st.integers(0, 4)) for _ in range(4))
    mode = draw(st.sampled_from(["explicit", "valid", "same", "full"]))
    return h, w, kh, kw, s, d, pads, mode


@given(conv_case())
def test_conv2d_shape_is_the_closed_formula(case) -> None:
    h, w, kh, kw, s, d, (top, bot, left, right), mode = case
    opt = {
        "explicit": f"pad=({top},{bot},{left},{right})",
        "valid": "",
        "same": "same",
        "full": "full",
    }
    src = (
        f"input {h}x{w}x3\nconv 5 {kh}x{kw} {opt[mode]} stride={s[0]}x{s[1]} dilation={d[0]}x{d[1]}"
    )
    if mode == "valid":
        pt, pl = 0, 0
    elif mode == "full":
        pt, pl = 2 * d[0] * (kh - 1), 2 * d[1] * (kw - 1)
    elif mode == "explicit":
        pt, pl = top + bot, left + right
    if mode == "same":  # TensorFlow's rule: the output is ceil(n / stride)
        want = (math.ceil(h / s[0]), math.ceil(w / s[1]))
    else:
        want = (formula(h, pt, kh, s[0], d[0]), formula(w, pl, kw, s[1], d[1]))
    if min(want) >= 1:
        m = cnndsl.parse(src)
        assert m.output_shape == (*want, 5)
        assert m.total_params == kh * kw * 3 * 5 + 5
    else:
        try:
            cnndsl.parse(src)
        except cnndsl.CnnDslError as err:
            assert "does not fit" in err.render()
        else:  # pragma: no cover
            raise AssertionError(f"{src!r} should not fit")


@given(
    st.integers(1, 60),
    st.integers(1, 6),
    st.integers(1, 4),
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from(["max", "avg"]),
)
def test_pool1d_shape_is_the_closed_formula(n, k, s, pb, pa, op) -> None:
    assume(pb < k and pa < k)
    src = f"input {n}x4\npool {op} {k} stride={s} pad=({pb},{pa})"
    want = formula(n, pb + pa, k, s, 1)
    if want >= 1:
        assert cnndsl.parse(src).output_shape == (want, 4)
    else:
        try:
            cnndsl.parse(src)
        except cnndsl.CnnDslError:
            pass
        else:  # pragma: no cover
            raise AssertionError(src)


ALPHABET = "conv pool max avg dense flatten input relu same valid full x=;#\n ()[],.-0123456789_"


def only_cnndsl_errors(text: str) -> None:
    try:
        cnndsl.parse(text, "fuzz.cnn")
    except cnndsl.CnnDslError as err:
        rendered = err.render()
        assert rendered.startswith("fuzz.cnn:")
        assert all(d.span is not None for d in err.diagnostics)


@given(st.text(alphabet=ALPHABET, max_size=80))
def test_random_text_raises_only_cnndsl_error(text: str) -> None:
    only_cnndsl_errors(text)


@given(st.text(max_size=40))
def test_random_unicode_raises_only_cnndsl_error(text: str) -> None:
    only_cnndsl_errors(text)


SOURCES = [p.read_text() for p in sorted(EXAMPLES.glob("*.cnn"))]


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "swap_line"]))
        piece = draw(st.text(alphabet=ALPHABET, min_size=1, max_size=4))
        if op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 6)) :]
        elif op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "replace":
            text = text[:i] + piece + text[i + len(piece) :]
        else:
            lines = text.split("\n")
            j = draw(st.integers(0, len(lines) - 1))
            k = draw(st.integers(0, len(lines) - 1))
            lines[j], lines[k] = lines[k], lines[j]
            text = "\n".join(lines)
    return text


@given(mutated())
def test_mutated_examples_raise_only_cnndsl_error(text: str) -> None:
    only_cnndsl_errors(text)
