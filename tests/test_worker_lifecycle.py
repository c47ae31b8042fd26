"""The forked Keras child of `cnndsl verify` never outlives its use: a parent that stops
listening, dies, is interrupted or fails leaves no process behind, and none blocked.

No framework is loaded here: ``cnndsl.frameworks.run`` is replaced in a fresh interpreter
(the child inherits the replacement), so each test costs a fork, not a TensorFlow import.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux")

SETUP = """
    import os, signal, sys, time
    import numpy as np
    import cnndsl.frameworks as fw
    from cnndsl.worker import Pending

    def slow(*args):
        time.sleep(300)

"""


def _run(script: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(SETUP) + textwrap.dedent(script)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_child_whose_parent_stops_listening_exits() -> None:
    """An answer larger than a pipe holds (64 KiB), unread: the child must not block on
    its own copy of the parent's end of the pipe."""
    r = _run("""
        fw.run = lambda *args: np.zeros(1 << 20, np.float32)
        p = Pending("keras", None, {}, np.zeros(1))
        p._conn.close()
        p._process.join(60)
        print("child alive:", p._process.is_alive())
        p._process.kill()
    """)
    assert r.returncode == 0, r.stderr
    assert "child alive: False" in r.stdout
    assert "Traceback" not in r.stderr


def test_a_child_dies_with_its_parent(tmp_path) -> None:
    """A parent killed outright (the OOM killer, kill -9) leaves no orphan holding memory
    and the parent's stdout."""
    pid_file = tmp_path / "child.pid"
    code = textwrap.dedent(SETUP) + textwrap.dedent(f"""
        fw.run = slow
        p = Pending("keras", None, {{}}, np.zeros(1))
        open({str(pid_file)!r}, "w").write(str(p._process.pid))
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    # no pipes: an orphan holding them would make this wait as long as the orphan lives
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL, timeout=120)
    child = int(pid_file.read_text())
    for _ in range(600):
        if not _running(child):
            return
        time.sleep(0.1)
    os.kill(child, 9)
    pytest.fail("the child outlived its parent")


def test_an_interrupted_wait_stops_the_child() -> None:
    """Ctrl-C sent to the parent alone (an IDE's stop button) while it waits: the child is
    stopped, not waited for."""
    r = _run("""
        fw.run = slow
        p = Pending("keras", None, {}, np.zeros(1))

        def interrupt(*args):
            raise KeyboardInterrupt

        signal.signal(signal.SIGALRM, interrupt)
        signal.alarm(1)
        try:
            p.result()
        except KeyboardInterrupt:
            print("interrupted; child alive:", p._process.is_alive())
    """)
    assert r.returncode == 0, r.stderr
    assert "interrupted; child alive: False" in r.stdout


def test_verify_stops_the_child_when_it_fails() -> None:
    """An exception in the parent's own runs (here NumPy's) propagates, and the Keras child
    is stopped and reaped, not left to run on."""
    r = _run("""
        import multiprocessing
        import cnndsl.verify as v
        from cnndsl import load
        from cnndsl.weights import init_weights

        fw.run = slow
        m = load("examples/lenet5.cnn")

        def broken(*args):
            assert multiprocessing.active_children(), "no child was started"
            raise RuntimeError("planted")

        v.forward = broken
        try:
            v.verify(m, init_weights(m), np.zeros((1, 28, 28, 1), np.float32))
        except RuntimeError:
            print("children left:", len(multiprocessing.active_children()))
    """)
    assert r.returncode == 0, r.stderr
    assert "children left: 0" in r.stdout


def test_one_cpu_rules_the_fork_out(monkeypatch) -> None:
    """With one CPU (taskset, a container's cpuset) the child would only add memory."""
    import cnndsl.worker as worker

    monkeypatch.setattr(worker, "_UNSAFE", ())  # whatever this test process has loaded
    monkeypatch.setattr(worker.threading, "active_count", lambda: 1)
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda pid: {0, 1})
    assert worker.can_fork("keras") == (importlib.util.find_spec("keras") is not None)
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda pid: {0})
    assert not worker.can_fork("keras")
