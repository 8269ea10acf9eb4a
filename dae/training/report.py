"""After the last epoch: the run scored, its figures drawn and its metrics written beside the checkpoint.

A denoiser is scored at every evaluation noise level on the first FINAL_EVAL_IMAGES test digits
(`python -m dae.evaluate` scores all 10,000, with baselines); the classifier by its accuracy on
every test digit. loss.png (and samples.png) are drawn, metrics.json written, and config.json
rewritten with the scores.
"""

from __future__ import annotations

import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import checkpoint, plots
from ..evaluate import evaluate, sample_panels
from ..files import write_json
from .config import CLASSIFIER, TrainConfig, model_options

# The first N test digits scored at every level after training, by device: all of them on a GPU
# (a fraction of a second), 500 on a CPU, where the DAE's 16 levels x 2,000 digits alone took
# 5-9 s, longer than everything else outside the epochs together.
FINAL_EVAL_IMAGES = {"cuda": 10_000, "cpu": 500}
# metrics.json's train_loss_curve: the mean training loss of each block of this many steps
LOSS_CURVE_EVERY = 50


def checkpoint_config(
    config: TrainConfig, history: dict[str, Any], epoch: int, n_train: int
) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "model": model_options(config),
        "training": asdict(config) | {"resume": False},
        "data": {"dataset": "MNIST", "train_images": n_train, "test_images": 10_000},
        "test_loss": history["test_loss"][-1] if history["test_loss"] else None,
    }


def score_and_report(
    model, config: TrainConfig, history, test_clean: Tensor, steps_per_epoch: int, n_train: int, device
) -> dict[str, Any]:
    """After the last epoch: score the model, draw loss.png (and samples.png), write metrics.json and
    rewrite config.json with the scores; returns the metrics.

    A denoiser is scored at every evaluation noise level (no baselines); the classifier by its
    accuracy on the test digits (_report_classifier).

    All of it runs on the training device in a few large batches, on the first FINAL_EVAL_IMAGES
    test digits (the noise is drawn as dae.evaluate draws it, so the figures are comparable).
    """
    out = Path(config.out)
    model = model.eval()
    if config.arch == CLASSIFIER:
        return _report_classifier(model, config, history, steps_per_epoch, n_train, len(test_clean), device)
    clean = test_clean[: FINAL_EVAL_IMAGES.get(device.type, FINAL_EVAL_IMAGES["cpu"])]
    rows = evaluate({config.arch: model}, clean, baselines=False)
    title = f"{config.arch}, noise {config.noise}" + (
        f" {config.strength}" if config.strength is not None else ""
    )
    plots.loss_plot(out / "loss.png", history["train_loss"], history["test_loss"], steps_per_epoch, title)
    plots.samples_plot(out / "samples.png", sample_panels({"output": model}, clean[:8]), title)
    metrics = _run_metrics(config, history, n_train, device) | {
        "scored_test_images": len(clean),
        "psnr": {
            f"{r['noise']} {r['level']:g}": {k: round(v["psnr"], 3) for k, v in r["scores"].items()}
            for r in rows
        },
        "ssim": {
            f"{r['noise']} {r['level']:g}": {k: round(v["ssim"], 4) for k, v in r["scores"].items()}
            for r in rows
        },
    }
    write_json(out / "metrics.json", metrics)
    checkpoint.save_config(
        out,
        config.arch,
        checkpoint_config(config, history, metrics["epochs"], n_train)
        | {
            "metrics": {
                "test_loss": history["test_loss"][-1],
                "psnr_gaussian_0.5": metrics["psnr"]["gaussian 0.5"][config.arch],
                "psnr_mask_0.5": metrics["psnr"]["mask 0.5"][config.arch],
            }
        },
    )
    return metrics


def loss_curve(step_losses: list[float], every: int) -> list[float]:
    """The mean of each block of `every` steps (steps 1..every, every+1..2 every, ...); a last, partial
    block is left out, so every point of the curve averages as many steps."""
    return [sum(step_losses[i : i + every]) / every for i in range(0, len(step_losses) - every + 1, every)]


def _run_metrics(
    config: TrainConfig, history: dict[str, Any], n_train: int, device: torch.device
) -> dict[str, Any]:
    """What metrics.json says of every run, whatever the architecture."""
    seconds = sum(history["epoch_seconds"])
    return {
        "arch": config.arch,
        "epochs": len(history["test_loss"]),
        "train_images": n_train,
        "device": str(device) if device.type == "cpu" else f"cuda ({torch.cuda.get_device_name(device)})",
        "cuda_graph": device.type == "cuda" and config.cuda_graph,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "train_seconds": round(seconds, 2),
        "images_per_second": round(n_train * len(history["epoch_seconds"]) / seconds),
        "epoch_train_loss": history["epoch_train_loss"],
        "test_loss": history["test_loss"],
        "train_loss_curve": loss_curve(history["train_loss"], LOSS_CURVE_EVERY),
        "train_loss_curve_every": LOSS_CURVE_EVERY,
    } | ({"snapshots": history["snapshots"]} if history.get("snapshots") else {})


def _report_classifier(
    model, config: TrainConfig, history, steps_per_epoch: int, n_train: int, n_test: int, device
) -> dict[str, Any]:
    """The classifier's report: its accuracy on all the test digits (measured after the last epoch), the
    loss plot, metrics.json."""
    out = Path(config.out)
    plots.loss_plot(
        out / "loss.png",
        history["train_loss"],
        history["test_loss"],
        steps_per_epoch,
        f"{config.arch}, clean digits",
        ylabel="cross-entropy loss",
    )
    metrics = _run_metrics(config, history, n_train, device) | {
        "test_accuracy": history["test_accuracy"][-1],
        "epoch_test_accuracy": history["test_accuracy"],
        "scored_test_images": n_test,
    }
    write_json(out / "metrics.json", metrics)
    checkpoint.save_config(
        out,
        config.arch,
        checkpoint_config(config, history, metrics["epochs"], n_train)
        | {
            "metrics": {
                "test_loss": history["test_loss"][-1],
                "test_accuracy": metrics["test_accuracy"],
            }
        },
    )
    return metrics
