"""Cold `cnndsl verify`: Keras in a second process (the default) beside everything in one.

    pip install -c constraints.txt -e '.[bench]'
    python bench/bench_verify.py            # --quick: fewer repeats

A cold `cnndsl verify examples/lenet5.cnn` spends most of its time importing the
frameworks. Prints the median wall time of fresh processes of: `cnndsl verify` (Keras
forked into a child while the parent runs NumPy, PyTorch and ONNX Runtime), `cnndsl
verify --serial` (one after another, as before), and, for scale, `import keras` and
`import torch, onnxruntime` alone. The serial run cannot beat their sum; the default beats
the bare `import keras`, which loads scikit-learn for `keras.wrappers` where verify's child
does not (1-2 s). Runs alternate, so that a busy moment of a shared machine hits all alike.
The versions that weigh on the imports are printed first: ml_dtypes 0.7.0 alone takes
1.1-1.5 s to import here, 0.6.0 (pinned in constraints.txt) 0.1 s. Target (issue 18):
verify of LeNet-5 <= 5 s cold on the machine where the serial run took 5.4-6 s; the
speed-up over --serial is what carries over.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
}
CNNDSL = [sys.executable, "-m", "cnndsl"]
RUNS = {
    "cnndsl verify (Keras in a child)": [*CNNDSL, "verify", "examples/lenet5.cnn"],
    "cnndsl verify --serial": [*CNNDSL, "verify", "examples/lenet5.cnn", "--serial"],
    "import keras": [sys.executable, "-c", "import keras"],
    "import torch, onnxruntime": [sys.executable, "-c", "import torch, onnxruntime"],
}


def once(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 runs of each instead of 5")
    repeat = 2 if ap.parse_args().quick else 5
    names = ("tensorflow-cpu", "keras", "ml_dtypes", "torch", "onnxruntime")
    print(", ".join(f"{n} {_version(n)}" for n in names))
    for cmd in RUNS.values():
        once(cmd)  # bytecode written, files in the page cache
    times: dict[str, list[float]] = {name: [] for name in RUNS}
    for i in range(repeat):
        order = list(RUNS) if i % 2 == 0 else list(reversed(RUNS))
        for name in order:
            times[name].append(once(RUNS[name]))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, t in med.items():
        print(f"{name:<36} {t:6.2f} s   (runs: {', '.join(f'{x:.2f}' for x in times[name])})")
    fork, serial = med["cnndsl verify (Keras in a child)"], med["cnndsl verify --serial"]
    floor = max(med["import keras"], med["import torch, onnxruntime"])
    print(
        f"verify / verify --serial: {fork / serial:.2f} (the saving: {1 - fork / serial:.0%});"
        f" verify / slower import alone: {fork / floor:.2f}"
    )


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    main()
