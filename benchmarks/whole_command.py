"""`python train.py` against the plain tutorial program, both timed as whole commands, A B A B.

    python -m benchmarks.whole_command --data-dir /path/to/folder [--epochs 1] [--rounds 3]
                                       [--device cpu|cuda]

Whole command means what a user waits for: interpreter start, imports, data loading, the
epochs, and everything after them (train.py's evaluation, figures and checkpoint; the plain
program's test loss). train.py also prints its own training seconds, so the time outside the
epochs is the difference. Runs alternate so that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--arch", default="dae")
    args = p.parse_args()
    times: dict[str, list[float]] = {"train.py": [], "plain loop": []}
    outside: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = [
            sys.executable,
            "train.py",
            "--data-dir",
            args.data_dir,
            "--out",
            f"{tmp}/run",
            "--epochs",
            str(args.epochs),
            "--device",
            args.device,
            "--arch",
            args.arch,
        ]
        plain = [
            sys.executable,
            "-m",
            "benchmarks.plain_loop",
            "--data-dir",
            args.data_dir,
            "--epochs",
            str(args.epochs),
            "--device",
            args.device,
        ]
        for r in range(args.rounds):
            times["train.py"].append(timed(ours))
            trained = json.loads(Path(f"{tmp}/run/metrics.json").read_text())["train_seconds"]
            outside.append(times["train.py"][-1] - trained)
            if args.arch == "dae":
                times["plain loop"].append(timed(plain))
            print(
                f"round {r + 1}: "
                + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items() if v)
                + f" (train.py outside its epochs: {outside[-1]:.1f} s)",
                flush=True,
            )
    ours_s = statistics.median(times["train.py"])
    print(
        f"\n{args.epochs} epoch(s), {args.arch}, {args.device}: train.py {ours_s:.1f} s whole command "
        f"(median of {args.rounds}), of which {statistics.median(outside):.1f} s outside the epochs"
    )
    if times["plain loop"]:
        plain_s = statistics.median(times["plain loop"])
        print(f"plain loop {plain_s:.1f} s whole command: train.py is {plain_s / ours_s:.2f}x as fast")


if __name__ == "__main__":
    main()
