"""Parse + check throughput, and cold `cnndsl check` beside building the model in Keras.

    python bench/bench_check.py            # add --quick for a fast smoke run

Prints statements/s on generated models of 1k and 10k layer statements, the
10k/1k time ratio (10.0 means linear scaling), the same ratios for code generation
(`compile`, both targets, parse excluded), the cold wall time of
`cnndsl check examples/vgg16.cnn` (a fresh process, as a user runs it), and, when
Keras is installed, the cold time of building `keras.applications.VGG16(weights=None)`
and counting its parameters in a fresh process, with the ratio.
The same for examples/resnet50.cnn beside keras.applications.ResNet50 (whose
architecture differs a little: biases in its convs, hence another count).
Targets: >= 20k statements/s, linear scaling, cold check <= 0.2 s, >= 30x Keras.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cnndsl  # noqa: E402

BLOCK = [
    "conv 8 3x3 relu same",
    "batchnorm",
    "conv 8 3 same stride=1 dilation=2 name={name}",
    "leaky_relu alpha=0.1",
    "dropout 0.1",
    "zeropad 1",
    "pool max 3 stride=1",
    "conv 8 1x1 bias=false groups=2",
]


def generate(n_layers: int) -> str:
    """A valid model with ``n_layers`` layer statements (shapes stay 16x16x8)."""
    lines = ["model bench", "input 16x16x8"]
    i = 0
    while len(lines) - 2 < n_layers - 2:
        lines.append(BLOCK[i % len(BLOCK)].format(name=f"c{i}"))
        i += 1
    lines += ["flatten", "dense 10 softmax"]
    return "\n".join(lines) + "\n"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cold(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compile_scaling(repeat: int) -> None:
    """Code generation alone (parse excluded) at 1k, 8k and 10k layers, both targets."""
    from cnndsl.backends import emit

    models = {n: cnndsl.parse(generate(n)) for n in (1_000, 8_000, 10_000)}
    for target in ("pytorch", "keras"):
        t = {n: best_of(lambda m=m, g=target: emit(m, g), repeat) for n, m in models.items()}
        print(
            f"compile --target {target:<7} 1k: {t[1_000] * 1e3:6.1f} ms"
            f"  8k: {t[8_000] * 1e3:7.1f} ms  10k: {t[10_000] * 1e3:7.1f} ms"
            f"   8k/1k {t[8_000] / t[1_000]:.2f} (8.0 = linear)"
            f"  10k/1k {t[10_000] / t[1_000]:.2f} (10.0 = linear)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no Keras")
    args = ap.parse_args()
    repeat = 2 if args.quick else 5

    cnndsl.parse(generate(100))  # warm: grammar loaded once per process
    results = {}
    for n in (1_000, 10_000):
        text = generate(n)
        model = cnndsl.parse(text)
        assert len(model.nodes) == n + 1  # + input
        results[n] = best_of(lambda t=text: cnndsl.parse(t), repeat)
        print(
            f"parse+check {n:>6,} layer statements: {results[n] * 1e3:8.1f} ms  "
            f"{n / results[n]:>9,.0f} statements/s"
        )
    print(f"scaling 10k/1k time ratio: {results[10_000] / results[1_000]:.2f} (10.0 = linear)")
    compile_scaling(repeat)

    colds = {}
    for example in ("vgg16", "resnet50"):
        check = [sys.executable, "-m", "cnndsl", "check", f"examples/{example}.cnn"]
        colds[example] = cold(check, repeat)
    t_python = cold([sys.executable, "-c", "pass"], repeat)
    for example, t in colds.items():
        print(
            f"cold `cnndsl check examples/{example}.cnn`: {t * 1e3:.0f} ms "
            f"(of which {t_python * 1e3:.0f} ms is starting Python)"
        )

    if args.quick:
        return
    import importlib.util

    if importlib.util.find_spec("keras") is None:
        print("keras not installed: skipping the Keras comparison (pip install '.[keras]')")
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for example, app, count in (("vgg16", "VGG16", 138357544), ("resnet50", "ResNet50", 25636712)):
        code = (
            f"import keras; m = keras.applications.{app}(weights=None); "
            f"assert m.count_params() == {count}"
        )
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
            times.append(time.perf_counter() - t0)
        t_keras = statistics.median(times)
        print(
            f"cold keras.applications.{app}(weights=None).count_params(): "
            f"{t_keras * 1e3:.0f} ms; ratio keras / cnndsl check: "
            f"{t_keras / colds[example]:.1f}x"
        )


if __name__ == "__main__":
    main()
