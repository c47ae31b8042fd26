"""ONNX Runtime on the exported graph beside the NumPy interpreter and PyTorch eager:
same models, same weights, same input, same thread count.

    pip install -c constraints.txt -e '.[bench]'
    python bench/bench_onnx.py            # --quick: fewer repeats

For LeNet-5 (batch 64), the CIFAR VGG (batch 32) and ResNet-18 (224x224, batch 8): the
median ms per batch of each backend, with 1 thread and then 2 (ORT's
``intra_op_num_threads``, ``torch.set_num_threads``, threadpoolctl's limit on NumPy's
BLAS; ORT's ``inter_op_num_threads`` is 1, its default sequential executor uses no
more). Repeats are interleaved (numpy, torch, ort, numpy, ...), so that a slow moment
of the machine falls on all three alike. Ratios below 1.0 mean ONNX Runtime is faster.
The largest |ORT - NumPy| difference is printed too: a fast wrong answer is no answer.
Each backend takes its native layout (NHWC for NumPy, NCHW for the other two), made
once outside the timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cnndsl  # noqa: E402
from cnndsl.backends.numpy import forward  # noqa: E402
from cnndsl.backends.onnx import to_onnx  # noqa: E402
from cnndsl.frameworks import torch_module  # noqa: E402
from cnndsl.weights import init_weights  # noqa: E402

MODELS = (  # name, file, batch, share of the repeats (the big ones take seconds)
    ("LeNet-5", "lenet5.cnn", 64, 1),
    ("CIFAR VGG", "cifar_vgg.cnn", 32, 3),
    ("ResNet-18", "resnet18.cnn", 8, 5),
)


def session(model, weights, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    data = to_onnx(model, weights).SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def interleaved(fns: dict, repeat: int) -> dict[str, float]:
    """Median seconds per call of each function, the calls taken in turn."""
    for fn in fns.values():
        fn()  # warm up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench(name, path, batch, threads, repeat, torch) -> None:
    model = cnndsl.load(ROOT / "examples" / path)
    weights = init_weights(model, seed=0)
    x = np.random.default_rng(0).standard_normal((batch, *model.input_shape)).astype(np.float32)
    xt = np.ascontiguousarray(np.moveaxis(x, -1, 1))  # NCHW, made once
    net, sess = torch_module(model, weights), session(model, weights, threads)
    feed = {model.inputs[0]: xt}
    tx = torch.from_numpy(xt)
    with torch.inference_mode():
        t = interleaved(
            {
                "numpy": lambda: forward(model, weights, x),
                "torch": lambda: net(tx),
                "ort": lambda: sess.run(None, feed),
            },
            repeat,
        )
    diff = float(np.max(np.abs(sess.run(None, feed)[0] - forward(model, weights, x))))
    print(
        f"{threads:>7}  {name:<10} {batch:>5}  {t['numpy'] * 1e3:9.2f}  {t['torch'] * 1e3:9.2f}"
        f"  {t['ort'] * 1e3:9.2f}  {t['ort'] / t['numpy']:9.2f}  {t['ort'] / t['torch']:9.2f}"
        f"  {diff:9.1e}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeat = 3 if args.quick else 15
    import onnxruntime
    import torch  # only here: the interpreter never imports either

    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        sys.exit("bench_onnx.py needs threadpoolctl: pip install -c constraints.txt -e '.[bench]'")

    torch.set_num_interop_threads(1)
    print(
        f"numpy {np.__version__}, torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}; median ms per batch, repeats interleaved"
    )
    blas = [
        f"{i['internal_api']} {i['version']}" for i in threadpool_info() if i["user_api"] == "blas"
    ]
    print(f"NumPy's BLAS, limited by threadpoolctl: {', '.join(blas)}; {os.cpu_count()} CPUs\n")
    print("threads  model      batch   numpy ms   torch ms     ort ms  ort/numpy  ort/torch"
          "  max|diff|")  # fmt: skip
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads, user_api="blas"):
            for name, path, batch, share in MODELS:
                bench(name, path, batch, threads, max(3, repeat // share), torch)


if __name__ == "__main__":
    main()
