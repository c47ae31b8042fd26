"""ONNX, a fourth backend: every model exports, passes ONNX's own full checker, ONNX's shape
inference gives the IR's shape for every node, and ONNX Runtime computes what the NumPy
reference computes — on the examples and on random models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note, settings

import cnndsl
from cnndsl.backends.numpy import forward
from cnndsl.weights import probe_weights
from conftest import EXAMPLES
from strategies import models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from cnndsl.backends.onnx import to_onnx  # noqa: E402
from cnndsl.frameworks import run  # noqa: E402


def _nchw(shape: tuple[int, ...]) -> list[int]:
    return list((shape[-1], *shape[:-1]) if len(shape) > 1 else shape)


def check_shapes(model: cnndsl.Model, proto) -> None:
    """ONNX's own shape inference (strict) agrees with the IR on every node's output."""
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
    for node in model.nodes[1:]:
        dims = known[node.name].type.tensor_type.shape.dim
        assert [d.dim_value for d in dims[1:]] == _nchw(node.shape), node.name


def agree(model: cnndsl.Model, seed: int = 0) -> None:
    weights = probe_weights(model, seed)
    proto = to_onnx(model, weights)  # runs onnx.checker.check_model(full_check=True)
    check_shapes(model, proto)
    x = np.random.default_rng(seed).standard_normal((2, *model.input_shape)).astype(np.float32)
    ref = forward(model, weights, x)
    got = run("onnx", model, weights, x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.cnn")), ids=lambda p: p.stem)
def test_every_example_exports_checks_and_agrees(path) -> None:
    agree(cnndsl.load(path))


@settings(max_examples=60)
@given(src=models())
def test_random_models_export_check_and_agree(src: str) -> None:
    note(f"the model, as .cnn source:\n{src}")
    agree(cnndsl.parse(src))


def test_ir_version_is_the_lowest_the_opset_needs() -> None:
    m = cnndsl.load(EXAMPLES / "lenet5.cnn")
    proto = to_onnx(m, probe_weights(m))
    opsets = [onnx.helper.make_opsetid("", 17)]
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(opsets)
    assert [o.version for o in proto.opset_import] == [17]


def test_pads_are_explicit_and_names_come_from_the_source() -> None:
    m = cnndsl.parse("input 7x7x2\nconv 4 3x3 same stride=2 name=stem\npool avg 3 same\n")
    proto = to_onnx(m, probe_weights(m))
    for node in proto.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert "auto_pad" not in attrs
        if node.op_type == "Conv":
            assert node.name == "stem" and attrs["pads"] == [1, 1, 1, 1]
            assert node.doc_string == "<string>:2: conv"
        if node.op_type == "AveragePool":
            # 4 -> ceil(4 / 3) = 2: total pad (2 - 1) * 3 + 3 - 4 = 2, one on each side
            assert attrs["count_include_pad"] == 0 and attrs["pads"] == [1, 1, 1, 1]


def test_compile_writes_an_onnx_file(tmp_path, capsys) -> None:
    from cnndsl.cli import main

    out = tmp_path / "lenet5.onnx"
    assert main(["compile", str(EXAMPLES / "lenet5.cnn"), "-t", "onnx", "-o", str(out)]) == 0
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert main(["compile", str(EXAMPLES / "lenet5.cnn"), "-t", "onnx"]) == 2  # -o required
    assert "give -o FILE.onnx" in capsys.readouterr().err


def test_verify_prints_four_backends(capsys) -> None:
    from cnndsl.cli import main

    assert main(["verify", str(EXAMPLES / "lenet5.cnn")]) == 0
    out = capsys.readouterr().out
    for pair in ("numpy   vs onnx", "keras   vs onnx", "pytorch vs onnx"):
        assert pair in out


@pytest.mark.parametrize(
    "src",
    [
        "input 9x9x3\nconv 4 3x3 same stride=2\nbatchnorm\nrelu",  # image in, image out
        "input 20x6\nconv 5 3 same\npool max 2",  # sequence in, sequence out
        "input 12x12x2\nconv 3 3\nflatten\ndense 4 softmax",  # image in, vector out
        "input 16\ndense 8 relu",  # vectors: no Transpose at all
    ],
)
def test_layout_nhwc_takes_and_gives_channels_last(src: str) -> None:
    """With layout nhwc the graph is fed the language's own arrays and returns them."""
    m = cnndsl.parse(src)
    weights = probe_weights(m, 0)
    proto = to_onnx(m, weights, layout="nhwc")  # runs the full checker
    io = [proto.graph.input[0], proto.graph.output[0]]
    dims = [[d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim] for v in io]
    assert dims == [["N", *m.input_shape], ["N", *m.output_shape]]
    transposes = [n for n in proto.graph.node if n.op_type == "Transpose"]
    assert len(transposes) == (len(m.input_shape) > 1) + (len(m.output_shape) > 1)
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    assert inferred.graph.output[0].type == proto.graph.output[0].type
    x = np.random.default_rng(0).standard_normal((3, *m.input_shape)).astype(np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    ref = forward(m, weights, x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


def test_compile_layout_nhwc(tmp_path, capsys) -> None:
    from cnndsl.cli import main

    out = tmp_path / "lenet5.onnx"
    args = ["compile", str(EXAMPLES / "lenet5.cnn"), "-t", "onnx", "-o", str(out)]
    assert main([*args, "--layout", "nhwc"]) == 0
    assert "nhwc input and output" in capsys.readouterr().err
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value or d.dim_param for d in dims] == ["N", 28, 28, 1]
    m = cnndsl.load(EXAMPLES / "lenet5.cnn")
    with pytest.raises(ValueError, match="layout 'nwhc'"):
        to_onnx(m, probe_weights(m), layout="nwhc")
