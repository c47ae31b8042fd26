"""The NumPy interpreter beside PyTorch CPU eager, same models, same weights, same threads.

    pip install -c constraints.txt -e '.[bench]'
    python bench/bench_numpy.py            # --quick: fewer repeats

At 1 thread and then at 2 (threadpoolctl's limit on NumPy's BLAS and ``forward(...,
threads=N)`` for the interpreter, ``torch.set_num_threads`` for torch: always the same
count for both), for each
model: ms per batch on NumPy and on PyTorch eager (the module cnndsl generates, which
bench_codegen.py shows is as fast as a hand-written one; torch is imported only here),
the ratio torch_time / numpy_time (>= 1.0 means NumPy is as fast or faster), and the
largest difference of their outputs (they must agree). Runs alternate between the two
(ABBA), so that a busy moment of a shared machine hits both alike. Then the largest
conv layer's GFLOP/s beside np.matmul's sgemm GFLOP/s on the same matrix sizes and on
a square 2048 one (the conv as ``forward`` runs it at that thread count), and the
forward pass's peak traced memory beside the largest layer's activations + im2col buffer.
Targets, at each thread count: >= 1.0x on LeNet-5 b64, the CIFAR VGG b32 and the text
CNN b64; >= 0.8x on ResNet-18 (224x224, batch 8); conv >= 70% of sgemm; peak memory no
higher than before (41.0 MiB; at most 97.1 MiB).
At 2 threads both sides wait for the second core at every parallel step: on a 2-core
machine that anything else is using, each such wait can take a scheduler time slice,
and the figures swing by 10x between runs. Compare at 1 thread for stable figures.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cnndsl  # noqa: E402
from cnndsl.backends.numpy import fast, forward, ops  # noqa: E402
from cnndsl.frameworks import torch_module  # noqa: E402
from cnndsl.weights import init_weights  # noqa: E402


def alternate(a, b, repeat: int) -> tuple[float, float]:
    """Median times of a and b, run in ABBA order, after one warm-up run each."""
    a(), b()
    ta, tb = [], []
    for i in range(repeat):
        pairs = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        for fn, times in pairs:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def timeit(fn, repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compare(name, model, batch, torch, repeat, threads) -> None:
    """Both sides take their native layout: NHWC for NumPy, NCHW for PyTorch."""
    weights = init_weights(model, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *model.input_shape)).astype(np.float32)
    tm = torch_module(model, weights)  # the generated nn.Module, weights converted
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))  # NCHW, made once
    with torch.inference_mode():
        t_np, t_t = alternate(lambda: forward(model, weights, x, threads), lambda: tm(xt), repeat)
        diff = float(np.max(np.abs(forward(model, weights, x) - tm(xt).numpy())))  # (N, F)
    print(
        f"{name:<22} batch {batch:>4}: numpy {t_np * 1e3:8.2f} ms   torch {t_t * 1e3:8.2f} ms"
        f"   ratio {t_t / t_np:5.2f}x   max|diff| {diff:.1e}"
    )


def conv_gflops(model, batch, repeat, threads) -> None:
    """The largest conv layer alone (the interpreter's path: fast.conv, or ops.conv when that
    is off), beside sgemm on its im2col matrix sizes."""
    node = max((n for n in model.nodes if n.kind == "conv"), key=lambda n: n.macs)
    layer = node.layer
    src = model.node(node.inputs[0])
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, *src.shape)).astype(np.float32)
    k = rng.standard_normal(node.weights[0].shape).astype(np.float32)
    b = rng.standard_normal(layer.filters).astype(np.float32)
    args = (layer.stride, layer.dilation, layer.pads())
    m = batch * int(np.prod(node.shape[:-1]))
    kk = int(np.prod(layer.kernel)) * src.shape[-1]
    a, bm = (
        rng.standard_normal((m, kk), np.float32),
        rng.standard_normal((kk, layer.filters), np.float32),
    )
    if fast.ENABLED and layer.groups == 1:  # the interpreter's own path, without activation
        run = lambda: fast.conv(x, k, b, *args)  # noqa: E731
    else:
        run = lambda: ops.conv(x, k, b, *args, layer.groups)  # noqa: E731
    # the conv and its sgemm alternate (ABBA): timed apart, a busy minute of the machine
    # moved the ratio by 20-40% at 2 threads
    with fast.one_thread() if threads == 1 else contextlib.nullcontext():  # as forward
        t, t_mm = alternate(run, lambda: a @ bm, repeat)
    flops = 2 * node.macs * batch
    sq = rng.standard_normal((2048, 2048), np.float32)
    t_sq = timeit(lambda: sq @ sq, repeat)
    g, g_mm, g_sq = (
        flops / t / 1e9,
        2 * m * kk * layer.filters / t_mm / 1e9,
        2 * 2048**3 / t_sq / 1e9,
    )
    print(
        f"largest conv ({node.name}, {node.keyword} {layer.filters} "
        f"{'x'.join(map(str, layer.kernel))} on {'x'.join(map(str, src.shape))}, batch {batch}):"
        f" {g:.1f} GFLOP/s"
    )
    print(
        f"  sgemm on its im2col sizes ({m}x{kk} @ {kk}x{layer.filters}): {g_mm:.1f} GFLOP/s"
        f"  -> conv at {g / g_mm:.0%} of it"
    )
    print(f"  sgemm 2048x2048: {g_sq:.1f} GFLOP/s  -> conv at {g / g_sq:.0%} of it")


def peak_memory(model, batch) -> None:
    """Threads not given (16 MiB im2col blocks), and threads=1 (2 MiB blocks)."""
    weights = init_weights(model, seed=0)
    x = np.random.default_rng(0).standard_normal((batch, *model.input_shape)).astype(np.float32)
    peaks = []
    for threads in (None, 1):
        forward(model, weights, x, threads)
        fast.release()  # the im2col buffer kept between calls counts: made again under trace
        tracemalloc.start()
        tracemalloc.reset_peak()
        forward(model, weights, x, threads)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # the bound: for each conv, its input + padded input + im2col buffer + output
    worst = 0
    for n in model.nodes:
        src = model.node(n.inputs[0]).shape if n.inputs else n.shape
        item = 4 * batch
        size = item * int(np.prod(n.shape)) + item * int(np.prod(src))
        if n.kind == "conv":
            cols = item * int(np.prod(n.shape[:-1])) * int(np.prod(n.layer.kernel)) * src[-1]
            padded = (
                item
                * int(np.prod([s + a + b for s, (a, b) in zip(src[:-1], n.layer.pads())]))
                * src[-1]
            )
            size += cols + padded
        worst = max(worst, size)
    print(
        f"peak traced memory, {model.name} batch {batch}: {peaks[0] / 2**20:.1f} MiB "
        f"(threads=1: {peaks[1] / 2**20:.1f} MiB); largest "
        f"layer's input + output + padded input + im2col buffer: {worst / 2**20:.1f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = ap.parse_args()
    repeat = 3 if args.quick else 15
    import torch  # only here: the interpreter never imports it
    from threadpoolctl import threadpool_limits

    print(f"numpy {np.__version__}, torch {torch.__version__}")
    lenet = cnndsl.load(ROOT / "examples" / "lenet5.cnn")
    vgg = cnndsl.load(ROOT / "examples" / "cifar_vgg.cnn")
    text = cnndsl.load(ROOT / "examples" / "text_cnn.cnn")
    resnet18 = cnndsl.load(ROOT / "examples" / "resnet18.cnn")
    for threads in args.threads:
        torch.set_num_threads(threads)
        with threadpool_limits(threads):
            print(f"\n{threads} thread(s) for both")
            compare("LeNet-5", lenet, 64, torch, repeat, threads)
            compare("LeNet-5", lenet, 256, torch, repeat, threads)
            compare("CIFAR VGG (32x32x3)", vgg, 32, torch, max(3, repeat // 3), threads)
            compare("text CNN (100x300, 1-D)", text, 64, torch, repeat, threads)
            compare("ResNet-18 (224x224x3)", resnet18, 8, torch, max(3, repeat // 5), threads)
            conv_gflops(vgg, 32, max(3, repeat // 3), threads)
    print()
    peak_memory(vgg, 32)


if __name__ == "__main__":
    main()
