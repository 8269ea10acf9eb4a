"""Tiny MNIST-format data sets for tests and benchmarks that must run without the real MNIST.

The files are written in MNIST's own IDX format and torchvision's layout (root/MNIST/raw), so
the project's real loader (`dae.data.load_mnist`) reads them, as torchvision would.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from dae.data import MNIST_FILES


def write_idx(path: str | Path, array: Tensor) -> None:
    """Write a uint8 tensor in MNIST's IDX format: 0 0 0x08 ndim, the dimensions (big-endian u32), the bytes."""
    array = array.to(torch.uint8).contiguous()
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + array.numpy().tobytes())


def synthetic_digits(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """MNIST-shaped stand-ins: a thick bright ring or bar (by class) on black, jittered."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    cy = 14 + torch.randn(n, 1, 1, generator=g) * 1.5
    cx = 14 + torch.randn(n, 1, 1, generator=g) * 1.5
    r = torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    ring = (r - 5 - labels.view(-1, 1, 1) % 3).abs() < 1.5
    bar = ((xx - cx).abs() < 1.5) & ((yy - cy).abs() < 8)
    images = torch.where((labels % 2 == 0).view(-1, 1, 1), ring, bar).to(torch.uint8) * 255
    return images, labels


TRAIN_SEED, TEST_SEED = 1, 2


def write_mnist_split_files(root: str | Path, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor]) -> Path:
    """Given (images, labels) for both splits, write the four IDX files; returns `root`."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, array in zip(MNIST_FILES, (*train, *test)):
        write_idx(raw / name, array)
    return Path(root)


def write_synthetic_mnist(root: str | Path, n_train: int, n_test: int) -> Path:
    """A synthetic data set in torchvision's MNIST layout (root/MNIST/raw), so its real loader runs."""
    return write_mnist_split_files(root, synthetic_digits(n_train, TRAIN_SEED), synthetic_digits(n_test, TEST_SEED))
