"""Every bomb of tests/bombs.py, timed as a user meets it: a fresh `cnndsl` process.

    python bench/bench_bombs.py            # best of 3 runs per bomb; --repeat N

Prints, per bomb, the exit status, the wall time (and what is left of it without the
start, the wall time of ``cnndsl --version``), the CPU time (user + system: what the
process itself cost, whatever else the machine is doing) and the peak resident memory,
also as the excess over a bare Python's (``python -c pass``).
Targets: every bomb refused in <= 0.2 s and <= 100 MB beyond Python's own start.
The wall time includes Python's start and cnndsl's import, which the table's first
rows (`python -c pass`, `cnndsl --version`) show alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bombs import all_bombs  # noqa: E402

TIME = "/usr/bin/time"  # GNU time: %M is the peak RSS of the command alone
TARGET_S = 0.2
TARGET_MB = 100


def measure(argv: list[str]) -> tuple[int, float, float, float]:
    """(exit status, wall s, CPU s, peak RSS MB) of one fresh process.

    Through /usr/bin/time: a child forked from this Python would start with this process's
    resident pages counted in its peak (Linux keeps the high-water mark across exec).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    r = subprocess.run(
        [TIME, "-f", "%M %U %S", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - t0
    rss_kb, user, system = r.stderr.strip().splitlines()[-1].split()
    return r.returncode, wall, float(user) + float(system), int(rss_kb) / 1024


def best(argv: list[str], repeat: int) -> tuple[int, float, float, float]:
    runs = [measure(argv) for _ in range(repeat)]
    return runs[0][0], min(r[1] for r in runs), min(r[2] for r in runs), max(r[3] for r in runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    if not os.path.exists(TIME):
        sys.exit(f"{TIME} (GNU time) is needed to measure each process's own peak memory")
    py = [sys.executable]
    base = best([*py, "-c", "pass"], args.repeat)
    rows = [
        ("python -c pass", base),
        ("cnndsl --version", best([*py, "-m", "cnndsl", "--version"], args.repeat)),
    ]
    with tempfile.TemporaryDirectory() as d:
        for bomb in all_bombs(Path(d)):
            rows.append((bomb.name, best([*py, "-m", "cnndsl", *bomb.args], args.repeat)))
    start = rows[1][1][1]  # the wall time of `cnndsl --version`: Python and cnndsl's import
    print(
        f"{'bomb':34} {'exit':>4} {'wall s':>7} {'-start':>7} {'cpu s':>6} {'RSS MB':>7} {'+MB':>6}"
    )
    worst_wall = worst_mb = 0.0
    for name, (status, wall, cpu, rss) in rows:
        extra = rss - base[3]
        print(
            f"{name:34} {status:>4} {wall:7.3f} {wall - start:7.3f} {cpu:6.3f} {rss:7.1f} "
            f"{extra:6.1f}"
        )
        if name not in ("python -c pass", "cnndsl --version"):
            worst_wall, worst_mb = max(worst_wall, wall), max(worst_mb, extra)
    print(
        f"worst: {worst_wall:.3f} s (target <= {TARGET_S} s), "
        f"+{worst_mb:.1f} MB (target <= {TARGET_MB} MB beyond a bare Python)"
    )


if __name__ == "__main__":
    main()
