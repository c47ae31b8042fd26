"""The design holds: every kind is complete in every table, its weights say what they are,
and the code stays in modules that fit in a head.

A new kind that misses a backend entry, a framework home for one of its weights, an
activation formula, a Hypothesis drawer or an initializer fails here — found by the
design, not by grep.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnndsl
from cnndsl.backends import keras as keras_backend
from cnndsl.backends import numpy as numpy_backend
from cnndsl.backends import onnx as onnx_backend
from cnndsl.backends import pytorch as pytorch_backend
from cnndsl.backends.numpy import ops
from cnndsl.backends.table import TABLES
from cnndsl.ir import Model
from cnndsl.layers import ACTIVATIONS, Trait, kinds
from cnndsl.weights import init_weights, probe_weights
from conftest import EXAMPLES, ROOT
from strategies import DRAWERS

#: inputs on which each kind's EXAMPLE is tried, richest first
INPUTS = ("input 12x12x6", "input 40x6", "input 48")


def kind_model(cls: type) -> Model:
    """A small model whose last layer is ``cls``'s documented example."""
    example = cls.EXAMPLE  # type: ignore[attr-defined]
    if cls.KIND == "input":  # type: ignore[attr-defined]
        return cnndsl.parse(example)
    prelude = ""
    if cls.ARITY < 0:  # type: ignore[attr-defined]  # a merge names what it merges with
        prelude = f"relu name={example.split()[1]}\nrelu\n"
    for src in INPUTS:
        try:
            return cnndsl.parse(f"{src}\n{prelude}{example}")
        except cnndsl.CnnDslError:
            continue
    raise AssertionError(f"{example} fits none of {INPUTS}")


KINDS = kinds()
IDS = [k.KIND for k in KINDS]


def test_tables_exist_for_every_backend() -> None:
    # importing the backends registers their tables
    assert numpy_backend and keras_backend and pytorch_backend and onnx_backend
    assert {"numpy", "keras", "pytorch", "onnx"} <= set(TABLES)


@pytest.mark.parametrize("backend", ["numpy", "keras", "pytorch", "onnx"])
def test_every_kind_has_an_entry_in_every_table(backend: str) -> None:
    missing = [cls.__name__ for cls in KINDS if cls not in TABLES[backend]]
    assert not missing, f"{backend} has no entry for {missing}"


@pytest.mark.parametrize(
    "table",
    [
        ops.ACTIVATION_FNS,
        keras_backend.ACTIVATIONS,
        pytorch_backend.ACTIVATIONS,
        onnx_backend.ACTIVATIONS,
    ],
    ids=["numpy", "keras", "pytorch", "onnx"],
)
def test_every_activation_has_a_formula_in_every_backend(table: object) -> None:
    assert set(table) == set(ACTIVATIONS)


def test_hypothesis_draws_every_kind() -> None:
    assert set(DRAWERS) == {cls.KIND for cls in KINDS}


@pytest.mark.parametrize("cls", KINDS, ids=IDS)
def test_every_weight_has_a_home_in_every_framework(cls: type) -> None:
    """Each backend's lowering places every declared weight, exactly once."""
    model = kind_model(cls)
    for backend in (keras_backend, pytorch_backend, onnx_backend):
        where = backend.weight_map(model)
        for node in model.nodes:
            placed = [p.weight for p in where.get(node.name, [])]
            assert sorted(placed) == sorted(w.name for w in node.weights), (backend, node.name)


@pytest.mark.parametrize("cls", KINDS, ids=IDS)
def test_weights_declare_their_axes_and_traits_fit(cls: type) -> None:
    model = kind_model(cls)
    node = model.nodes[-1]
    for w in node.weights:
        assert len(w.axes) == len(w.shape)
        if "c" in w.axes:  # per-channel vectors belong to per-channel kinds
            assert Trait.PER_CHANNEL in cls.TRAITS  # type: ignore[attr-defined]


def _kernel_like(axes: str) -> bool:
    return "i" in axes and "o" in axes


@pytest.mark.parametrize("cls", KINDS, ids=IDS)
def test_no_kernel_is_constant_after_init_and_no_array_is_trivial_in_probes(cls: type) -> None:
    """init_weights: every kernel random (a zero kernel makes a conversion bug invisible);
    probe_weights: every array, biases and statistics too."""
    model = kind_model(cls)
    init, probe = init_weights(model, 0), probe_weights(model, 0)
    for node in model.nodes:
        for w in node.weights:
            if w.literal is not None:
                continue
            if _kernel_like(w.axes):
                assert np.ptp(init[node.name][w.name]) > 0, (node.name, w.name)
            if w.size > 1:
                assert np.ptp(probe[node.name][w.name]) > 0, (node.name, w.name)
            assert not np.all(probe[node.name][w.name] == 0), (node.name, w.name)


def test_probe_weights_keep_batchnorm_variances_positive() -> None:
    m = cnndsl.parse("input 4x4x3\nbatchnorm")
    var = probe_weights(m, 1)["batchnorm_1"]["moving_variance"]
    assert (var >= 0.5).all()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.cnn")), ids=lambda p: p.stem)
def test_model_round_trips_through_json(path: Path) -> None:
    m = cnndsl.load(path)
    back = Model.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back == m
    assert back.to_dict() == m.to_dict()


def test_model_index_and_consumers() -> None:
    m = cnndsl.parse("input 8x8x3\nconv 4 3 same name=a\nadd { branch { } branch { relu } }")
    assert m.inputs == ("input",) and m.outputs == ("add_1",)
    assert m.consumers("a") == ("relu_1", "add_1")
    assert m.node("add_1").inputs == ("a", "relu_1")
    assert m.node("add_1").input_shapes == ((8, 8, 4), (8, 8, 4))
    with pytest.raises(KeyError):
        m.node("nope")


def test_no_module_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "cnndsl").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long


def test_functions_are_simple_or_say_why() -> None:
    """radon grade C or worse (complexity > 10) only with a ``# complex:`` comment above
    the def (or its decorator) saying why the function is better whole."""
    pytest.importorskip("radon")
    r = subprocess.run(
        [sys.executable, "-m", "radon", "cc", "-j", "-n", "C", "cnndsl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    bad = []
    for path, blocks in json.loads(r.stdout).items():
        lines = (ROOT / path).read_text().splitlines()
        for b in blocks:
            above = [ln.strip() for ln in lines[max(b["lineno"] - 3, 0) : b["lineno"] - 1]]
            if not any(ln.startswith("# complex:") for ln in above):
                bad.append(f"{path}:{b['lineno']} {b['name']} ({b['complexity']})")
    assert not bad
