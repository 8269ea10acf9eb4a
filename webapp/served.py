"""What the app serves, loaded once at start: the DAE, the models a lesson puts beside it, the judge, the
digits.

The DAE (the specified model) is what the app shows by default. Beside it the page can put one of
the LESSON models: the comparison U-Net, and the same network trained otherwise (on clean digits
only, at one fixed noise, with a smaller code), each a checkpoint folder under checkpoints/.

A broken DAE checkpoint is fatal (CheckpointError); anything else missing or damaged only turns
off what needs it (a lesson model, the classifier's guesses or its calibration, a view), with a
warning on stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from dae import calibration
from dae import code_map as code_maps
from dae.checkpoint import CheckpointError, load_model, load_snapshots
from dae.samples import load_samples, load_test_indices

from .engine import Denoiser
from .views.code_space import MapFrame, map_frame, map_picture
from .views.curve import test_set_means

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
DAE_TITLE = "DAE (the autoencoder)"


@dataclass(frozen=True)
class Lesson:
    """A model the page can put beside the DAE: its name (in links, the API and evaluation.json), its folder
    under checkpoints/, how the page names it, and one line on what it is there to show."""

    name: str
    title: str
    note: str


LESSONS = (
    Lesson(
        "unet",
        "U-Net (stronger, for comparison)",
        "A different network: it keeps a picture at every scale (skip connections) and predicts a correction "
        "to the noisy image.",
    ),
    Lesson(
        "plain-ae",
        "plain autoencoder, never saw noise",
        "The same network trained on clean digits only (train.py --noise none): it learned to copy digits, "
        "not to clean them.",
    ),
    Lesson(
        "dae-sigma05",
        "DAE trained at σ 0.5 only",
        "The same network trained on Gaussian noise of σ 0.5 and nothing else (train.py --noise gaussian "
        "--sigma 0.5).",
    ),
    Lesson(
        "dae-code2",
        "DAE with a 2-number code",
        "The same DAE with a code of 2 numbers instead of 256 (train.py --code-size 2): every digit is a "
        "point on a plane.",
    ),
    Lesson(
        "dae-code16",
        "DAE with a 16-number code",
        "The same DAE with a code of 16 numbers instead of 256 (train.py --code-size 16).",
    ),
)


@dataclass
class ServedModel:
    """One served denoiser and what its views need of it."""

    name: str
    title: str
    note: str
    code_size: int | None  # the DAE family's; None for the U-Net
    code_map: code_maps.CodeMap | None = None  # its codes of the test digits, for the code space view
    map_frame: MapFrame | None = None
    map_picture: str | None = None  # the map's dots, drawn once (the page holds it)


@dataclass
class Served:
    """The models the app serves and everything its views read beside them."""

    denoiser: Denoiser  # its models by name: "dae" and each lesson model that loaded
    models: dict[str, ServedModel]  # the same names, in the order the page offers them
    samples: np.ndarray  # (100, 28, 28) floats in [0, 1]: the bundled MNIST test digits
    labels: np.ndarray  # (100,) their classes
    test_indices: np.ndarray  # (100,) their places in the MNIST test set
    means: dict = field(default_factory=dict)  # test-set means by kind and model (the DAE's evaluation.json)
    yours: Any = None  # train_tab.SessionModels: the models the Train tab made, one per page session
    snapshots: list[tuple[dict, nn.Module]] = field(default_factory=list)  # the DAE's weights on the way
    training: dict | None = None  # the DAE's metrics.json (the loss curve), with the batch size

    def beside(self) -> list[ServedModel]:
        """The models the page can put beside the DAE."""
        return [m for name, m in self.models.items() if name != "dae"]

    def for_session(self, session: object) -> Served:
        """What a page sees: these models, and its own model from the Train tab ("yours") when it has one."""
        own = self.yours.get(session) if self.yours is not None else None
        if own is None:
            return self
        if own.served is None:  # made once, when first shown
            config = own.config
            what = (
                "never saw noise"
                if config["noise"] == "none"
                else "blind noise"
                if config["noise"] == "blind"
                else f"{config['noise']} {config['strength']:g} only"
            )
            note = (
                f"The DAE you trained in the Train tab: {config['digits']:,} training digits, {what}, a "
                f"{config['code_size']}-number code, seed {config['seed']}."
            )
            own.served = ServedModel("yours", "your model", note, config["code_size"], own.code_map)
            if own.code_map is not None:
                points = own.code_map.points.numpy()
                own.served.map_frame = map_frame(points)
                own.served.map_picture = map_picture(
                    points, own.code_map.labels.numpy(), own.served.map_frame
                )
        denoiser = Denoiser(self.denoiser.models | {"yours": own.model}, self.denoiser.classifier)
        return replace(self, denoiser=denoiser, models=self.models | {"yours": own.served})


def load_served(
    checkpoint: str | Path = CHECKPOINTS / "dae",
    lessons: str | Path | None = CHECKPOINTS,
    classifier: str | Path | None = CHECKPOINTS / "classifier",
) -> Served:
    """The DAE in `checkpoint`, the lesson models found in the folder `lessons`, the (calibrated) classifier,
    and the views' data kept beside each."""
    dae, config = load_model(checkpoint)
    denoiser = Denoiser({"dae": dae})
    models = {"dae": served_model("dae", DAE_TITLE, "", dae, config, Path(checkpoint))}
    for lesson in LESSONS if lessons is not None else ():
        folder = Path(lessons) / lesson.name
        if not folder.is_dir():
            continue
        try:
            model, config = load_model(folder)
        except CheckpointError as e:
            warn(f'"{lesson.title}" is off: {e}')
            continue
        denoiser.models[lesson.name] = model.eval()
        models[lesson.name] = served_model(lesson.name, lesson.title, lesson.note, model, config, folder)
    if classifier is not None and Path(classifier).is_dir():
        denoiser.classifier = load_judge(Path(classifier))
    samples, labels = load_samples()
    served = Served(denoiser, models, samples, labels, load_test_indices())
    if Path(checkpoint).is_dir():
        load_training_views(served, Path(checkpoint))
    return served


def served_model(
    name: str, title: str, note: str, model: nn.Module, config: dict, folder: Path
) -> ServedModel:
    code_size = config.get("model", {}).get("code_size", 256) if config["arch"] == "dae" else None
    served = ServedModel(name, title, note, code_size)
    try:
        served.code_map = code_maps.load(folder)
    except CheckpointError as e:
        warn(f"the code space view of {name} is off: {e}")
    if served.code_map is not None:
        points = served.code_map.points.numpy()
        served.map_frame = map_frame(points)
        served.map_picture = map_picture(points, served.code_map.labels.numpy(), served.map_frame)
    return served


def load_judge(folder: Path) -> nn.Module | None:
    """The digit classifier, with its calibration when it has one (dae.calibration)."""
    try:
        classifier = load_model(folder)[0]
    except CheckpointError as e:
        warn(f"the digit classifier is off: {e}")
        return None
    try:
        calibrated = calibration.load(folder, classifier)
    except CheckpointError as e:
        warn(f"the classifier's calibration is off (its percentages are its own, uncalibrated): {e}")
        calibrated = None
    return calibrated if calibrated is not None else classifier


def load_training_views(served: Served, folder: Path) -> None:
    """The test-set means and the training run, read beside the DAE's checkpoint in `folder`; each one missing
    or damaged only turns its part off (with a warning when damaged)."""
    served.means = test_set_means(folder / "evaluation.json")
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
