"""What the app serves, loaded once at start: the models, what the views need of them, and the bundled digits.

A broken DAE checkpoint is fatal (CheckpointError); anything else that is missing or damaged
only turns off what needs it (the comparison model, the classifier's guesses, a view), with a
warning on stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from dae import code_map as code_maps
from dae.checkpoint import CheckpointError, load_model, load_snapshots
from dae.samples import load_samples, load_test_indices

from .engine import Denoiser
from .views.code_space import MapFrame, map_frame, map_picture
from .views.curve import test_set_means

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = {name: ROOT / "checkpoints" / name for name in ("dae", "unet", "classifier")}


@dataclass
class Served:
    """The models the app serves and everything its views read beside them."""

    denoiser: Denoiser
    samples: np.ndarray  # (100, 28, 28) floats in [0, 1]: the bundled MNIST test digits
    labels: np.ndarray  # (100,) their classes
    test_indices: np.ndarray  # (100,) their places in the MNIST test set
    means: dict = field(
        default_factory=dict
    )  # the test-set means the quality curve draws (the DAE's evaluation.json)
    code_map: code_maps.CodeMap | None = None  # the DAE's test-set codes, for the code space view
    map_frame: MapFrame | None = None
    map_picture: str | None = None  # the map's dots, drawn once (the page holds it)
    snapshots: list[tuple[dict, nn.Module]] = field(
        default_factory=list
    )  # the DAE's weights on the way (How it learned)
    training: dict | None = None  # its metrics.json (the loss curve), with the batch size


def load_served(
    checkpoint: str | Path = CHECKPOINTS["dae"],
    compare: str | Path | None = CHECKPOINTS["unet"],
    classifier: str | Path | None = CHECKPOINTS["classifier"],
) -> Served:
    """The DAE in `checkpoint`, the comparison model and the classifier when their folders exist, and the views' data."""
    denoiser = Denoiser.from_checkpoints({"dae": checkpoint})
    if classifier is not None and Path(classifier).is_dir():
        try:
            denoiser.classifier = load_model(classifier)[0]
        except CheckpointError as e:
            warn(f"the digit classifier is off: {e}")
    if compare is not None and Path(compare).is_dir():
        try:
            denoiser.models["unet"] = load_model(compare)[0]
        except CheckpointError as e:
            warn(f"the comparison model is off: {e}")
    samples, labels = load_samples()
    served = Served(denoiser, samples, labels, load_test_indices())
    if Path(checkpoint).is_dir():
        load_views_data(served, Path(checkpoint))
    return served


def load_views_data(served: Served, folder: Path) -> None:
    """The test-set means, the code map and the training run, read beside the DAE's checkpoint in `folder`;
    each one missing or damaged only turns its part off (with a warning when damaged)."""
    served.means = test_set_means(folder / "evaluation.json")
    try:
        served.code_map = code_maps.load(folder)
    except CheckpointError as e:
        warn(f"the code map view is off: {e}")
    if served.code_map is not None:
        points = served.code_map.points.numpy()
        served.map_frame = map_frame(points)
        served.map_picture = map_picture(points, served.code_map.labels.numpy(), served.map_frame)
    try:
        served.snapshots = load_snapshots(folder)
        metrics = (
            json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else None
        )
        if metrics is not None and "train_loss_curve" in metrics:
            batch_size = json.loads((folder / "config.json").read_text())["training"]["batch_size"]
            served.training = metrics | {"batch_size": batch_size}
    except (CheckpointError, OSError, ValueError, KeyError, TypeError) as e:
        served.snapshots, served.training = [], None
        warn(f'the "How it learned" view is off: {e}')


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
