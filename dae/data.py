"""MNIST, held as whole uint8 tensors on the training device.

The data set is 47 MB as bytes, so the training split lives on the device as one (N, 28, 28)
uint8 tensor and a batch is a random index into it: no DataLoader, no per-sample Python, no
host-to-device copy per step. `torchvision.datasets.MNIST` does the downloading and parsing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SPLIT_SIZES = {True: 60_000, False: 10_000}


class DataError(Exception):
    """MNIST could not be found, downloaded or read; the message says what to do."""


def _help(root: Path) -> str:
    raw = root / "MNIST" / "raw"
    files = "\n".join(f"  {raw / name}  (or {name}.gz)" for name in MNIST_FILES)
    return (
        f"Put the four original MNIST files here:\n{files}\n"
        "or point --data-dir at a folder that holds MNIST/raw/ (torchvision's layout)."
    )


def load_mnist(root: str | Path, train: bool = True, download: bool = True) -> tuple[Tensor, Tensor]:
    """One split as (images uint8 (N, 28, 28), labels int64 (N,)).

    Downloads the files into `root` when they are missing and the machine is online; offline
    and without the files it raises DataError naming the four files and where they go.
    """
    import torchvision  # imported here: the app and the checkpoint code never need it

    root = Path(root)
    split = "training" if train else "test"
    try:
        ds = torchvision.datasets.MNIST(str(root), train=train, download=download)
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError, ... offline
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        verb = "found or downloaded" if download else "found"
        raise DataError(f"MNIST {split} data could not be {verb} in {root} ({why}).\n{_help(root)}") from None
    images, labels = ds.data, ds.targets
    if images.dtype != torch.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"MNIST {split} images in {root} have shape {tuple(images.shape)}, expected (N, 28, 28): corrupted files?\n{_help(root)}")
    if len(labels) != len(images) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise DataError(f"MNIST {split} labels in {root} do not match the images: corrupted files?\n{_help(root)}")
    return images, labels.long()


def to_float(images: Tensor) -> Tensor:
    """uint8 (m, 28, 28) -> float (m, 1, 28, 28) in [0, 1]: the model's input format."""
    return images.unsqueeze(1).float().div_(255.0)


def random_batches(images: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Tensor]:
    """One epoch of shuffled float batches drawn by index from a device-resident uint8 tensor.

    The last batch is smaller when the batch size does not divide the split (as a DataLoader
    with drop_last=False does).
    """
    perm = torch.randperm(len(images), generator=generator, device=images.device)
    for start in range(0, len(images), batch_size):
        yield to_float(images[perm[start : start + batch_size]])


def write_idx(path: str | Path, array: Tensor) -> None:
    """Write a uint8 tensor in MNIST's IDX format."""
    array = array.to(torch.uint8).contiguous()
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + array.numpy().tobytes())


def synthetic_digits(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """MNIST-shaped stand-ins: a thick bright ring or bar (by class) on black, jittered.

    For tests and benchmarks that must run without the real data set.
    """
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


def write_synthetic_mnist(root: str | Path, n_train: int, n_test: int) -> Path:
    """A synthetic data set in torchvision's MNIST layout (root/MNIST/raw), so its real loader runs."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    arrays = (*synthetic_digits(n_train, seed=1), *synthetic_digits(n_test, seed=2))
    for name, array in zip(MNIST_FILES, arrays):
        write_idx(raw / name, array)
    return Path(root)
