"""Hostile and careless input, through the command line: each bomb is an error at the
statement that goes too far, exit 1, no traceback, in little time and memory.

Every input is generated here (some are megabytes). Each run is a subprocess under a
memory limit (RLIMIT_AS) and a timeout, so that a regression fails the test instead of
taking the machine down. Endless inputs are a FIFO or a pipe fed by a generator
process, never a real device.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

MEMORY = 1_500_000_000  # bytes of address space for one run
TIMEOUT = 60  # seconds: generous for a loaded CI machine; a bomb took forever


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def check(
    path: Path | str, stdin: int | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`cnndsl check PATH` in a subprocess, bounded in memory and time."""
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", "check", str(path)],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def errors(err: str) -> list[str]:
    return re.findall(r"^\S*: error: .*$", err, re.M)


def refused(tmp_path: Path, text: str, message: str, **env: str) -> list[str]:
    """Check ``text`` from a file: exit 1 with ``message``, no traceback; the errors."""
    path = tmp_path / "bomb.cnn"
    path.write_text(text)
    r = check(path, **env)
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == 1, r.stderr[-3000:]
    assert message in r.stderr, r.stderr[-3000:]
    return errors(r.stderr)


# ---------------------------------------------------------------- expansion

STEPS = "the model takes more than 1,000,000 steps to expand"
TRIPLE = "repeat 10000 { repeat 10000 { repeat 10000 { BODY } } }"


@pytest.mark.parametrize(
    "text",
    [
        "input 8x8x1\n" + TRIPLE.replace("BODY", ""),
        "input 8x8x1\n" + TRIPLE.replace("BODY", "bogus"),
        TRIPLE.replace("BODY", ""),  # no input
        "input 8x8x1\n" + TRIPLE.replace("BODY", "conv 1 1x1 weights=[[[[1, 2]]]]"),
    ],
    ids=["empty", "bogus", "no-input", "literal"],
)
def test_nested_repeats_spend_the_step_budget(tmp_path: Path, text: str) -> None:
    found = refused(tmp_path, text, STEPS)
    assert sum(STEPS in e for e in found) == 1


def test_a_repeated_literal_spends_steps_per_value(tmp_path: Path) -> None:
    numbers = ",".join(["1"] * 90_000)
    text = f"input 8x8x1\nrepeat 10000 {{ conv 1 300x300 same weights=[{numbers}] }}\n"
    refused(tmp_path, text, STEPS)


def test_a_mistake_in_a_repeated_body_is_reported_once(tmp_path: Path) -> None:
    found = refused(tmp_path, "input 8x8x1\nrepeat 100 { repeat 1000 { bogus } }\n", "bogus")
    assert len(found) == 1 and found[0].endswith("bomb.cnn:2:28: error: unknown layer 'bogus'")


def test_blocks_that_double_forty_times(tmp_path: Path) -> None:
    lines = ["block b1() { relu }"]
    lines += [f"block b{i}() {{ b{i - 1}; b{i - 1} }}" for i in range(2, 41)]
    found = refused(tmp_path, "\n".join([*lines, "input 8x8x1", "b40"]), "nest more than 32 deep")
    assert len(found) == 1


def test_layers_past_the_node_limit(tmp_path: Path) -> None:
    found = refused(
        tmp_path,
        "input 8x8x1\nrepeat 20 { repeat 10000 { relu } }\n",
        "the model expands to more than 100,000 layers",
    )
    assert len(found) == 1


# ---------------------------------------------------------------- numbers and sizes

DIGITS = "integers have at most 18"


@pytest.mark.parametrize(
    "text",
    [
        "input 8x8x1\nconv " + "1" * 5000 + " 3x3\n",
        "input 1" + "0" * 3999 + "\ndense 1" + "0" * 3999 + "\n",
        "input 8x8x1\nconv 8 3x" + "9" * 4400 + "\n",
        "input 8x8x1\nzeropad pad=(1, " + "7" * 4400 + ")\n",
        "input 8x8x1\nrepeat " + "9" * 30 + " { relu }\n",
    ],
    ids=["filters", "input-and-dense", "dims", "tuple", "repeat"],
)
def test_numbers_past_eighteen_digits(tmp_path: Path, text: str) -> None:
    refused(tmp_path, text, DIGITS)


