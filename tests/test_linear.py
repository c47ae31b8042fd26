"""Checking, linting and code generation do work linear in the model's size.

Wall time cannot show this in a test (no timed assertions; bench/bench_check.py prints
the time ratios, which a shared machine's caches and load move by 10-20%). The lines of
Python executed can: they are the same on every run and every machine. A model four
times as long must execute at most 4.2 times the lines (fixed costs make it less), in
all and in every function that runs many of them: a quadratic pass executes 16 times
its lines at 4 times the size, and one small among the rest (a scan of the model for
each scope, which code generation had) shows in its own function, not in the total.
The last tests plant such passes and see them caught.
"""

from __future__ import annotations

import contextlib
import gc
import io
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import cnndsl
from cnndsl.backends import emit, tree
from cnndsl.cli import main
from cnndsl.ir import Model

#: at 4 times the model, at most this many times the lines
LINEAR = 4.2
#: a function running fewer lines than this on the larger model is not judged alone
MANY = 200

UNIT = """\
block unit(c) {
  residual { conv c 3x3 same bias=false; batchnorm; relu; conv c 3x3 same; batchnorm }
  relu
}
"""


def source(stages: int, far: bool = True) -> str:
    """A model of ``stages`` stages (blocks, repeat, residuals, branches, names, joins of
    near and far tensors by name; shapes 8x8x8)."""
    lines = ["model lin", UNIT, "input 8x8x8"]
    for i in range(stages):
        lines += [
            f"stage s{i} {{ unit 8; repeat 2 {{ unit 8 }} }}",
            f"conv 8 3 same dilation=2 name=c{i}; leaky_relu alpha=0.1; dropout 0.1",
            "zeropad 1; pool max 3 stride=1; conv 8 1x1 bias=false groups=2",
            "concat { branch { conv 4 1x1 relu }; branch { conv 4 3x3 same }; branch { } }",
            f"conv 8 1x1; add c{i}; {'add c0; ' if far else ''}concat c{i}; conv 8 1x1",
        ]
    lines.append("flatten; dense 10 softmax")
    return "\n".join(lines) + "\n"


Code = tuple[str, int, str]


def lines_run(fn: Callable[[], object]) -> Counter[Code]:
    """Lines of Python that ``fn()`` executes (sys.settrace's line events), by function."""
    count: Counter[Code] = Counter()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            code = frame.f_code
            count[code.co_filename, code.co_firstlineno, code.co_name] += 1
        return local

    def call(frame: FrameType, event: str, arg: Any) -> Any:
        return local

    old, collecting = sys.gettrace(), gc.isenabled()
    gc.disable()  # a collection runs other code: Hypothesis's gc callback, once it has run
    sys.settrace(call)
    try:
        fn()
    finally:
        sys.settrace(old)
        if collecting:
            gc.enable()
    return count


JOBS: dict[str, Callable[[str], Callable[[], object]]] = {
    "parse+check": lambda text: lambda: cnndsl.parse(text),
    "lint": lambda text: (lambda m: lambda: cnndsl.lint(m, text))(cnndsl.parse(text)),
    "compile pytorch": lambda text: (lambda m: lambda: emit(m, "pytorch"))(cnndsl.parse(text)),
    "compile keras": lambda text: (lambda m: lambda: emit(m, "keras"))(cnndsl.parse(text)),
}


def growth(
    job: Callable[[str], Callable[[], object]], far: bool = True
) -> tuple[float, dict[Code, float]]:
    """Lines at 40 stages / lines at 10 (after a run at 2: lazy imports, caches), in all,
    and of each function that runs at least MANY lines at 40 and grows more than LINEAR."""
    job(source(2, far))()
    small, large = (lines_run(job(source(n, far))) for n in (10, 40))
    worst = {
        code: lines / max(1, small[code])
        for code, lines in large.items()
        if lines >= MANY and lines > LINEAR * small[code]
    }
    return large.total() / small.total(), worst


#: whole commands, in-process ({m}: the model file, {o}: an output path)
COMMANDS = {
    "check --json": ["check", "--json", "{m}"],
    "summary": ["summary", "{m}"],
    "summary --json": ["summary", "--json", "{m}"],
    "explain": ["explain", "{m}"],
    "fmt": ["fmt", "--diff", "{m}"],
    "diagram svg": ["diagram", "{m}", "-o", "{o}.svg"],
    "diagram mermaid": ["diagram", "--format", "mermaid", "{m}", "-o", "{o}.mmd"],
    "diagram dot": ["diagram", "--format", "dot", "{m}", "-o", "{o}.dot"],
    "compile onnx": ["compile", "--target", "onnx", "{m}", "-o", "{o}.onnx"],
}


def command(argv: list[str], tmp: Path) -> Callable[[str], Callable[[], object]]:
    """A job running ``cnndsl *argv`` on the text written to a file under ``tmp``."""

    def job(text: str) -> Callable[[], object]:
        model = tmp / f"m{text.count(chr(10))}.cnn"
        model.write_text(text)
        args = [a.format(m=model, o=tmp / "out") for a in argv]

        def run() -> None:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(args)
            assert status == 0, err.getvalue()

        return run

    return job


@pytest.mark.parametrize("name", sorted(JOBS))
def test_work_is_linear_in_the_model(name: str) -> None:
    nodes = (len(cnndsl.parse(source(n)).nodes) for n in (10, 40))
    assert next(nodes) * 3.9 < next(nodes)  # the model does grow 4 times
    total, worst = growth(JOBS[name])
    assert total <= LINEAR and not worst, (name, total, worst)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_works_linear_in_the_model(name: str, tmp_path: Path) -> None:
    """The diagram found each box's prefix by a scan of all the groups (15.7x its lines).
    The SVG layout is linear in boxes and waypoints, one waypoint for each row an edge
    skips: edges from c0 to every stage make those grow with the square of the model by
    nature (MAX_BENDS bounds them: tests/test_diagram.py), so it draws the model without."""
    if name == "compile onnx":
        pytest.importorskip("onnx")
    total, worst = growth(command(COMMANDS[name], tmp_path), far=name != "diagram svg")
    assert total <= LINEAR and not worst, (name, total, worst)


def test_a_planted_quadratic_lookup_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model.node finding a node by scanning the list, as it once did."""

    def scan(self: Model, name: str) -> object:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    monkeypatch.setattr(Model, "node", scan)
    for name in ("lint", "compile pytorch", "compile keras"):
        total, worst = growth(JOBS[name])
        assert [code[2] for code in worst] == ["scan"], name  # 16x its lines
    assert total <= LINEAR  # compile keras: 3.85 in all, which alone would pass
    assert growth(JOBS["lint"])[0] > 3 * LINEAR  # 13.1: lint looks up every node's users


@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_a_planted_scan_a_scope_is_caught_in_its_function(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's outputs found again for each scope, as code generation did: 0.5% more
    lines in all (under LINEAR), 14x in the scan's own function."""
    boundaries = tree._boundaries

    def again(scope: tree.Scope, model: Model, results: frozenset[str]) -> None:
        boundaries(scope, model, frozenset(model.outputs))

    monkeypatch.setattr(tree, "_boundaries", again)
    total, worst = growth(JOBS[f"compile {target}"])
    assert total <= LINEAR  # the total alone would miss it
    assert [code[2] for code in worst] == ["<genexpr>"]  # Model.outputs' scan
