"""A training run a page can follow: the same loop as `python train.py`, reported as it goes.

The app's Train tab (webapp/train_tab.py) runs `live_run`, on a GPU when it has one (a ZeroGPU
Space lends one to the `@spaces.GPU` function that wraps it), else in a process of its own on one
CPU core. It opens the run and steps through its epochs exactly as `train` does (loop.open_run,
loop.epochs); it writes no files and reports instead: every `report_every` seconds, a dict of plain
numbers and CPU tensors (so that it can be pickled across a process boundary) with the training
loss so far, the loss on HELD_OUT noisy test digits, a strip of STRIP noisy test digits with their
current reconstructions, the speed, and the weights. The last report, after the last step, also
holds the code map of the test digits (dae.code_map) for the code space view.

Closing the generator stops the run after the step in progress; the last report's weights are what
was learned by then.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .. import code_map as code_maps
from ..noise import blind_noise
from .config import TrainConfig, check_config, default_config
from .loop import EpochDone, StepDone, epochs, held_out_loss, open_run

TRAIN_DIGITS = 60_000  # one epoch of MNIST
HELD_OUT = 1_000  # test digits scored during the run (all 10,000 after it)
STRIP = 8  # noisy test digits whose reconstructions the page shows as the run goes
STRIP_SEED = 7


@dataclass(frozen=True)
class LiveSettings:
    """What a student chooses; the rest is the specification's recipe (batch 64, Adam 1e-3, ...)."""

    noise: str = "blind"  # "blind", "none" (a plain autoencoder) or one kind at `strength`
    strength: float | None = None
    code_size: int = 256
    digits: int = (
        TRAIN_DIGITS  # training digits to see: under one epoch, the first `digits`; else whole epochs
    )
    seed: int = 0
    data_dir: str = "data"
    device: str = "auto"
    threads: int | None = None
    report_every: float = 1.0  # seconds


def config_of(s: LiveSettings) -> TrainConfig:
    """The TrainConfig of a live run (checked: ValueError with train.py's messages)."""
    epochs_, limit = (
        (1, s.digits) if s.digits < TRAIN_DIGITS else (max(1, round(s.digits / TRAIN_DIGITS)), None)
    )
    config = default_config(
        noise=s.noise,
        strength=s.strength,
        code_size=s.code_size,
        epochs=epochs_,
        limit=limit,
        seed=s.seed,
        data_dir=s.data_dir,
        device=s.device,
        threads=s.threads,
        out=tempfile.gettempdir(),  # nothing is written: train.py's check needs a folder
        log_every=10,
    )  # a look at the loss every 640 digits: a report is never far off
    check_config(config)
    return config


def live_run(settings: LiveSettings, data: tuple[Tensor, ...] | None = None) -> Iterator[dict[str, Any]]:
    """Train as `settings` say, yielding a report (see the module's docstring) every `report_every` seconds
    and after the last step ("done": True). `data` (load_mnist's train and test tensors) spares reading the
    files."""
    config = config_of(settings)
    started = time.perf_counter()
    run = open_run(config, data)
    device = run.device
    g = torch.Generator(device=device).manual_seed(STRIP_SEED)
    strip_clean = run.test_clean[:STRIP]
    strip_noisy = blind_noise(strip_clean, g)  # every run shows the same noisy digits
    held_clean = run.test_clean[:HELD_OUT]
    held_noisy = run.test_noisy[:HELD_OUT]
    total = config.epochs * run.steps_per_epoch
    history: dict[str, list] = {"train": [], "test": []}  # (digits seen, loss)
    seen, step = 0, 0

    def report(done: bool = False) -> dict[str, Any]:
        elapsed = time.perf_counter() - started
        training = elapsed - opened
        speed = seen / training if training > 0 and seen else 0.0
        history["test"].append((seen, held_out_loss(run.model, held_clean, held_noisy)))
        with torch.inference_mode():
            run.model.eval()
            strip = run.model(strip_noisy)
            run.model.train()
        out = {
            "done": done,
            "step": step,
            "steps": total,
            "seen": seen,
            "digits": total_digits,
            "seconds": round(elapsed, 2),
            "images_per_second": round(speed),
            "seconds_left": round((total_digits - seen) / speed, 1) if speed else None,
            "device": device_name(device),
            "train_loss": list(history["train"]),
            "test_loss": list(history["test"]),
            "strip_clean": to_bytes(strip_clean),
            "strip_noisy": to_bytes(strip_noisy),
            "strip_output": to_bytes(strip),
            "state": {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()},
            "config": {
                "noise": config.noise,
                "strength": config.strength,
                "code_size": config.code_size,
                "epochs": config.epochs,
                "limit": config.limit,
                "seed": config.seed,
            },
        }
        if done:
            out["code_map"] = map_of(run)
        return out

    total_digits = config.epochs * run.n_train
    opened = time.perf_counter() - started
    yield report()  # before the first step: where the run starts from
    last_report = time.perf_counter()
    for event in epochs(run):
        if isinstance(event, StepDone):
            step, seen = event.step, event.epoch * run.n_train + event.images_in_epoch
            history["train"].append((seen, event.loss))
        if isinstance(event, EpochDone) or time.perf_counter() - last_report >= settings.report_every:
            if step < total:
                yield report()
                last_report = time.perf_counter()
    seen, step = total_digits, total
    yield report(done=True)


def to_bytes(images: Tensor) -> Tensor:
    """(m, 1, 28, 28) floats in [0, 1] -> (m, 28, 28) uint8 on the CPU: small to send, exact as the page shows
    it."""
    return (images.detach().clamp(0, 1) * 255 + 0.5).to(torch.uint8)[:, 0].cpu()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    return f"CPU ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"


def map_of(run) -> dict[str, Any] | None:
    """The code map of the trained model's codes of every test digit, as tensors and numbers (a DAE only)."""
    if not hasattr(run.model, "encode"):
        return None
    run.model.eval()
    m = code_maps.make(run.model, run.test_clean, run.test_labels)
    return {
        "mean": m.mean.cpu(),
        "directions": m.directions.cpu(),
        "points": m.points.cpu(),
        "labels": m.labels.cpu(),
        "explained": m.explained,
        "distances": m.distances,
    }


def seconds_for(digits: int, images_per_second: float) -> float:
    """How long a run of `digits` training digits takes at a measured speed (the page's estimate)."""
    return math.ceil(digits / max(images_per_second, 1.0))
