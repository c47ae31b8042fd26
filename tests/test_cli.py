"""The command line: exit codes, JSON schemas, stdin, files that are not models."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cnndsl.cli import main
from conftest import EXAMPLES, ROOT


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_check_lenet_and_vgg(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES / "lenet5.cnn"), str(EXAMPLES / "vgg16.cnn")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert "ok" in out[0] and "61,706 params" in out[0]
    assert "138,357,544 params" in out[1]


def test_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(EXAMPLES / "lenet5.cnn")]) == 0
    out = capsys.readouterr().out
    assert "Total params:         61,706" in out
    assert "Trainable params:     61,706" in out
    assert "Non-trainable params: 0" in out
    assert "241.04 KiB" in out  # 61,706 * 4 bytes / 1024
    assert out.count("\nconv_") == 2 and out.count("\ndense_") == 3


def test_check_json_schema(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 8x8x1\nconv 4 9x9\n")
    assert main(["check", "--json", str(EXAMPLES / "lenet5.cnn"), str(bad)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "cnndsl.check/1"
    ok, err = doc["files"]
    assert ok["ok"] is True and ok["params"]["total"] == 61_706
    assert ok["input_shape"] == [28, 28, 1] and ok["output_shape"] == [10]
    assert err["ok"] is False
    (e,) = err["errors"]
    assert e["span"]["line"] == 2 and e["span"]["column"] == 8
    assert "does not fit" in e["message"]


def test_summary_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--json", str(EXAMPLES / "lenet5.cnn")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "cnndsl.model/1"
    assert doc["totals"]["params"] == 61_706
    assert doc["totals"]["param_bytes"] == 61_706 * 4
    conv = doc["nodes"][1]
    assert conv["kind"] == "conv" and conv["inputs"] == ["input"]
    assert conv["layer"]["kernel"] == [5, 5] and conv["layer"]["pad"] == [2, 2, 2, 2]
    assert conv["weights"] == [
        {"name": "kernel", "shape": [5, 5, 1, 6], "trainable": True},
        {"name": "bias", "shape": [6], "trainable": True},
    ]


def test_stdin() -> None:
    r = run("summary", "-", stdin=b"input 8x8x1; conv 4 3x3\n")
    assert r.returncode == 0, r.stderr
    assert "Total params:         40" in r.stdout  # 3*3*1*4 + 4


def test_exit_codes_and_no_tracebacks(tmp_path) -> None:
    binary = tmp_path / "junk.cnn"
    binary.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.cnn"
    empty.write_text("")
    cases = {
        "missing": ("check", str(tmp_path / "nope.cnn")),
        "directory": ("check", str(tmp_path)),
        "binary": ("check", str(binary)),
        "empty": ("summary", str(empty)),
    }
    for what, args in cases.items():
        r = run(*args)
        assert r.returncode == 1, what
        assert "Traceback" not in r.stderr, what
        assert ": error: " in r.stderr, what
    assert "no such file" in run(*cases["missing"]).stderr
    assert "directory" in run(*cases["directory"]).stderr
    assert "binary" in run(*cases["binary"]).stderr
    assert f"{empty}:1:1: error: the model is empty" in run(*cases["empty"]).stderr


def test_a_path_that_is_no_model_file_gets_a_hint(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(tmp_path)]) == 1  # no model in it: nothing to suggest
    err = capsys.readouterr().err
    assert f"{tmp_path}: error: is a directory, not a model file" in err and "hint" not in err
    (tmp_path / "net.cnn").write_text("input 8x8x1; conv 4 3x3\n")
    assert main(["explain", str(tmp_path)]) == 1  # one: that one
    assert f"hint: did you mean {tmp_path / 'net.cnn'}?" in capsys.readouterr().err
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.cnn").write_text("input 8x8x1\n")
    assert main(["diagram", str(tmp_path)]) == 1  # several: the first three, in order
    a, b, c = (tmp_path / f"{n}.cnn" for n in "abc")
    assert f"hint: name a model file in it: {a}, {b}, {c}, \N{HORIZONTAL ELLIPSIS}" in (
        capsys.readouterr().err
    )
    assert main(["check", str(tmp_path / "net")]) == 1  # the extension left out
    assert f"hint: did you mean {tmp_path / 'net.cnn'}?" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "other")]) == 1  # no near file: no guess
    err = capsys.readouterr().err
    assert "no such file" in err and "hint" not in err


def test_usage_errors_exit_2() -> None:
    for args in [
        (),
        ("check",),
        ("frobnicate",),
        ("summary",),
        ("summary", "--columns", "x", "a.cnn"),
    ]:
        r = run(*args)
        assert r.returncode == 2, args
        assert "Traceback" not in r.stderr


def test_help_has_examples() -> None:
    r = run("--help")
    assert r.returncode == 0
    assert "cnndsl check examples/lenet5.cnn" in r.stdout
    assert "exit status" in r.stdout
    # a pip user has no docs/ directory: --help points at what ships with the package
    assert "docs/" not in r.stdout
    assert "cnndsl help" in r.stdout


def test_check_and_summary_do_not_import_frameworks() -> None:
    code = (
        "import sys; from cnndsl.cli import main\n"
        "main(['check', 'examples/vgg16.cnn']); main(['summary', 'examples/lenet5.cnn'])\n"
        "import cnndsl; cnndsl.load('examples/vgg16.cnn')\n"
        "heavy = {'torch', 'tensorflow', 'keras', 'jax'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_console_script_is_installed() -> None:
    import shutil

    exe = shutil.which(
        "cnndsl", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    )
    assert exe, "the cnndsl console script is not installed"
    r = subprocess.run(
        [exe, "check", "examples/lenet5.cnn"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0 and "61,706" in r.stdout


def _strict(text: str) -> object:
    """json.loads that refuses NaN and Infinity, as every strict JSON reader does."""

    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_is_strict(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    """Non-finite numbers are written as the strings "Infinity", "-Infinity" and "NaN"."""
    from cnndsl.ir import Model

    src = tmp_path / "m.cnn"
    src.write_text("input 4x4x1\nconv 1 1x1 weights=[[1e999]]\n")
    assert main(["summary", "--json", str(src)]) == 0
    doc = _strict(capsys.readouterr().out)
    assert doc["nodes"][1]["layer"]["weights"]["values"] == [[[["Infinity"]]]]
    assert Model.from_dict(doc).nodes[1].layer.weights.values == (float("inf"),)
    np = pytest.importorskip("numpy")
    x = tmp_path / "x.npy"
    np.save(x, np.array([[[1.0], [-1.0], [0.0], [1.0]]] * 4, np.float32))
    assert main(["run", str(src), "-i", str(x), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "RuntimeWarning" not in err
    values = _strict(out)["outputs"][0]
    assert values[0] == [["Infinity"], ["-Infinity"], ["NaN"], ["Infinity"]]


def test_each_command_is_built_by_its_own_group() -> None:
    """main() builds only the group of the command it is given (a faster start): the map
    must name every command, and each group must build the commands mapped to it."""
    import argparse

    from cnndsl.cli import COMMANDS, GROUPS, build_parser

    def commands(p: argparse.ArgumentParser) -> set[str]:
        (sub,) = (a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    assert commands(build_parser()) == set(COMMANDS)
    for group in GROUPS:
        assert commands(build_parser((group,))) == {c for c, g in COMMANDS.items() if g == group}


@pytest.mark.parametrize("columns", [None, "50", "200", "0", "wide", "-3"])
def test_help_width_is_shutils(monkeypatch, columns: str | None) -> None:
    """The parser measures the terminal as shutil.get_terminal_size does (the oracle),
    without importing shutil on the way to a check."""
    import shutil

    from cnndsl.cli import terminal_width

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_width() == shutil.get_terminal_size().columns
