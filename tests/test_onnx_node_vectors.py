"""ONNX's own node test vectors as an oracle for the NumPy backend.

The onnx wheel ships each operator's test cases (``onnx.backend.test.case.node``): a
one-node model and its input and output arrays, computed by ONNX's reference code.
Every case of the operators cnndsl lowers to is classified here: *run* through the
NumPy backend, or *not expressible* in the language, with the reason. A run case is a
one-layer ``.cnn`` model through ``forward`` (NCHW data moved channels last, weights put
in the canonical layout); merges, which need several inputs, and Pad's non-zero constant
run through their kernels (one plan per op in ``onnx_node_plans.py``). Every run case
must agree within ``cnndsl.verify.compare``'s tolerance. ``*_expanded`` cases (the same
data through the operator's function body) are not counted: their data is a case's own.

``collect_testcases(op)`` filters only on the first import of the case modules, so each
operator's module is imported here and the shared list read (about 7 s, mostly
MaxPool's and AveragePool's 3-D reference cases).

Readings the language's meaning allows, so that a case counts as expressible: auto_pad
SAME_UPPER is the language's ``same``, SAME_LOWER the explicit pads it resolves to;
``ceil_mode`` where it gives floor's output size; Gemm's ``alpha``/``beta`` folded into
kernel and bias, ``transA``/``transB`` and MatMul's leading axes as data layout; Softmax
and Concat on axis 1 read as the channel axis of NC... data, Slice on axis 2 as the
length of NCL data; Flatten's and element-wise ops' data read as channels-last samples;
Clip as relu6, relu or linear; nearest Resize by an integer factor whose rounding
repeats values; half_pixel_symmetric, which is half_pixel at integer scales. Extra
outputs are never compared: a case that exists to test one (argmax indices, dropout's
mask) is not expressible; LayerNormalization's Mean and InvStdDev are on every case of
it, so its Y is compared.

Counts with onnx 1.23.2 (``python tests/test_onnx_node_vectors.py`` prints this table):

<!-- counts -->
| op | cases | run+passed | not expressible |
|---|---|---|---|
| Conv | 6 | 6 | 0 |
| ConvTranspose | 11 | 3 | 8 |
| MaxPool | 19 | 10 | 9 |
| AveragePool | 20 | 9 | 11 |
| GlobalAveragePool | 2 | 2 | 0 |
| GlobalMaxPool | 2 | 2 | 0 |
| Gemm | 11 | 10 | 1 |
| MatMul | 7 | 3 | 4 |
| Relu | 1 | 1 | 0 |
| LeakyRelu | 3 | 3 | 0 |
| Elu | 3 | 3 | 0 |
| Gelu | 4 | 4 | 0 |
| Sigmoid | 2 | 2 | 0 |
| Tanh | 2 | 2 | 0 |
| Softmax | 7 | 6 | 1 |
| Clip | 12 | 2 | 10 |
| BatchNormalization | 4 | 2 | 2 |
| LayerNormalization | 19 | 7 | 12 |
| Concat | 12 | 8 | 4 |
| Add | 8 | 1 | 7 |
| Sum | 3 | 2 | 1 |
| Flatten | 9 | 3 | 6 |
| Pad | 6 | 3 | 3 |
| Resize | 39 | 5 | 34 |
| PRelu | 2 | 1 | 1 |
| Slice | 8 | 5 | 3 |
| Identity | 3 | 1 | 2 |
| Dropout | 12 | 4 | 8 |
| total | 237 | 110 | 127 |
<!-- /counts -->
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from onnx_node_plans import PLANS, Case

from cnndsl.verify import compare

onnx = pytest.importorskip("onnx")

#: op type -> the module of onnx.backend.test.case.node that holds its cases
MODULES = {
    "Conv": "conv", "ConvTranspose": "convtranspose", "MaxPool": "maxpool",
    "AveragePool": "averagepool", "GlobalAveragePool": "globalaveragepool",
    "GlobalMaxPool": "globalmaxpool", "Gemm": "gemm", "MatMul": "matmul", "Relu": "relu",
    "LeakyRelu": "leakyrelu", "Elu": "elu", "Gelu": "gelu", "Sigmoid": "sigmoid",
    "Tanh": "tanh", "Softmax": "softmax", "Clip": "clip",
    "BatchNormalization": "batch_normalization", "LayerNormalization": "layernormalization",
    "Concat": "concat", "Add": "add", "Sum": "sum", "Flatten": "flatten", "Pad": "pad",
    "Resize": "resize", "PRelu": "prelu", "Slice": "slice", "Identity": "identity",
    "Dropout": "dropout",
}  # fmt: skip


def _cases(tc: Any) -> list[Case]:
    node = tc.model.graph.node[0]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
    out = []
    for ins, outs in tc.data_sets:
        present = iter(ins)
        slots = [next(present) if name else None for name in node.input] + [None] * 5
        out.append(Case(tc.name, node.op_type, attrs, slots, list(outs)))
    return out


@functools.cache
def collected() -> dict[str, list[list[Case]]]:
    """op type -> its cases (each a list of one Case per data set)."""
    node_cases = importlib.import_module("onnx.backend.test.case.node")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for module in MODULES.values():
            importlib.import_module(f"onnx.backend.test.case.node.{module}")
    by_op: dict[str, list[list[Case]]] = {op: [] for op in MODULES}
    for tc in node_cases._NodeTestCases:
        nodes = tc.model.graph.node
        if "_expanded" not in tc.name and len(nodes) == 1 and nodes[0].op_type in by_op:
            by_op[nodes[0].op_type].append(_cases(tc))
    return by_op


# ---------------------------------------------------------------- classification


def refuse(c: Case) -> str | None:
    """Reasons shared by every op: the data's type and the rank of a spatial op."""
    if not isinstance(c.x, np.ndarray):
        return "a sequence or optional value, not a tensor"
    if c.x.dtype != np.float32 or c.outs[0].dtype != np.float32:
        return f"{c.x.dtype} data (the language is float32)"
    return None


