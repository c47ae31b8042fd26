"""Generated PyTorch and Keras code beside the same networks written by hand, forward time.

    pip install -c constraints.txt -e '.[bench]'
    python bench/bench_codegen.py            # --quick: fewer repeats

The hand-written models below are what a person would write from a textbook
(d2l's LeNet-5, a CIFAR VGG block stack). Both sides get the same weights-free
architecture, the same input, the same thread count; runs alternate between the
two (ABBA) so that drift and warm caches hit both alike. Prints ms per batch and
generated / hand-written (1.00 = as fast; the target is within 5%).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import cnndsl  # noqa: E402
from cnndsl.frameworks import keras_model, torch_module  # noqa: E402


def hand_torch(name: str, nn):
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),
            nn.Sigmoid(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.Sigmoid(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120),
            nn.Sigmoid(),
            nn.Linear(120, 84),
            nn.Sigmoid(),
            nn.Linear(84, 10),
            nn.Softmax(dim=1),
        ).eval()
    layers, cin = [], 3
    for c in (64, 128, 256):
        layers += [
            nn.Conv2d(cin, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
        cin = c
    layers += [nn.Flatten(), nn.Linear(256 * 4 * 4, 10), nn.Softmax(dim=1)]
    return nn.Sequential(*layers).eval()


def hand_keras(name: str, keras):
    L = keras.layers
    if name == "lenet5":
        return keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                L.Conv2D(6, 5, padding="same", activation="sigmoid"),
                L.AveragePooling2D(2),
                L.Conv2D(16, 5, activation="sigmoid"),
                L.AveragePooling2D(2),
                L.Flatten(),
                L.Dense(120, activation="sigmoid"),
                L.Dense(84, activation="sigmoid"),
                L.Dense(10, activation="softmax"),
            ]
        )
    layers = [keras.Input((32, 32, 3))]
    for c in (64, 128, 256):
        layers += [
            L.Conv2D(c, 3, padding="same", activation="relu"),
            L.Conv2D(c, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
        ]
    layers += [L.Flatten(), L.Dense(10, activation="softmax")]
    return keras.Sequential(layers)


def alternate(a, b, repeat: int) -> tuple[float, float]:
    """Median times of a and b, run in ABBA order so that neither always goes second
    (warm caches) or first."""
    a(), b()  # warm up
    ta, tb = [], []
    for i in range(repeat):
        pairs = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        for fn, times in pairs:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeat = 5 if args.quick else 30
    import keras
    import torch

    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"keras {keras.__version__} on {keras.backend.backend()}\n"
    )
    models = {
        "lenet5": (cnndsl.load(ROOT / "examples" / "lenet5.cnn"), 64),
        "cifar_vgg": (cnndsl.load(ROOT / "examples" / "cifar_vgg.cnn"), 32),
    }
    for name, (model, batch) in models.items():
        compare(name, model, batch, repeat, torch, keras)


def compare(name, model, batch, repeat, torch, keras) -> None:
    x = np.random.default_rng(0).standard_normal((batch, *model.input_shape), np.float32)
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
    gen, hand = torch_module(model), hand_torch(name, torch.nn)
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(gen) == count(hand)
    with torch.inference_mode():
        tg, th = alternate(lambda: gen(xt), lambda: hand(xt), repeat)
    print(
        f"pytorch {name:<10} batch {batch}: generated {tg * 1e3:7.2f} ms   "
        f"hand-written {th * 1e3:7.2f} ms   ratio {tg / th:.3f}"
    )
    kg, kh = keras_model(model), hand_keras(name, keras)
    assert kg.count_params() == kh.count_params()
    tg, th = alternate(
        lambda: kg(x, training=False), lambda: kh(x, training=False), max(3, repeat // 2)
    )
    print(
        f"keras   {name:<10} batch {batch}: generated {tg * 1e3:7.2f} ms   "
        f"hand-written {th * 1e3:7.2f} ms   ratio {tg / th:.3f}"
    )


if __name__ == "__main__":
    main()
