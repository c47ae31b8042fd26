"""One epoch of the generated PyTorch training script beside a hand-written loop.

    pip install -c constraints.txt -e '.[torch,train]'
    python bench/bench_train.py            # --quick: fewer repeats; --threads N

Both sides train LeNet-5 (``examples/lenet5.cnn``, the generated ``Lenet5`` class and its
``logits``) on the same digits (the script's own ``load_data``), batch 16, Adam, for one
epoch, then measure the test accuracy: the script through its ``train()`` (one process: no
DDP; a DistributedSampler order, statistics summed on tensors, the state_dict saved), the
hand-written side as a tutorial writes it (``torch.randperm``, slices, ``loss.item()``).
Same thread count; runs alternate (ABBA). Prints seconds per epoch and script /
hand-written (1.00 = as fast; the target is within 5%).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cnndsl  # noqa: E402
from cnndsl.backends.scripts import emit_train  # noqa: E402


def load_script(tmp: Path) -> ModuleType:
    path = tmp / "train_lenet5.py"
    path.write_text(emit_train(cnndsl.load(ROOT / "examples" / "lenet5.cnn"), "pytorch"))
    spec = importlib.util.spec_from_file_location("train_lenet5", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hand_written(script: ModuleType, data: tuple, lr: float, batch: int) -> float:
    """The loop a tutorial writes, on the same model class and data."""
    import torch
    from torch import nn

    x_train, y_train, x_test, y_test = data
    x = torch.from_numpy(x_train).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(y_train)
    torch.manual_seed(0)
    model = script.Lenet5().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(y))
    total = 0.0
    for i in range(0, len(y), batch):
        idx = order[i : i + batch]
        out = model.logits(x[idx])
        loss = loss_fn(out, y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x_test).permute(0, 3, 1, 2).contiguous()
        right = (model.logits(xt).argmax(1) == torch.from_numpy(y_test)).float().mean()
    return float(right)


def generated(script: ModuleType, tmp: Path, lr: float, batch: int) -> None:
    args = argparse.Namespace(
        data="digits", epochs=1, batch_size=batch, lr=lr, seed=0, output=str(tmp / "w.pt")
    )
    with contextlib.redirect_stdout(io.StringIO()):
        script.train(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (both sides)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rounds = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        script = load_script(tmp)
        data = script.load_data("digits")
        # the script loads the data itself on every run: give it the loaded arrays
        script.load_data = lambda source: data
        lr, batch = 0.005, 16
        runs = {
            "script": lambda: generated(script, tmp, lr, batch),
            "hand": lambda: hand_written(script, data, lr, batch),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for k in runs:  # warm up
            runs[k]()
        for r in range(rounds):
            for k in ("script", "hand") if r % 2 == 0 else ("hand", "script"):
                t0 = time.perf_counter()
                runs[k]()
                times[k].append(time.perf_counter() - t0)
    s, h = statistics.median(times["script"]), statistics.median(times["hand"])
    print(f"LeNet-5, digits, 1 epoch, batch 16, {args.threads} thread(s), median of {rounds}")
    print(f"generated script {s:.3f} s   hand-written {h:.3f} s   ratio {s / h:.3f}")


if __name__ == "__main__":
    main()