def test_leading_zeros_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "zeros.cnn"
    path.write_text(f"input 8x8x1\nconv {'0' * 5000}8 {'0' * 5000}3x3\n")
    r = check(path)
    assert r.returncode == 0, r.stderr


def test_a_model_of_too_many_parameters(tmp_path: Path) -> None:
    refused(
        tmp_path,
        "input 1000000\ndense 1000000000000\n",
        "the model has more than 1,000,000,000,000,000",
    )


def test_a_layer_of_too_many_values(tmp_path: Path) -> None:
    refused(tmp_path, "input 999999999x999999999x3\n", "values, more than 1,000,000,000,000,000")


# ---------------------------------------------------------------- nesting

BRACES = "braces nest more than 64 deep"
BRACKETS = "brackets nest more than 16 deep"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("repeat 1 {" * 400 + "}" * 400, BRACES),
        ("residual {" * 400 + "}" * 400, BRACES),
        ("add { branch {" * 300 + "} branch { } }" * 300, BRACES),
        ("zeropad pad=" + "(" * 1000 + "1" + ")" * 1000, BRACKETS),
        ("conv 1 1x1 weights=" + "[" * 1000 + "1" + "]" * 1000, BRACKETS),
        ("block b(x=" + "(" * 1000 + "1" + ")" * 1000 + ") { relu }", BRACKETS),
    ],
    ids=["repeat", "residual", "add", "pad", "weights", "default"],
)
def test_deep_nesting(tmp_path: Path, text: str, message: str) -> None:
    assert len(refused(tmp_path, f"input 8x8x1\n{text}\n", message)) == 1


def test_deep_nesting_after_a_syntax_error(tmp_path: Path) -> None:
    """The statement-by-statement re-parse meets the deep statement on its own."""
    refused(tmp_path, "input 8x8x1 =\n" + "residual {" * 400 + "}" * 400 + "\n", BRACES)


def test_blocks_stacking_their_braces(tmp_path: Path) -> None:
    """Each block's body nests 40 deep, within the limit; used inside one another they
    would nest 40 x 32 deep."""
    lines = [f"block b{i}() {{ {'residual { ' * 40}b{i - 1}{' }' * 40} }}" for i in range(1, 33)]
    lines[0] = lines[0].replace("b0", "relu")
    refused(tmp_path, "\n".join([*lines, "input 8x8x1", "b32"]), "structures nest more than 64")


def test_brackets_grown_by_block_arguments(tmp_path: Path) -> None:
    wrap = "(" * 15 + "{}" + ")" * 15
    lines = [f"block b{i}(x) {{ b{i - 1} {wrap.format('x')} }}" for i in range(1, 30)]
    lines[0] = "block b1(x) { conv 1 1x1 weights=x }"
    text = "\n".join([*lines, "input 8x8x1", f"b29 {wrap.format('1')}"])
    refused(tmp_path, text, "nests more than 16 brackets deep")


# ---------------------------------------------------------------- size of the source

SOURCE = "larger than the limit of 2,000,000 bytes"


def test_a_ten_megabyte_file(tmp_path: Path) -> None:
    found = refused(tmp_path, "input 8x8x1\n" + "relu\n" * 2_000_000, SOURCE)
    assert found == ["{}: error: the file is {}".format(tmp_path / "bomb.cnn", SOURCE)]


def test_too_many_lines(tmp_path: Path) -> None:
    found = refused(tmp_path, "input 8x8x1\n" + "relu\n" * 150_000, "more than 100,000 lines")
    assert found[0].startswith(f"{tmp_path / 'bomb.cnn'}:100001:1: error:")


def test_too_many_statements_on_one_line(tmp_path: Path) -> None:
    refused(tmp_path, "input 8x8x1;" + "relu;" * 150_000, "more than 100,000 lines")


def test_a_million_number_literal(tmp_path: Path) -> None:
    numbers = ",".join(["1"] * 1_000_000)
    text = f"input 1000x1000x1\nconv 1 1000x1000 weights=[{numbers}]\n"
    refused(tmp_path, text, "literals hold more than 100,000 values", CNNDSL_MAX_SOURCE="3000000")


