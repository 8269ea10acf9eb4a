"""Shared fixtures. Tests run on CPU, offline, without the real MNIST: they build their own data (dae.synthetic)."""

import os

# Before anything imports gradio or huggingface_hub: no analytics, no telemetry, no network.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest
import torch

from dae.data import MNIST_FILES
from dae.synthetic import write_synthetic_mnist

ROOT = Path(__file__).resolve().parents[1]


def write_mnist(root: Path, n_train: int = 512, n_test: int = 128) -> Path:
    return write_synthetic_mnist(root, n_train, n_test)


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    return write_mnist(tmp_path_factory.mktemp("mnist"))


def png_bomb() -> bytes:
    """A 200-byte PNG whose header claims 100,000 x 100,000 pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")


REAL_MNIST_SKIP = "opt-in: needs the real MNIST in data/MNIST/raw (python train.py downloads it there) or in $DAE_MNIST_ROOT/MNIST/raw"


def real_mnist_root() -> Path | None:
    """The real MNIST for opt-in checks: $DAE_MNIST_ROOT, else the repository's own data/ (train.py's default), when present."""
    for candidate in (os.environ.get("DAE_MNIST_ROOT"), ROOT / "data"):
        if candidate and all((Path(candidate) / "MNIST" / "raw" / f).exists() for f in MNIST_FILES):
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def denoiser():
    """The committed checkpoints, loaded strictly: the handlers are tested with the models the app serves."""
    import app

    return app.load_denoiser()


@pytest.fixture(scope="module")
def handlers(denoiser):
    """The app's event handlers (dae.ui) over the committed checkpoints and the bundled samples."""
    from dae import ui
    from dae.samples import load_samples, load_test_indices

    samples, labels = load_samples()
    return ui.DemoUI(denoiser, samples, labels, load_test_indices())


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
