"""MNIST, held as whole uint8 tensors on the training device.

MNIST is small enough to live on the device as one (N, 28, 28) uint8 tensor per split, so a
batch is a random index into it: no DataLoader, no per-sample Python, no host-to-device copy
per step. The IDX files are read here directly (a 16-byte header, then the pixels), from the
extracted files or straight from their .gz archives, so that a damaged file is named as corrupt
(torchvision says "not found" or raises a bare AssertionError). torchvision is imported only to
download missing files: its import alone took 1.1 s after `import torch`.
(docs/performance.md)
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801  # IDX: 0 0, type 0x08 (ubyte), 3 or 1 dimensions
FIX = "delete it (it is downloaded again when online) or replace it with the original"


class DataError(Exception):
    """MNIST could not be found, downloaded or read; the message says what to do."""


def _help(root: Path) -> str:
    raw = root / "MNIST" / "raw"
    files = "\n".join(f"  {raw / name}  (or {name}.gz)" for name in MNIST_FILES)
    return (
        f"Put the four original MNIST files here:\n{files}\n"
        "or point --data-dir at a folder that holds MNIST/raw/ (torchvision's layout)."
    )


def _parse_idx(source: Path, data: bytes, magic: int, item_shape: tuple[int, ...]) -> Tensor:
    """The items of an IDX file's bytes as a uint8 tensor, after checking header and size.

    A DataError naming `source` when they are not MNIST's, so the message says which file to replace.
    """
    ndim = 1 + len(item_shape)
    header = data[: 4 + 4 * ndim]
    what = "images" if magic == IMAGE_MAGIC else "labels"
    if len(header) < 4 + 4 * ndim or int.from_bytes(header[:4], "big") != magic:
        raise DataError(
            f"{source} is corrupt: not an IDX file of MNIST {what} "
            f"(it starts with {header[:4].hex(' ') or 'nothing'}, "
            f"expected {magic.to_bytes(4, 'big').hex(' ')}); {FIX}"
        )
    dims = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if tuple(dims[1:]) != item_shape:
        raise DataError(
            f"{source} is corrupt: it holds {' x '.join(map(str, dims[1:]))} {what}, "
            f"MNIST's are {' x '.join(map(str, item_shape))}; {FIX}"
        )
    expected = len(header) + dims[0] * math.prod(item_shape)
    if len(data) != expected:
        raise DataError(
            f"{source} is corrupt: {len(data):,} bytes where its header ({dims[0]:,} {what}) "
            f"needs {expected:,} ({'truncated' if len(data) < expected else 'trailing bytes'}); {FIX}"
        )
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=len(header)).reshape(dims).copy())


def _read_idx(raw: Path, name: str, magic: int, item_shape: tuple[int, ...]) -> Tensor | None:
    """One IDX file from `raw`, extracted or as `name`.gz; None when neither is there."""
    file, archive = raw / name, raw / f"{name}.gz"
    if file.is_file():
        return _parse_idx(file, file.read_bytes(), magic, item_shape)
    if not archive.is_file():
        return None
    try:
        data = gzip.decompress(archive.read_bytes())
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataError(f"{archive} is corrupt: not a readable gzip archive ({e}); {FIX}") from None
    return _parse_idx(archive, data, magic, item_shape)


def _read_split(raw: Path, train: bool) -> tuple[Tensor, Tensor] | None:
    images_name, labels_name = MNIST_FILES[:2] if train else MNIST_FILES[2:]
    images = _read_idx(raw, images_name, IMAGE_MAGIC, (28, 28))
    labels = _read_idx(raw, labels_name, LABEL_MAGIC, ())
    if images is None or labels is None:
        return None
    if len(images) != len(labels):
        raise DataError(
            f"{raw / images_name} holds {len(images):,} images "
            f"but {raw / labels_name} holds {len(labels):,} labels: "
            "one of them is corrupt or from another data set"
        )
    if len(labels) and labels.max() > 9:
        raise DataError(
            f"{raw / labels_name} is corrupt: it holds labels outside 0-9; "
            "delete it or replace it with the original"
        )
    return images, labels.long()


def _download(root: Path, train: bool) -> None:
    import torchvision  # only here: a run that has the files never pays for importing it

    torchvision.datasets.MNIST(str(root), train=train, download=True)


def have_mnist(root: str | Path) -> bool:
    """Whether `root`/MNIST/raw holds all four files (extracted or .gz)."""
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / name).is_file() or (raw / f"{name}.gz").is_file() for name in MNIST_FILES)


def download_mnist(root: str | Path, progress=None, timeout: float = 30.0) -> None:
    """The four MNIST archives into `root`/MNIST/raw, each checked against torchvision's MD5 and written whole
    (a partial download never takes a file's name); `progress(bytes_so_far, bytes_in_all)` as it goes.

    DataError, saying how to provide the files instead, when no mirror can be reached.
    """
    import hashlib
    import urllib.request

    from torchvision.datasets import MNIST

    from .files import atomic_path

    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    sizes = {
        "train-images": 9_912_422,
        "train-labels": 28_881,
        "t10k-images": 1_648_877,
        "t10k-labels": 4_542,
    }
    total, done = sum(sizes.values()), 0
    for name, md5 in MNIST.resources:
        target = raw / name
        if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            done += target.stat().st_size
            continue
        errors = []
        for mirror in MNIST.mirrors:
            try:
                with (
                    urllib.request.urlopen(mirror + name, timeout=timeout) as response,
                    atomic_path(target) as tmp,
                ):
                    digest, start = hashlib.md5(), done
                    with open(tmp, "wb") as f:
                        while chunk := response.read(1 << 16):
                            f.write(chunk)
                            digest.update(chunk)
                            done += len(chunk)
                            if progress:
                                progress(done, total)
                    if digest.hexdigest() != md5:
                        done = start
                        raise OSError(f"{name} arrived damaged (MD5 {digest.hexdigest()})")
                break
            except OSError as e:  # URLError, timeouts, a damaged file: the next mirror
                errors.append(f"{mirror}: {e}")
        else:
            raise DataError(
                f"MNIST could not be downloaded ({'; '.join(errors)[:300]}).\n{_help(Path(root))}"
            )


def load_mnist(root: str | Path, train: bool = True, download: bool = True) -> tuple[Tensor, Tensor]:
    """One split as (images uint8 (N, 28, 28), labels int64 (N,)).

    Downloads the files into `root` when they are missing and the machine is online; offline
    and without the files it raises DataError naming the four files and where they go. A damaged
    file gets a DataError naming it.
    """
    root = Path(root)
    raw = root / "MNIST" / "raw"
    what = f"MNIST {'training' if train else 'test'} data"
    split = _read_split(raw, train)
    if split is None and download:
        try:
            _download(root, train)
        except Exception as e:  # torchvision raises RuntimeError, URLError, OSError, ... offline
            why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(
                f"{what} could not be found or downloaded in {root} ({why}).\n{_help(root)}"
            ) from None
        split = _read_split(raw, train)
    if split is None:
        raise DataError(f"{what} could not be found in {root}.\n{_help(root)}")
    return split


def to_float(images: Tensor) -> Tensor:
    """uint8 (m, 28, 28) -> float (m, 1, 28, 28) in [0, 1]: the model's input format."""
    return images.unsqueeze(1).float().div_(255.0)


def shuffled_batches(
    n: int, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> tuple[Tensor, ...]:
    """One epoch of shuffled index batches into a device-resident split, drawn on that device.

    The last batch is smaller when the batch size does not divide the split (as a DataLoader
    with drop_last=False does). Indices, not images: the trainer gathers and converts each batch
    inside its (possibly graph-captured) step.
    """
    return torch.randperm(n, generator=generator, device=device).split(batch_size)
