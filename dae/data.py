"""MNIST, held as whole uint8 tensors on the training device.

MNIST is small enough to live on the device as one (N, 28, 28) uint8 tensor per split, so a
batch is a random index into it: no DataLoader, no per-sample Python, no host-to-device copy
per step. `torchvision.datasets.MNIST` does the downloading and parsing; the IDX headers are
checked here first, because torchvision reports a damaged file as missing or as a bare
AssertionError.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import Tensor

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801  # IDX: 0 0, type 0x08 (ubyte), 3 or 1 dimensions


class DataError(Exception):
    """MNIST could not be found, downloaded or read; the message says what to do."""


def _help(root: Path) -> str:
    raw = root / "MNIST" / "raw"
    files = "\n".join(f"  {raw / name}  (or {name}.gz)" for name in MNIST_FILES)
    return (
        f"Put the four original MNIST files here:\n{files}\n"
        "or point --data-dir at a folder that holds MNIST/raw/ (torchvision's layout)."
    )


def _idx_count(file: Path, magic: int, item_shape: tuple[int, ...]) -> int:
    """The number of items in an IDX file, after checking its header and size; DataError if corrupt."""
    ndim = 1 + len(item_shape)
    size = file.stat().st_size
    with open(file, "rb") as f:
        header = f.read(4 + 4 * ndim)
    what = "images" if magic == IMAGE_MAGIC else "labels"
    fix = "delete it (it is downloaded again when online) or replace it with the original"
    if len(header) < 4 + 4 * ndim or int.from_bytes(header[:4], "big") != magic:
        raise DataError(f"{file} is corrupt: not an IDX file of MNIST {what} (it starts with {header[:4].hex(' ') or 'nothing'}, "
                        f"expected {magic.to_bytes(4, 'big').hex(' ')}); {fix}")
    dims = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if tuple(dims[1:]) != item_shape:
        raise DataError(f"{file} is corrupt: it holds {' x '.join(map(str, dims[1:]))} {what}, MNIST's are {' x '.join(map(str, item_shape))}; {fix}")
    expected = len(header) + dims[0] * (item_shape[0] * item_shape[1] if item_shape else 1)
    if size != expected:
        raise DataError(f"{file} is corrupt: {size:,} bytes where its header ({dims[0]:,} {what}) needs {expected:,} "
                        f"({'truncated' if size < expected else 'trailing bytes'}); {fix}")
    return dims[0]


def check_files(root: str | Path, train: bool) -> None:
    """Check the header and size of the split's two IDX files that are present; DataError naming a bad one."""
    raw = Path(root) / "MNIST" / "raw"
    images_name, labels_name = MNIST_FILES[:2] if train else MNIST_FILES[2:]
    images, labels = raw / images_name, raw / labels_name
    n_images = _idx_count(images, IMAGE_MAGIC, (28, 28)) if images.is_file() else None
    n_labels = _idx_count(labels, LABEL_MAGIC, ()) if labels.is_file() else None
    if n_images is not None and n_labels is not None and n_images != n_labels:
        raise DataError(f"{images} holds {n_images:,} images but {labels} holds {n_labels:,} labels: one of them is corrupt or from another data set")


def _corrupt_archives(root: Path) -> list[str]:
    """The .gz files present without their extracted file whose MD5 is not the original MNIST file's."""
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    bad = []
    for name, md5 in MNIST.resources:
        gz = raw / name
        if gz.is_file() and not (raw / name.removesuffix(".gz")).is_file():
            if hashlib.md5(gz.read_bytes()).hexdigest() != md5:
                bad.append(str(gz))
    return bad


def load_mnist(root: str | Path, train: bool = True, download: bool = True) -> tuple[Tensor, Tensor]:
    """One split as (images uint8 (N, 28, 28), labels int64 (N,)).

    Downloads the files into `root` when they are missing and the machine is online; offline
    and without the files it raises DataError naming the four files and where they go. A damaged
    file gets a DataError naming it.
    """
    import torchvision  # imported here: the app and the checkpoint code never need it

    root = Path(root)
    split = "training" if train else "test"
    check_files(root, train)
    try:
        ds = torchvision.datasets.MNIST(str(root), train=train, download=download)
    except Exception as e:  # torchvision raises RuntimeError, URLError, OSError, ... offline
        bad = _corrupt_archives(root)
        if bad:
            raise DataError(f"{', '.join(bad)}: corrupt (not the original MNIST file: its MD5 differs); "
                            "delete it (it is downloaded again when online) or replace it with the original") from None
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        verb = "found or downloaded" if download else "found"
        raise DataError(f"MNIST {split} data could not be {verb} in {root} ({why}).\n{_help(root)}") from None
    images, labels = ds.data, ds.targets
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        labels_file = root / "MNIST" / "raw" / MNIST_FILES[1 if train else 3]
        raise DataError(f"{labels_file} is corrupt: it holds labels outside 0-9; delete it or replace it with the original")
    return images, labels.long()


def to_float(images: Tensor) -> Tensor:
    """uint8 (m, 28, 28) -> float (m, 1, 28, 28) in [0, 1]: the model's input format."""
    return images.unsqueeze(1).float().div_(255.0)


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> tuple[Tensor, ...]:
    """One epoch of shuffled index batches into a device-resident split, drawn on that device.

    The last batch is smaller when the batch size does not divide the split (as a DataLoader
    with drop_last=False does). Indices, not images: the trainer gathers and converts each batch
    inside its (possibly graph-captured) step.
    """
    return torch.randperm(n, generator=generator, device=device).split(batch_size)
