"""`cnndsl verify` runs Keras in a forked process: same verdicts, planted bugs still caught.

Each test runs in a fresh interpreter, as a user's ``cnndsl verify`` does: in this
test process a framework is already loaded, which rules the fork out.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

pytest.importorskip("keras")
pytest.importorskip("torch")

LENET = "examples/lenet5.cnn"


def _run(script: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(script)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_keras_runs_in_a_child_and_agrees() -> None:
    r = _run(f"""
        import sys
        from cnndsl.cli import main
        status = main(["verify", "{LENET}", "--samples", "2"])
        print("parent loaded tensorflow:", "tensorflow" in sys.modules)
        sys.exit(status)
    """)
    assert r.returncode == 0, r.stderr
    assert "numpy   vs keras" in r.stdout and r.stdout.count("PASS") == 7
    assert "parent loaded tensorflow: False" in r.stdout  # Keras ran in the child only


def test_a_planted_keras_bug_is_caught_through_the_child() -> None:
    """The child inherits the patch: a sign flipped in the Keras weight conversion must
    fail verify, and bisection (in the parent) names the first conv."""
    r = _run(f"""
        import sys
        import cnndsl.frameworks as fw
        from cnndsl.cli import main

        convert = fw.to_keras

        def planted(model, weights):
            out = convert(model, weights)
            first = next(iter(out))
            out[first] = [-out[first][0], *out[first][1:]]
            return out

        fw.to_keras = planted
        sys.exit(main(["verify", "{LENET}", "--samples", "2"]))
    """)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "numpy   vs keras" in r.stdout and "FAIL" in r.stdout
    assert "keras first diverges from numpy at layer 'conv_1'" in r.stdout


def test_a_child_that_dies_is_run_again_in_process() -> None:
    r = _run(f"""
        import os, sys
        import cnndsl.worker as worker
        from cnndsl.cli import main

        worker._child = lambda *args: os._exit(3)
        status = main(["verify", "{LENET}", "--samples", "2"])
        print("parent loaded tensorflow:", "tensorflow" in sys.modules)
        sys.exit(status)
    """)
    assert r.returncode == 0, r.stderr
    assert "parent loaded tensorflow: True" in r.stdout
    assert r.stdout.count("PASS") == 7


def test_a_loaded_framework_rules_the_fork_out() -> None:
    r = _run("""
        from cnndsl.worker import can_fork

        assert can_fork("keras")
        import torch

        assert not can_fork("keras")  # torch's thread pools would not survive a fork
    """)
    assert r.returncode == 0, r.stderr


def test_serial_never_forks(monkeypatch, capsys) -> None:
    import cnndsl.worker
    from cnndsl.cli import main

    def refuse(*args: object) -> None:
        raise AssertionError("--serial forked")

    monkeypatch.setattr(cnndsl.worker, "Pending", refuse)
    monkeypatch.setattr("cnndsl.verify.Pending", refuse)
    monkeypatch.setattr("cnndsl.verify.can_fork", lambda target: True)
    assert main(["verify", LENET, "--samples", "2", "--serial"]) == 0
    assert capsys.readouterr().out.count("PASS") == 7


def test_keras_loads_without_scikit_learn_which_still_imports_after() -> None:
    """In the ``cnndsl`` command (argv[0] as its console script sets it)."""
    pytest.importorskip("sklearn")
    r = _run("""
        import sys
        from cnndsl.frameworks import framework

        sys.argv[0] = "/usr/local/bin/cnndsl"
        keras = framework("keras")
        assert "sklearn" not in sys.modules
        import sklearn.datasets

        assert sklearn.datasets.load_digits().data.shape == (1797, 64)
        assert keras.layers.Dense(3)(keras.ops.ones((2, 4))).shape == (2, 3)
    """)
    assert r.returncode == 0, r.stderr


def test_a_program_using_the_api_keeps_keras_wrappers() -> None:
    """Outside the command nothing is hidden: scikit-learn is installed, so Keras' wrappers
    must work after cnndsl loaded Keras (they said scikit-learn was missing)."""
    pytest.importorskip("sklearn")
    r = _run("""
        from cnndsl.frameworks import framework

        keras = framework("keras")
        from keras.wrappers import SKLearnClassifier

        SKLearnClassifier(model=lambda X, y: None)  # raises ImportError without sklearn
    """)
    assert r.returncode == 0, r.stderr
