"""The MNIST test digits bundled with the app: 10 of each class in one small PNG.

    python -m dae.samples --data-dir /path/to/folder

writes dae/assets/mnist_samples.png, a 10 x 10 grid of 28 x 28 digits (row = class), and
mnist_samples.json with their indices in the test set, so the app needs no data set to start.
"""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).parent / "assets"
SAMPLES_PNG = ASSETS / "mnist_samples.png"
SAMPLES_JSON = ASSETS / "mnist_samples.json"
PER_CLASS = 10


@lru_cache(maxsize=1)
def load_samples() -> tuple[np.ndarray, np.ndarray]:
    """(images float32 (100, 28, 28) in [0, 1], labels (100,)), read once."""
    grid = np.asarray(Image.open(SAMPLES_PNG).convert("L"), dtype=np.float32) / 255.0
    rows, cols = grid.shape[0] // 28, grid.shape[1] // 28
    images = grid.reshape(rows, 28, cols, 28).transpose(0, 2, 1, 3).reshape(rows * cols, 28, 28)
    labels = np.repeat(np.arange(rows), cols)
    return images, labels


@lru_cache(maxsize=1)
def load_test_indices() -> np.ndarray:
    """(100,) each bundled sample's index in the MNIST test set, in load_samples' order."""
    import json

    return np.asarray(json.loads(SAMPLES_JSON.read_text())["test_indices"]).reshape(-1)


def main(argv: list[str] | None = None) -> int:
    from .data import DataError, load_mnist
    from .files import atomic_path, write_json

    p = argparse.ArgumentParser(prog="python -m dae.samples", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        images, labels = load_mnist(args.data_dir, train=False)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    indices = [
        sorted(rng.choice(np.flatnonzero(labels.numpy() == c), PER_CLASS, replace=False).tolist())
        for c in range(10)
    ]
    grid = images[np.array(indices)].numpy()  # (10, PER_CLASS, 28, 28)
    grid = grid.transpose(0, 2, 1, 3).reshape(10 * 28, PER_CLASS * 28)
    with atomic_path(SAMPLES_PNG) as tmp:
        Image.fromarray(grid).save(tmp, format="png", optimize=True)
    write_json(
        SAMPLES_JSON, {"source": "MNIST test set (t10k)", "rows": "digit class 0-9", "test_indices": indices}
    )
    print(f"wrote {SAMPLES_PNG} and {SAMPLES_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
