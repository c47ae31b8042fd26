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

import importlib.util
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
    if any(m in sys.modules for m in _UNSAFE):
        return False
    return importlib.util.find_spec(target) is not None


class Pending:
    """A framework's output being computed in a child; :meth:`result` waits for it."""

    def __init__(self, target: str, model: Model, weights: Weights, x: np.ndarray) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_child, args=(child, target, model, weights, x), daemon=True
        )
        self._process.start()
        child.close()

    def result(self) -> np.ndarray | None:
        """The output, or None when the child failed (run it in-process then)."""
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):  # the child died before answering
            status, value = "failed", None
        finally:
            self._conn.close()
            self._process.join()
        return value if status == "ok" else None


def _child(conn: Any, target: str, model: Model, weights: Weights, x: np.ndarray) -> None:
    from .frameworks import run

    try:
        conn.send(("ok", run(target, model, weights, x)))
    except BaseException:  # the parent reruns it in-process and sees the real error
        conn.send(("failed", None))
    finally:
        conn.close()
