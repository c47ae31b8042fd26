"""Checking, linting and code generation do work linear in the model's size.

Wall time cannot show this in a test (no timed assertions; bench/bench_check.py prints
the time ratios, which a shared machine's caches and load move by 10-20%). The lines of
Python executed can: they are the same on every run and every machine. A model four
times as long must execute at most 4.2 times the lines (fixed costs make it less). A
quadratic pass, such as the name lookup by scan that code generation once had, executes
16 times the lines at 4 times the size: the last test plants one and sees it caught.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

import cnndsl
from cnndsl.backends import emit
from cnndsl.ir import Model

#: at 4 times the model, at most this many times the lines
LINEAR = 4.2

UNIT = """\
block unit(c) {
  residual { conv c 3x3 same bias=false; batchnorm; relu; conv c 3x3 same; batchnorm }
  relu
}
"""


def source(stages: int) -> str:
    """A model of ``stages`` stages (blocks, repeat, residuals, names, shapes 8x8x8)."""
    lines = ["model lin", UNIT, "input 8x8x8"]
    for i in range(stages):
        lines += [
            f"stage s{i} {{ unit 8; repeat 2 {{ unit 8 }} }}",
            f"conv 8 3 same dilation=2 name=c{i}; leaky_relu alpha=0.1; dropout 0.1",
            "zeropad 1; pool max 3 stride=1; conv 8 1x1 bias=false groups=2",
        ]
    lines.append("flatten; dense 10 softmax")
    return "\n".join(lines) + "\n"


def lines_run(fn: Callable[[], object]) -> int:
    """Lines of Python that ``fn()`` executes (sys.settrace's line events)."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def call(frame: FrameType, event: str, arg: Any) -> Any:
        return local

    old = sys.gettrace()
    sys.settrace(call)
    try:
        fn()
    finally:
        sys.settrace(old)
    return count


JOBS: dict[str, Callable[[str], Callable[[], object]]] = {
    "parse+check": lambda text: lambda: cnndsl.parse(text),
    "lint": lambda text: (lambda m: lambda: cnndsl.lint(m, text))(cnndsl.parse(text)),
    "compile pytorch": lambda text: (lambda m: lambda: emit(m, "pytorch"))(cnndsl.parse(text)),
    "compile keras": lambda text: (lambda m: lambda: emit(m, "keras"))(cnndsl.parse(text)),
}


def growth(job: Callable[[str], Callable[[], object]]) -> float:
    """Lines at 40 stages / lines at 10, after a run at 2 (lazy imports, caches)."""
    job(source(2))()
    small, large = (lines_run(job(source(n))) for n in (10, 40))
    return large / small


@pytest.mark.parametrize("name", sorted(JOBS))
def test_work_is_linear_in_the_model(name: str) -> None:
    nodes = (len(cnndsl.parse(source(n)).nodes) for n in (10, 40))
    assert next(nodes) * 3.9 < next(nodes)  # the model does grow 4 times
    assert growth(JOBS[name]) <= LINEAR, name


def test_a_planted_quadratic_lookup_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model.node finding a node by scanning the list, as it once did."""

    def scan(self: Model, name: str) -> object:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    monkeypatch.setattr(Model, "node", scan)
    assert growth(JOBS["compile pytorch"]) > LINEAR  # 4.47: few lookups a node
    assert growth(JOBS["lint"]) > 3 * LINEAR  # 13.1: lint looks up every node's users
