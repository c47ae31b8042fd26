"""A small batch split across threads: the calling thread and a kept pool share its parts.

Every layer of an inference pass treats each image alone, so a batch can run as parts
and be concatenated back, each image's arithmetic unchanged. Parts are handed out one
at a time to whichever thread asks next, the calling thread included, and the caller
waits only for parts that some thread has taken: a pool thread that another program's
work keeps off the second core (a busy 2-core machine) finds nothing left, instead of
making the caller wait for its time slice. Each thread keeps its matmuls to itself
(:func:`.fast.one_thread`): for a small batch, waking BLAS threads for every matmul
costs more than they give.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import fast

_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per size, made when first needed and kept for later calls."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="cnndsl-forward")
    return _POOLS[workers]


def run(run_part: Callable[[np.ndarray], np.ndarray], x: np.ndarray, threads: int) -> np.ndarray:
    """``run_part`` over ``2 * threads`` parts of the batch ``x`` on ``threads`` threads
    (the caller's and a pool's), concatenated in order."""
    parts = np.array_split(x, min(len(x), 2 * threads))
    outs: list[np.ndarray | BaseException | None] = [None] * len(parts)
    done = [threading.Event() for _ in parts]
    claim = iter(range(len(parts)))
    lock = threading.Lock()

    def work() -> None:
        with fast.one_thread(chunk=True):
            while True:
                with lock:
                    i = next(claim, None)
                if i is None:
                    return
                try:
                    outs[i] = run_part(parts[i])
                except BaseException as exc:  # raised again in the caller's thread
                    outs[i] = exc
                done[i].set()

    pool = _pool(threads - 1)
    for _ in range(threads - 1):
        pool.submit(work)
    work()
    for event in done:
        event.wait()
    results: list[np.ndarray] = []
    for out in outs:
        if isinstance(out, BaseException):
            raise out
        assert out is not None
        results.append(out)
    return np.concatenate(results)
