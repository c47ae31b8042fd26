"""Structure in the IR: scope paths, labels by style, names, folding, status lines.

Expected paths are torchvision's own module names (written out by hand from
``print(torchvision.models.resnet18())``) or hand-worked from the rules in
docs/language.md.
"""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.backends import describe, emit
from cnndsl.cli import main
from conftest import EXAMPLES

BASIC = """
block basic(filters, stride=1) {
  residual {
    conv filters 3x3 stride=stride pad=1 bias=false; batchnorm; relu
    conv filters 3x3 pad=1 bias=false; batchnorm
  }
  relu
}
block cbr(filters) { conv filters 1x1 bias=false; batchnorm; relu6 }
"""


def paths(source: str) -> dict[str, tuple[str, ...]]:
    return {n.name: n.path for n in cnndsl.parse(source)}


def test_torchvision_resnet18_paths() -> None:
    m = cnndsl.load(EXAMPLES / "resnet18.cnn")
    weighted = {".".join(n.path) for n in m if n.weights}
    # torchvision.models.resnet18(): its modules with parameters, written out
    expected = {"conv1", "bn1", "fc"}
    for layer in range(1, 5):
        for block in range(2):
            expected |= {f"layer{layer}.{block}.{k}" for k in ("conv1", "bn1", "conv2", "bn2")}
        if layer > 1:
            expected |= {f"layer{layer}.0.downsample.0", f"layer{layer}.0.downsample.1"}
    assert weighted == expected


def test_numbered_scopes_count_fused_activations_and_skip_reshapes() -> None:
    p = paths(
        "input 8x8x3\nstage s { conv 4 3x3 relu same; pool max 2; conv 4 1x1; relu; "
        "flatten; dropout 0.5; dense 2 softmax }"
    )
    # conv 0 (+relu 1), pool 2, conv 3, relu 4, flatten (none), dropout 5, dense 6 (+softmax 7)
    assert [p[k] for k in p if k != "input"] == [
        ("s", "0"),
        ("s", "2"),
        ("s", "3"),
        ("s", "4"),
        ("s", "flatten1"),
        ("s", "5"),
        ("s", "6"),
    ]


def test_named_blocks_and_numbered_blocks() -> None:
    p = paths(BASIC + "input 8x8x4\nstage layer1 { basic 4; cbr 8 }")
    assert p["layer1_0_conv1"] == ("layer1", "0", "conv1")
    assert p["layer1_0_bn2"] == ("layer1", "0", "bn2")
    assert p["layer1_0_add1"] == ("layer1", "0", "add1")
    assert p["layer1_1_0"] == ("layer1", "1", "0")  # a plain chain: numbered like Sequential
    assert p["layer1_1_2"] == ("layer1", "1", "2")


def test_names_stay_as_before_outside_labelled_scopes() -> None:
    m = cnndsl.parse(BASIC + "input 8x8x4\nbasic 4; basic 4")
    assert [n.name for n in m][:3] == ["input", "conv_1", "batchnorm_1"]
    assert m.node("conv_1").path == ("basic1", "conv1")
    assert m.node("conv_3").path == ("basic2", "conv1")


def test_a_block_used_twice_may_name_its_layers_inside_a_stage() -> None:
    src = "block b { conv 4 1x1 name=proj }\ninput 4x4x4\nstage s { b; b }"
    assert paths(src)["s_1_proj"] == ("s", "1", "proj")
    with pytest.raises(cnndsl.CnnDslError, match="already taken"):
        cnndsl.parse("block b { conv 4 1x1 name=proj }\ninput 4x4x4\nb; b")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("input 4x4x1\nstage 5 { relu }", "write `stage NAME"),
        ("input 4x4x1\nstage a { relu }\nstage a { relu }", "'a' is taken in this scope"),
        ("input 4x4x1\nresidual { relu; shortcut name=2 { relu } }", "expected a name"),
        ("input 4x4x1\nstage a b { relu }", "write `stage NAME"),
        ("input 4x4x1\nconv 1 1x1 name=s_0\nstage s { relu }", "taken by another layer"),
    ],
)
def test_structure_mistakes_are_reported(source: str, message: str) -> None:
    with pytest.raises(cnndsl.CnnDslError, match=message):
        cnndsl.parse(source)


def test_json_round_trip_keeps_paths() -> None:
    m = cnndsl.load(EXAMPLES / "mobilenetv2.cnn")
    again = cnndsl.Model.from_dict(m.to_dict())
    assert [n.path for n in again] == [n.path for n in m]
    assert [n.scope for n in again] == [n.scope for n in m]


def test_summary_depth_folds_blocks_with_their_totals(capsys) -> None:
    assert main(["summary", str(EXAMPLES / "resnet18.cnn"), "--depth", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if "stage" in line}
    assert list(rows) == ["layer1", "layer2", "layer3", "layer4"]
    # layer1: 4 convs 3x3x64x64 + 4 batchnorms of 64 (4 arrays each) = 147,456 + 1,024
    assert rows["layer1"][3] == "148,480"
    with pytest.raises(SystemExit) as exit_:
        main(["summary", str(EXAMPLES / "resnet18.cnn"), "--depth", "0"])
    assert exit_.value.code == 2


def test_status_line_names_what_was_generated() -> None:
    model = cnndsl.load(EXAMPLES / "resnet18.cnn")
    assert describe(emit(model, "pytorch"), "pytorch") == (
        "PyTorch: Resnet18(nn.Module) and 2 block classes (Basic, BasicDown), NCHW"
    )
    assert "functional keras.Model, 2 block functions (basic, basic_down)" in describe(
        emit(model, "keras"), "keras"
    )
    lenet = cnndsl.load(EXAMPLES / "lenet5.cnn")
    assert describe(emit(lenet, "keras"), "keras").endswith("a keras.Sequential")


@pytest.mark.parametrize("target", ["pytorch", "keras"])
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnets_compile_to_at_most_150_lines(name: str, target: str) -> None:
    code = emit(cnndsl.load(EXAMPLES / f"{name}.cnn"), target)
    assert len(code.splitlines()) <= 150
    assert (
        "class " if target == "pytorch" else "def bottleneck" if name == "resnet50" else "def basic"
    ) in code
