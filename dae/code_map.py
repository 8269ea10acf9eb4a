"""The code space as a map: the DAE's 256-number codes of the 10,000 test digits, projected to 2-D.

    python -m dae.code_map --checkpoint checkpoints/dae --data-dir /path/to/folder

The projection is PCA, fitted once on the codes of the clean test digits and kept beside the
checkpoint (code_map.safetensors, about 60 kB): the mean code, the two principal directions and
every test digit's position and label. The app draws the map from it and places the digit on
screen on it; a point of the map is lifted back to 256 numbers by the PCA inverse (mean +
position · directions), which the decoder turns into a digit. A map records the checksum of the
weights it was made with, and the app refuses a map that belongs to other weights.

Two directions keep only part of what the code holds (the file says how much: "explained"), so
digits that are far apart in 256 dimensions can land near each other; the map is a view, not the
space.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import safetensors.torch
import torch
from torch import Tensor

from .checkpoint import WEIGHTS, CheckpointError, load_model
from .files import atomic_path

CODE_MAP = "code_map.safetensors"


def weights_digest(folder: str | Path) -> str:
    """SHA-256 of the checkpoint's weights file: which model a map was made with."""
    return hashlib.sha256((Path(folder) / WEIGHTS).read_bytes()).hexdigest()


@dataclass
class CodeMap:
    mean: Tensor  # (256,) the mean code
    directions: Tensor  # (2, 256) orthonormal rows: the two principal directions
    points: Tensor  # (n, 2) every digit's position
    labels: Tensor  # (n,) their classes
    explained: float  # share of the codes' variance the two directions hold

    def project(self, codes: Tensor) -> Tensor:
        """(m, 256) codes -> (m, 2) positions on the map."""
        return (codes - self.mean) @ self.directions.T

    def lift(self, positions: Tensor) -> Tensor:
        """(m, 2) positions -> (m, 256) codes: the PCA inverse.

        The part of the code the map does not show is the mean's.
        """
        return self.mean + positions @ self.directions


def fit(codes: Tensor, labels: Tensor) -> CodeMap:
    """PCA of the codes: the two directions of largest variance.

    Each is signed so that its largest loading is positive, so the same codes always give the same map.
    """
    codes = codes.double()
    mean = codes.mean(0)
    _, s, vh = torch.linalg.svd(codes - mean, full_matrices=False)
    directions = vh[:2]
    signs = torch.sign(directions.gather(1, directions.abs().argmax(1, keepdim=True)))
    directions = directions * signs
    explained = float((s[:2] ** 2).sum() / (s**2).sum())
    return CodeMap(
        mean.float(),
        directions.float(),
        ((codes - mean) @ directions.T).float(),
        labels.to(torch.uint8),
        explained,
    )


@torch.inference_mode()
def make(model: torch.nn.Module, clean: Tensor, labels: Tensor, batch_size: int = 2000) -> CodeMap:
    """The map of `model`'s codes of the clean digits (N, 1, 28, 28)."""
    codes = torch.cat([model.encode(x) for x in clean.split(batch_size)])
    return fit(codes.cpu(), labels.cpu())


def save(code_map: CodeMap, folder: str | Path) -> Path:
    path = Path(folder) / CODE_MAP
    tensors = {
        "mean": code_map.mean,
        "directions": code_map.directions,
        "points": code_map.points.half(),
        "labels": code_map.labels,
    }
    metadata = {"explained": json.dumps(code_map.explained), "weights_sha256": weights_digest(folder)}
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(
            {k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata
        )
    return path


def load(folder: str | Path) -> CodeMap | None:
    """The map kept beside the checkpoint in `folder`; None when there is none.

    CheckpointError when the file is damaged or was made with other weights than the folder's.
    """
    path = Path(folder) / CODE_MAP
    if not path.is_file():
        return None
    try:
        with safetensors.safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in ("mean", "directions", "points", "labels")}
        explained = float(json.loads(metadata["explained"]))
    except Exception as e:  # any damage: the app goes on without the map
        raise CheckpointError(f"{path}: not a readable code map ({e})") from None
    if metadata.get("weights_sha256") != weights_digest(folder):
        raise CheckpointError(
            f"{path} was made with other weights than {Path(folder) / WEIGHTS}; "
            f"make it again: python -m dae.code_map --checkpoint {folder}"
        )
    if (
        tensors["mean"].shape != (256,)
        or tensors["directions"].shape != (2, 256)
        or tensors["points"].shape != (len(tensors["labels"]), 2)
    ):
        raise CheckpointError(f"{path}: its tensors do not have a code map's shapes")
    return CodeMap(
        tensors["mean"], tensors["directions"], tensors["points"].float(), tensors["labels"], explained
    )


def main(argv: list[str] | None = None) -> int:
    from .data import DataError, load_mnist, to_float

    p = argparse.ArgumentParser(prog="python -m dae.code_map", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        default="checkpoints/dae",
        help="the DAE's checkpoint folder; the map is written into it",
    )
    p.add_argument("--data-dir", default="data", help="folder holding MNIST/raw (default: data/)")
    args = p.parse_args(argv)
    try:
        model, config = load_model(args.checkpoint)
        if config["arch"] != "dae":
            raise CheckpointError(
                f"{args.checkpoint}: a {config['arch']!r} checkpoint; the code map is the DAE's"
            )
        images, labels = load_mnist(args.data_dir, train=False)
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    code_map = make(model, to_float(images), labels)
    path = save(code_map, args.checkpoint)
    print(
        f"wrote {path}: {len(code_map.points):,} test digits, "
        f"the two directions hold {100 * code_map.explained:.1f} % of the codes' variance"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
