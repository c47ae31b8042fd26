"""Run one framework's model in a forked process while this one runs the others.

A cold ``cnndsl verify`` spends most of its time importing frameworks: TensorFlow alone
takes longer than torch, ONNX Runtime and every forward pass together. Imported one
after the other they leave the second core idle, so Keras is built and run in a child
forked before anything heavy is loaded, while the parent runs NumPy, PyTorch and ONNX
Runtime. The child inherits the parent's state, monkeypatches included (the planted-
bug tests rely on that), and sends back only the output array.

Only where forking is safe: on Linux, in a process with no other Python thread (a lock
held by one would stay held in the child), and while no framework is loaded (their
thread pools do not survive a fork). Otherwise, and whenever the child fails
for any reason, the caller runs the framework in-process as before: the same result,
the same errors, only slower.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from typing import Any

import numpy as np

from .ir import Model
from .weights import Weights

#: loaded frameworks whose threads make forking unsafe
_UNSAFE = ("tensorflow", "keras", "torch", "onnxruntime")


def can_fork(target: str) -> bool:
    """Whether ``target`` (a module name: keras) can run in a forked child here, and is
    installed at all."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return False
    if len(os.sched_getaffinity(0)) < 2:  # one CPU: a second process only adds memory
        return False
    if any(m in sys.modules for m in _UNSAFE):
        return False
    return importlib.util.find_spec(target) is not None


class Pending:
    """A framework's output being computed in a child; :meth:`result` waits for it,
    :meth:`cancel` stops it. The child dies with this process (a parent killed by the
    OOM killer or a SIGTERM leaves no orphan holding its memory and its stdout)."""

    def __init__(self, target: str, model: Model, weights: Weights, x: np.ndarray) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_child,
            args=(child, self._conn, os.getpid(), target, model, weights, x),
            daemon=True,
        )
        self._process.start()
        child.close()

    def result(self) -> np.ndarray | None:
        """The output, or None when the child failed (run it in-process then). Interrupted
        (Ctrl-C), the child is stopped rather than waited for."""
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):  # the child died before answering
            status, value = "failed", None
        except BaseException:
            self.cancel()
            raise
        self._conn.close()
        self._process.join()  # it has answered (or died): only to reap it
        return value if status == "ok" else None

    def cancel(self) -> None:
        """Stop the child if it still runs, and reap it; idempotent."""
        self._conn.close()
        if self._process.is_alive():
            self._process.terminate()  # SIGTERM: SystemExit in the child, which cleans up
            self._process.join(GRACE)
            if self._process.is_alive():
                self._process.kill()
        self._process.join()


#: seconds a terminated child has to clean up (its temporary file) before SIGKILL
GRACE = 5.0


def _child(
    conn: Any, parent_end: Any, parent: int, target: str, model: Model, weights: Weights, x: Any
) -> None:
    # The fork copied the parent's end of the pipe: while this process holds it, a send to
    # a parent that has gone blocks forever once the output outgrows the pipe's buffer.
    parent_end.close()
    _die_with(parent)
    from .frameworks import run

    try:
        answer: tuple[str, Any] = ("ok", run(target, model, weights, x))
    except BaseException:  # the parent reruns it in-process and sees the real error
        answer = ("failed", None)
    with contextlib.suppress(OSError):  # the parent has gone, or stopped listening
        conn.send(answer)
    conn.close()


def _die_with(parent: int) -> None:
    """SIGTERM when the parent dies (Linux's PR_SET_PDEATHSIG), and SIGTERM as SystemExit,
    so that ``finally`` blocks (temporary files) still run."""
    import ctypes
    import signal

    signal.signal(signal.SIGTERM, _exit)
    # without prctl, the parent's exit handler (multiprocessing's, for daemons) still stops us
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl: nobody waits for this
        raise SystemExit(0)


_PR_SET_PDEATHSIG = 1


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
