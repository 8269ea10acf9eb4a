"""Training throughput: the project's trainer against the usual DataLoader loop, A B A B.

    python -m benchmarks.train_speed [--device cpu|cuda] [--steps N] [--rounds R] [--data-dir DIR]

All sides train the same model with the same optimizer settings, noise and batch size:

- naive: `torchvision.datasets.MNIST(transform=ToTensor())` and `DataLoader(batch_size=64,
  shuffle=True)`, batches moved to the device each step, a default (foreach) Adam, and the
  loss read back every step, as most tutorials write it;
- eager: the trainer's step (`dae.training.loop.make_step`): the split held on the device as uint8,
  batches drawn by index, fused Adam, no read-back;
- graph (CUDA only): the same step captured once as a CUDA graph and replayed (`dae.training.cuda_graph`).

They run alternately in one process (A B C A B C ...) so machine noise hits all alike; the
script prints each round, the medians and their ratios. Without --data-dir it uses a
synthetic MNIST-shaped data set written in MNIST's own file format, so the naive side runs
torchvision's real loading path either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from itertools import islice

import torch
import torch.nn.functional as F

from dae.data import load_mnist, shuffled_batches
from dae.model import DAE
from dae.training.config import TrainConfig, pick_device
from dae.training.loop import corrupt, make_optimizer, make_step
from tools.synthetic import write_synthetic_mnist


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class TextbookDAE(DAE):
    """The same layers and initial weights, with conv1 run as a plain nn.Conv2d, as a tutorial would."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1.forward = super(type(self.conv1), self.conv1).forward


def naive_runner(root: str, device: torch.device, config: TrainConfig, steps: int):
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=True)
    torch.manual_seed(config.seed)
    model = TextbookDAE().to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    generator = torch.Generator(device=device).manual_seed(config.seed)
    batches = iter(loader)

    def run() -> float:
        nonlocal batches
        images, done = 0, 0
        while done < steps:
            for clean, _ in islice(batches, steps - done):
                clean = clean.to(device)
                noisy = corrupt(clean, config, generator)
                loss = F.mse_loss(model(noisy), clean)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                loss.item()  # the usual running-loss bookkeeping
                images += len(clean)
                done += 1
            if done < steps:
                batches = iter(loader)
        return images

    return run


def ours_runner(root: str, device: torch.device, config: TrainConfig, steps: int, graphed: bool):
    images, _ = load_mnist(root, train=True, download=False)
    images = images.to(device)
    torch.manual_seed(config.seed)
    model = DAE().to(device)
    optimizer = make_optimizer(model, config)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    step = make_step(model, optimizer, images, config, generator, graphed)
    losses = torch.zeros(steps, device=device)  # as the trainer does: kept on the device

    def run() -> float:
        count, done = 0, 0
        while done < steps:
            for index in islice(
                shuffled_batches(len(images), config.batch_size, generator, device), steps - done
            ):
                losses[done] = step(index)
                count += len(index)
                done += 1
        return count

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--steps", type=int, default=200, help="training steps per side per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--data-dir", default=None, help="real MNIST (folder holding MNIST/raw); default: synthetic"
    )
    args = p.parse_args()
    device = pick_device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA GPU is available")
    config = TrainConfig()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_dir or str(write_synthetic_mnist(tmp, 60_000, 16))
        sides = {
            "naive": naive_runner(root, device, config, args.steps),
            "eager": ours_runner(root, device, config, args.steps, graphed=False),
        }
        if device.type == "cuda":
            sides["graph"] = ours_runner(root, device, config, args.steps, graphed=True)
        for run in sides.values():  # warm-up: first-call allocations, kernel selection
            run()
        rates: dict[str, list[float]] = {name: [] for name in sides}
        for r in range(args.rounds):
            for name, run in sides.items():
                sync(device)
                t = time.perf_counter()
                n = run()
                sync(device)
                rates[name].append(n / (time.perf_counter() - t))
            print(
                f"round {r + 1}: "
                + "   ".join(f"{name} {rate[-1]:8,.0f} img/s" for name, rate in rates.items())
            )
    medians = {name: statistics.median(rate) for name, rate in rates.items()}
    name = (
        torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    )
    data = "MNIST" if args.data_dir else "synthetic"
    print(f"\n{name}, batch {config.batch_size}, {args.steps} steps x {args.rounds} rounds, data: {data}")
    for side, rate in medians.items():
        print(
            f"median {side:5s} {rate:9,.0f} img/s  ({rate / medians['naive']:.2f}x naive), "
            f"10 epochs of 60,000 images: {600_000 / rate:.1f} s"
        )


if __name__ == "__main__":
    main()