def spatial_refuse(c: Case) -> str | None:
    if c.x.ndim == 5:
        return "3-D (the language has 1-D and 2-D layers)"
    if any(d != 1 for d in c.attrs.get("dilations", [1])):
        return "dilations" + (" (deconv has none)" if c.op == "ConvTranspose" else " in pooling")
    return None


@dataclass(frozen=True)
class Result:
    name: str
    reason: str | None  # why not expressible; None when run
    passed: bool = False
    max_abs: float = 0.0


def classify(op: str, data_sets: list[Case]) -> Result:
    name = data_sets[0].name
    first_case = data_sets[0]
    reason = refuse(first_case) or (
        spatial_refuse(first_case) if op in {"Conv", "ConvTranspose", "MaxPool", "AveragePool"}
        else None
    )  # fmt: skip
    if reason:
        return Result(name, reason)
    worst, passed = 0.0, True
    for case in data_sets:
        outcome = PLANS[op](case)
        if isinstance(outcome, str):
            return Result(name, outcome)
        got, want = outcome
        max_abs, _, ok = compare(np.asarray(got), want)
        worst, passed = max(worst, max_abs), passed and ok
    return Result(name, None, passed, worst)


@functools.cache
def results() -> dict[str, list[Result]]:
    return {op: [classify(op, ds) for ds in cases] for op, cases in collected().items()}


def table() -> str:
    rows = ["| op | cases | run+passed | not expressible |", "|---|---|---|---|"]
    total = [0, 0, 0]
    for op, rs in results().items():
        counts = [len(rs), sum(r.passed for r in rs), sum(r.reason is not None for r in rs)]
        total = [t + n for t, n in zip(total, counts)]
        rows.append(f"| {op} | {' | '.join(map(str, counts))} |")
    rows.append(f"| total | {' | '.join(map(str, total))} |")
    return "\n".join(rows)


@pytest.mark.parametrize("op", list(MODULES))
def test_every_expressible_case_agrees(op: str) -> None:
    rs = results()[op]
    assert rs, f"no ONNX test case of {op}"
    for r in rs:
        print(f"{op:<18} {r.name:<60} {r.reason or ('pass' if r.passed else 'FAIL')}")
    failed = [f"{r.name} (max |diff| {r.max_abs:.3g})" for r in rs if not r.reason and not r.passed]
    assert not failed


def test_counts_are_the_documented_ones() -> None:
    """A new onnx release that adds or changes cases shows up here, not silently."""
    print(table())
    documented = re.search(r"<!-- counts -->\n(.*)\n<!-- /counts -->", __doc__ or "", re.S)
    assert documented and documented.group(1) == table()


if __name__ == "__main__":
    print(table())
    for op, rs in results().items():
        for r in rs:
            print(f"{op:<18} {r.name:<60} {r.reason or ('pass' if r.passed else 'FAIL')}")