def test_limits_are_raised_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "long.cnn"
    path.write_text("# a comment\n" * 150_000 + "input 8x8x1\nrelu\n")
    r = check(path)
    assert r.returncode == 1 and "CNNDSL_MAX_LINES" in r.stderr
    assert check(path, CNNDSL_MAX_LINES="200000").returncode == 0


def test_a_bad_limit_in_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "ok.cnn"
    path.write_text("input 8x8x1\nrelu\n")
    r = check(path, CNNDSL_MAX_SOURCE="lots")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "CNNDSL_MAX_SOURCE='lots' is not a positive number of bytes" in r.stderr


ENDLESS = """
import codecs, sys
out = open(sys.argv[2], "wb") if len(sys.argv) > 2 else sys.stdout.buffer
chunk = codecs.decode(sys.argv[1], "unicode_escape").encode() * 65536
while True:
    out.write(chunk)
"""


def _endless(what: str, *into: str, stdout: int | None = None) -> subprocess.Popen[bytes]:
    """A process that writes ``what`` forever, to stdout or into a file (a FIFO: it is
    the writer that waits for the reader to open it, not the test)."""
    return subprocess.Popen(
        [sys.executable, "-c", ENDLESS, what, *into], stdout=stdout, stderr=subprocess.DEVNULL
    )


def test_endless_stdin() -> None:
    """`yes relu | cnndsl check -`."""
    writer = _endless("relu\\n", stdout=subprocess.PIPE)
    try:
        assert writer.stdout is not None
        r = check("-", stdin=writer.stdout.fileno())
    finally:
        writer.kill()
        writer.wait()
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "<stdin>: error: the input is larger than the limit of 2,000,000 bytes" in r.stderr


def test_endless_file(tmp_path: Path) -> None:
    """`cnndsl check /dev/zero`, with a FIFO fed zeros instead of the device."""
    fifo = tmp_path / "zero"
    os.mkfifo(fifo)
    writer = _endless("\\x00", str(fifo))
    try:
        r = check(fifo)
    finally:
        writer.kill()
        writer.wait()
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert SOURCE in r.stderr and "CNNDSL_MAX_SOURCE" in r.stderr


# ---------------------------------------------------------------- many errors


def test_at_most_fifty_errors_are_printed(tmp_path: Path) -> None:
    found = refused(tmp_path, "input 8x8x1\n" + "bogus\n" * 60, "and 10 more errors")
    assert len(found) == 50


def test_checking_stops_after_a_thousand_errors(tmp_path: Path) -> None:
    path = tmp_path / "typos.cnn"
    path.write_text("input 8x8x1\n" + "conv 8 3x3 strid=2\n" * 5000)
    r = check(path)
    assert r.returncode == 1 and "and 950 more errors" in r.stderr
    assert r.stderr.rstrip().endswith("typos.cnn: 1000 errors")


def test_syntax_errors_stop_after_a_thousand(tmp_path: Path) -> None:
    refused(tmp_path, "input 8x8x1\n" + "conv 8 3x3 =\n" * 5000, "and 950 more errors")


def test_a_long_line_is_shown_around_the_caret(tmp_path: Path) -> None:
    path = tmp_path / "long.cnn"
    path.write_text("input 8x8x1\n" + "relu; " * 10_000 + "bogus\n")
    r = check(path)
    assert r.returncode == 1
    excerpt = [ln for ln in r.stderr.splitlines() if ln.startswith(" 2 | ")]
    assert len(excerpt) == 1 and len(excerpt[0]) < 120, r.stderr
    assert excerpt[0].startswith(" 2 | ...") and excerpt[0].endswith("relu; bogus")


def test_the_documentation_states_the_limits() -> None:
    from cnndsl import limits

    doc = (ROOT / "docs" / "language.md").read_text()
    section = doc[doc.index("## Limits") : doc.index("## Reference")]
    for field, (var, _) in limits.ENV.items():
        assert f"| {getattr(limits.SourceLimits(), field):,} " in section.replace(" bytes", " ")
        assert f"`{var}`" in section
    for n in (limits.MAX_BRACES, limits.MAX_BRACKETS, limits.MAX_DIGITS, limits.MAX_DEPTH):
        assert f"| {n}" in section
    for n in (limits.MAX_STEPS, limits.MAX_NODES, limits.MAX_REPEAT, limits.MAX_SHOWN):
        assert f"{n:,}" in section
