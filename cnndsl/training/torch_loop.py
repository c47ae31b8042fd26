"""Training in PyTorch: the generated module of the logits model, cross-entropy on logits,
Adam; one process, or ``nproc`` processes under DistributedDataParallel.

Several processes are started with ``torch.multiprocessing.spawn`` (the same API
``torchrun`` drives; no free port is needed: the processes meet through a file store in a
private temporary directory). The backend is gloo on CPU, nccl when CUDA is there. Each
epoch's order comes from a ``DistributedSampler`` seeded with ``--seed`` — also for one
process, so that the order does not depend on the process count. ``batch_size`` is the
global batch: each of N processes takes batch_size / N samples of it, and since the sampler
deals a shuffled order out round-robin, the N shards of a step are exactly the samples one
process would take in that step. DDP averages the gradients, so N processes take the same
steps as one, up to the order of float sums. Evaluation and saving happen on rank 0; batch
norm's moving statistics (buffers, not gradients) are broadcast from rank 0 at the end, and
every rank reports a digest of its final weights, so that "all ranks hold the same weights"
is checked, not assumed.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import time
from typing import Any

import numpy as np

from ..frameworks import framework, torch_module, torch_weights
from ..weights import Weights
from .common import Config, Epoch, Progress, Result, digest, epoch_lr
from .data import Dataset
from .heads import Head

EVAL_BATCH = 256


def channels_first(x: np.ndarray) -> np.ndarray:
    """A channels-last batch in the layout of the generated module (NCHW, NCL)."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 1) if x.ndim > 2 else x)


def accuracy(net: Any, x: Any, y: Any) -> float:
    """Share of ``x`` whose largest logit is its label, in eval mode, in chunks."""
    torch = framework("pytorch")
    net.eval()
    with torch.no_grad():
        right = sum(
            int((net(xb).argmax(1) == yb).sum())
            for xb, yb in zip(x.split(EVAL_BATCH), y.split(EVAL_BATCH))
        )
    net.train()
    return right / max(len(y), 1)


def train_torch(head: Head, data: Dataset, init: Weights, cfg: Config, echo: bool) -> Result:
    """Train; ``echo`` prints each epoch's line (from rank 0) as it ends."""
    framework("pytorch")
    if cfg.nproc == 1:
        return _train(0, 1, head, data, init, cfg, echo)
    return _spawn(head, data, init, cfg, echo)


def _spawn(head: Head, data: Dataset, init: Weights, cfg: Config, echo: bool) -> Result:
    mp: Any = importlib.import_module("torch.multiprocessing")
    with tempfile.TemporaryDirectory(prefix="cnndsl-ddp-") as tmp:
        args = (cfg.nproc, tmp, head, data, init, cfg, echo)
        mp.spawn(_worker, args=args, nprocs=cfg.nproc, join=True)
        from ..weightfile import load_weights

        weights = load_weights(head.model, os.path.join(tmp, "rank0.npz"))
        with open(os.path.join(tmp, "rank0.json"), encoding="utf-8") as fh:
            doc = json.load(fh)
        digests = [_read(os.path.join(tmp, f"rank{r}.digest")) for r in range(cfg.nproc)]
    history = [Epoch(**e) for e in doc["history"]]
    return Result(weights, history, doc["seconds"], digests, doc["first_loss"])


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _worker(
    rank: int, world: int, tmp: str, head: Head, data: Dataset, init: Weights, cfg: Config,
    echo: bool,
) -> None:  # fmt: skip
    """One process of a DDP run: joins the group, trains, writes what it holds to ``tmp``."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)  # N processes share the cores
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    store = f"file://{os.path.join(tmp, 'store')}"
    dist.init_process_group(backend, init_method=store, rank=rank, world_size=world)
    try:
        result = _train(rank, world, head, data, init, cfg, echo)
    finally:
        dist.destroy_process_group()
    with open(os.path.join(tmp, f"rank{rank}.digest"), "w", encoding="utf-8") as fh:
        fh.write(result.rank_digests[0])
    if rank == 0:
        from ..weights import save_weights

        save_weights(result.weights, os.path.join(tmp, "rank0.npz"))
        doc = {"history": [vars(e) for e in result.history], "seconds": result.seconds}
        doc["first_loss"] = result.first_loss
        with open(os.path.join(tmp, "rank0.json"), "w", encoding="utf-8") as fh:
            json.dump(doc, fh)


def _train(
    rank: int, world: int, head: Head, data: Dataset, init: Weights, cfg: Config, echo: bool
) -> Result:
    torch = framework("pytorch")
    torch.manual_seed(cfg.seed + rank)  # dropout; the weights start from ``init`` anyway
    net = torch_module(head.logits, init).train()
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loop = _Loop(torch, model, opt, data, cfg, rank, world)
    progress = Progress(cfg.epochs) if echo and rank == 0 else None
    start, history = time.perf_counter(), []
    for e in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = epoch_lr(cfg, e)
        loss, acc = loop.epoch(e, progress)
        test = accuracy(net, loop.x_test, loop.y_test) if rank == 0 else float("nan")
        history.append(Epoch(e, loss, acc, test, time.perf_counter() - t0))
        if progress is not None:
            progress.clear()
            print(history[-1].line(cfg.epochs), flush=True)
    if world > 1:
        for buf in net.buffers():  # batch norm statistics: rank 0's everywhere
            torch.distributed.broadcast(buf, 0)
    weights = torch_weights(head.logits, net)
    seconds = time.perf_counter() - start
    return Result(weights, history, seconds, [digest(weights)], loop.first_loss)


class _Loop:
    """The data on tensors, the sampler, and one epoch of steps."""

    def __init__(
        self, torch: Any, model: Any, opt: Any, data: Dataset, cfg: Config, rank: int, world: int
    ) -> None:
        sampler: Any = importlib.import_module("torch.utils.data").DistributedSampler
        self.torch, self.model, self.opt = torch, model, opt
        self.x = torch.from_numpy(channels_first(data.x_train))
        self.y = torch.from_numpy(data.y_train)
        self.x_test = torch.from_numpy(channels_first(data.x_test))
        self.y_test = torch.from_numpy(data.y_test)
        self.sampler = sampler(
            range(len(self.y)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed
        )
        self.per_rank = cfg.batch_size // world
        self.loss = torch.nn.CrossEntropyLoss()  # on logits: log-softmax inside
        self.world = world
        self.first_loss = float("nan")

    def epoch(self, e: int, progress: Progress | None) -> tuple[float, float]:
        """One pass; returns (mean loss, accuracy) over every process's samples."""
        torch = self.torch
        self.sampler.set_epoch(e)
        batches = torch.tensor(list(self.sampler), dtype=torch.int64).split(self.per_rank)
        stats = torch.zeros(3, dtype=torch.float64)  # loss sum, right, count
        for i, idx in enumerate(batches):
            xb, yb = self.x[idx], self.y[idx]
            out = self.model(xb)
            loss = self.loss(out, yb)
            if e == 1 and i == 0:
                self.first_loss = float(loss.detach())
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            stats += torch.tensor(
                [float(loss.detach()) * len(yb), float((out.argmax(1) == yb).sum()), len(yb)],
                dtype=torch.float64,
            )
            if progress is not None:
                progress.batch(e, i + 1, len(batches))
        if self.world > 1:
            torch.distributed.all_reduce(stats)
        total, right, count = stats.tolist()
        return total / count, right / count
