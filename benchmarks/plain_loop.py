"""The usual tutorial training program, as a whole command: what `python train.py` is compared with.

    python -m benchmarks.plain_loop --data-dir /path/to/folder [--epochs 1] [--device cpu|cuda]

torchvision's MNIST with `ToTensor()`, a shuffling `DataLoader(batch_size=64)`, the same DAE,
the same blind noise and Adam settings, `loss.item()` every step, then the test loss at the end,
as most tutorials write it. `python -m benchmarks.whole_command` times it against `train.py`.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from dae.model import DAE
from dae.noise import blind_noise


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = p.parse_args()
    start = time.perf_counter()
    device = torch.device(args.device)
    train = datasets.MNIST(args.data_dir, train=True, download=False, transform=transforms.ToTensor())
    test = datasets.MNIST(args.data_dir, train=False, download=False, transform=transforms.ToTensor())
    torch.manual_seed(0)
    model = DAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-5)
    for epoch in range(args.epochs):
        running = 0.0
        for clean, _ in DataLoader(train, batch_size=64, shuffle=True):
            clean = clean.to(device)
            loss = F.mse_loss(model(blind_noise(clean)), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
        print(f"epoch {epoch + 1}: train loss {running / len(train) * 64:.5f}")
    model.eval()
    with torch.no_grad():
        total = sum(
            F.mse_loss(model(blind_noise(c.to(device))), c.to(device), reduction="sum").item()
            for c, _ in DataLoader(test, batch_size=1000)
        )
    print(f"test loss {total / (len(test) * 784):.5f}; {time.perf_counter() - start:.1f} s after imports")


if __name__ == "__main__":
    main()
