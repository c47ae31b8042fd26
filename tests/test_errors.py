"""Every bad model in tests/errors/ gets its hand-written diagnostics, with a caret, exit 1.

Each ``NAME.cnn`` sits beside ``NAME.expected``: the ``file:line:col: error: ...``
lines (and notes and hints) a user must see. Columns were counted by hand. A case whose
expected lines are warnings only (``file:line:col: warning[W101]: ...``, the lints of
cnndsl/lints.py) is a legal model: it must exit 0, with exactly those warnings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnndsl.cli import main

HERE = Path(__file__).parent / "errors"
CASES = sorted(p.stem for p in HERE.glob("*.cnn"))
LOCATION = re.compile(r"^[\w.]+\.cnn:\d+:\d+: error: ", re.M)
WARNING = re.compile(r"^[\w.]+\.cnn:\d+:\d+: warning\[W\d{3}\]: ", re.M)


def test_enough_cases() -> None:
    assert len(CASES) >= 25
    for name in CASES:
        assert (HERE / f"{name}.expected").exists(), name


@pytest.mark.parametrize("name", CASES)
def test_error_case(name: str, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(HERE)
    status = main(["check", f"{name}.cnn"])
    out, err = capsys.readouterr()
    expected = (HERE / f"{name}.expected").read_text().splitlines()
    n_expected = sum(1 for line in expected if ": error: " in line)
    n_warnings = sum(1 for line in expected if WARNING.match(line))
    assert n_expected or n_warnings, name
    if n_expected:
        assert status == 1
        assert out == ""
    else:
        assert status == 0, err
        assert f"{name}.cnn: ok: " in out
        assert out.rstrip().endswith(f"{n_warnings} warning{'s' * (n_warnings != 1)}")
    assert "Traceback" not in err
    got = [line.strip() for line in err.splitlines()]
    for line in expected:
        assert line.strip() in got, f"missing {line!r} in:\n{err}"
    # exactly as many errors (and warnings) as expected: none missed, none spurious
    assert len(LOCATION.findall(err)) == n_expected, err
    assert len(WARNING.findall(err)) == n_warnings, err
    # every error shows its source line and a caret under the token
    assert re.search(r"^\s+\| *\^", err, re.M), err


def test_control_characters_are_escaped_and_the_caret_still_lines_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An escape sequence in a model must not drive the terminal that shows its error."""
    bad = tmp_path / "m\x1b[2Jx.cnn"
    bad.write_text("input 8x8x1\nconv 4 3x3 \x1b[31m\x07relu\n")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "m\\x1b[2Jx.cnn" in err
    lines = err.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(" 2 | "))
    shown, caret = lines[i], lines[i + 1]
    assert shown == " 2 | conv 4 3x3 \\x1b[31m\\x07relu"
    assert shown[caret.index("^")] == "["  # the token at fault, column 13 of the source
