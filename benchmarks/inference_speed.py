"""Inference speed of the served models: single-image latency and batch throughput.

    python -m benchmarks.inference_speed [--checkpoint checkpoints/dae] [--threads N]

Prints p50/p95 latency of one 28 x 28 image through the model (what the app does per request)
and images/s for batches, on the CPU and, when one is present, on CUDA.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dae.checkpoint import load_model


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


@torch.inference_mode()
def measure(model: torch.nn.Module, device: torch.device, repeats: int) -> None:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    x = torch.rand(1, 1, 28, 28, device=device)
    for _ in range(50):
        model(x)
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        model(x)
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    p50, p95 = percentile(times, 50), percentile(times, 95)
    print(f"  single image: p50 {p50:.3f} ms, p95 {p95:.3f} ms ({repeats} runs)")
    for batch in (64, 1000):
        xb = torch.rand(batch, 1, 28, 28, device=device)
        model(xb)
        sync()
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < 2.0:
            model(xb)
            n += batch
        sync()
        print(f"  batch {batch:5d}: {n / (time.perf_counter() - t):,.0f} images/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", nargs="+", default=["checkpoints/dae"])
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: torch's choice; the app uses 1)"
    )
    p.add_argument("--repeats", type=int, default=2000)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for ckpt in args.checkpoint:
        for device in devices:
            model, config = load_model(ckpt, device)
            name = (
                torch.cuda.get_device_name()
                if device.type == "cuda"
                else f"CPU, {torch.get_num_threads()} threads"
            )
            print(f"{config['arch']} ({ckpt}) on {name}:")
            measure(model, device, args.repeats)
    if not torch.cuda.is_available():
        print("CUDA: not measured (no GPU on this machine)")


if __name__ == "__main__":
    main()
