"""The code space as a map: a DAE's codes of the 10,000 test digits, in two dimensions.

    python -m dae.code_map --checkpoint checkpoints/dae --data-dir /path/to/folder
    python -m dae.code_map --checkpoint checkpoints/dae-code2   # a 2-number code: its true plane

A 2-number code needs no projection: the map is the code plane itself, every point of it a code
the decoder can be given exactly. A larger code is projected:
the projection is PCA, fitted once on the codes of the clean test digits and kept beside the
checkpoint (code_map.safetensors, about 60 kB): the mean code, the two principal directions and
every test digit's position and label. The app draws the map from it and places the digit on
screen on it; a point of the map is lifted back to 256 numbers by the PCA inverse (mean +
position · directions), which the decoder turns into a digit. A map records the checksum of the
weights it was made with, and the app refuses a map that belongs to other weights.

Two directions keep only part of what the code holds (the file says how much: "explained"), so
digits that are far apart in 256 dimensions can land near each other; the map is a view, not the
space. For a sense of scale, the file also keeps how far apart two test codes typically are: the
median distance between codes of two digits of the same class, and of two different classes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
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
    mean: Tensor  # (d,) the mean code (0 for a 2-number code)
    directions: Tensor  # (2, d) orthonormal rows: the two principal directions (the identity for d = 2)
    points: Tensor  # (n, 2) every digit's position
    labels: Tensor  # (n,) their classes
    explained: float  # share of the codes' variance the two directions hold (1 for d = 2)
    distances: dict[str, float] | None = (
        None  # median distance between two test codes: "same" class, "different"
    )

    @property
    def code_size(self) -> int:
        return self.mean.shape[0]

    @property
    def exact(self) -> bool:
        """Whether the map is the code plane itself (a 2-number code), not a projection."""
        return self.code_size == 2

    def project(self, codes: Tensor) -> Tensor:
        """(m, d) codes -> (m, 2) positions on the map."""
        return (codes - self.mean) @ self.directions.T

    def lift(self, positions: Tensor) -> Tensor:
        """(m, 2) positions -> (m, d) codes: the PCA inverse (for d = 2, the position itself).

        The part of the code the map does not show is the mean's.
        """
        return self.mean + positions @ self.directions


def fit(codes: Tensor, labels: Tensor) -> CodeMap:
    """PCA of the codes: the two directions of largest variance (for 2-number codes, the plane as it is).

    Each is signed so that its largest loading is positive, so the same codes always give the same map.
    """
    if codes.shape[1] == 2:
        return CodeMap(
            torch.zeros(2),
            torch.eye(2),
            codes.float(),
            labels.to(torch.uint8),
            1.0,
            typical_distances(codes, labels),
        )
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
        typical_distances(codes, labels),
    )


def typical_distances(codes: Tensor, labels: Tensor, pairs: int = 20_000, seed: int = 0) -> dict[str, float]:
    """The median distance between the codes of two test digits of the same class, and of different
    classes, over `pairs` random pairs of each (a scale for "the noise moved the code by ...")."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randint(len(codes), (2, 8 * pairs), generator=g)
    same = labels[a] == labels[b]
    distance = (codes[a].double() - codes[b].double()).norm(dim=1)
    keep_same = (same & (a != b)).nonzero().flatten()[:pairs]
    keep_other = (~same).nonzero().flatten()[:pairs]
    return {"same": float(distance[keep_same].median()), "different": float(distance[keep_other].median())}


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
    metadata = {
        "explained": json.dumps(code_map.explained),
        "weights_sha256": weights_digest(folder),
        "distances": json.dumps(code_map.distances),
    }
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
        distances = json.loads(metadata.get("distances", "null"))
        if distances is not None and not (
            isinstance(distances, dict)
            and all(
                isinstance(distances.get(k), (int, float))
                and not isinstance(distances[k], bool)
                and math.isfinite(distances[k])
                and distances[k] > 0
                for k in ("same", "different")
            )
        ):
            raise ValueError("its distances are not two positive numbers")
    except Exception as e:  # any damage: the app goes on without the map
        raise CheckpointError(f"{path}: not a readable code map ({e})") from None
    if metadata.get("weights_sha256") != weights_digest(folder):
        raise CheckpointError(
            f"{path} was made with other weights than {Path(folder) / WEIGHTS}; "
            f"make it again: python -m dae.code_map --checkpoint {folder}"
        )
    d = tensors["mean"].shape[0] if tensors["mean"].ndim == 1 else -1
    if (
        d < 2
        or tensors["directions"].shape != (2, d)
        or tensors["points"].shape != (len(tensors["labels"]), 2)
    ):
        raise CheckpointError(f"{path}: its tensors do not have a code map's shapes")
    return CodeMap(
        tensors["mean"],
        tensors["directions"],
        tensors["points"].float(),
        tensors["labels"],
        explained,
        distances,
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
    how = (
        "the code plane itself"
        if code_map.exact
        else f"the two directions hold {100 * code_map.explained:.1f} % of the codes' variance"
    )
    print(
        f"wrote {path}: {len(code_map.points):,} test digits, {how}; median distance between two codes: "
        f"{code_map.distances['same']:.2f} (same class), "
        f"{code_map.distances['different']:.2f} (different classes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
