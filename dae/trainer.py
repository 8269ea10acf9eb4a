"""Training: a plain PyTorch loop over device-resident MNIST.

The DAE's recipe is the specification's: Adam (lr 1e-3, betas (0.9, 0.999), weight decay 1e-5),
batch 64, 10 epochs, MSE between the reconstruction of the noisy image and the clean image.
What is ours is everything around it: blind noise by default, the data on the device, no host
synchronisation per step, the whole step replayed as one CUDA graph on a GPU (dae.cuda_graph),
atomic checkpoints after every epoch, and exact resumption.

The same loop trains the digit classifier (`--arch classifier`, dae.classifier) that judges the
denoisers. Three things differ for it: what the model is fed (the clean digits, never noise),
the loss (cross-entropy against the labels) and the scoring after training (accuracy on all
10,000 test digits). Its recipe is dae.config.ARCH_DEFAULTS["classifier"].

Read it from `train` down: it loads the data and the model, then runs `train_epoch`, the test
loss and `save_epoch` for every epoch, and ends with `score_and_report`. The settings and the
rules of `--resume` are in dae.config; the CUDA graph of the step is dae.cuda_graph.
"""

from __future__ import annotations

import math
import platform
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import checkpoint, plots
from .config import CLASSIFIER, TrainConfig, TrainingError, check_config, check_resume, pick_device
from .cuda_graph import GraphedStep, make_capturable
from .data import load_mnist, shuffled_batches, to_float
from .evaluate import evaluate, sample_panels
from .files import write_json
from .model import ARCHITECTURES
from .noise import add_noise, blind_noise

TEST_NOISE_SEED = 4321
# The first N test digits scored at every level after training, by device: all of them on a GPU
# (a fraction of a second), 500 on a CPU, where the DAE's 16 levels x 2,000 digits alone took
# 5-9 s, longer than everything else outside the epochs together. `python -m dae.evaluate`
# scores all 10,000 anywhere; these figures are the run's first look.
FINAL_EVAL_IMAGES = {"cuda": 10_000, "cpu": 500}
EARLY_SNAPSHOT_STEP = 300  # "after the first few hundred steps": --snapshots keeps the weights there
LOSS_CURVE_EVERY = 50  # metrics.json's train_loss_curve: the mean training loss of each block of this many steps


def corrupt(clean: Tensor, config: TrainConfig, generator: torch.Generator) -> Tensor:
    if config.noise == "none":
        return clean
    if config.noise == "blind":
        return blind_noise(clean, generator)
    return add_noise(clean, config.noise, config.strength, generator)


@torch.inference_mode()
def held_out_loss(model: nn.Module, clean: Tensor, noisy: Tensor, batch_size: int = 2000) -> float:
    """Mean MSE over the test set; the noisy test set is drawn once, so epochs compare fairly."""
    model.eval()
    total = sum(F.mse_loss(model(n), c, reduction="sum") for n, c in zip(noisy.split(batch_size), clean.split(batch_size)))
    model.train()
    return total.item() / clean.numel()


@torch.inference_mode()
def held_out_classification(model: nn.Module, clean: Tensor, labels: Tensor, batch_size: int = 2000) -> tuple[float, float]:
    """The classifier's mean cross-entropy and accuracy on the clean test digits (eval mode)."""
    model.eval()
    logits = torch.cat([model(c) for c in clean.split(batch_size)])
    model.train()
    return F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # The fused kernel updates all parameters in one pass: same maths, fewer kernel launches.
    return torch.optim.Adam(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, fused=True
    )


def lr_at(step: int, total_steps: int, config: TrainConfig) -> float:
    """The learning rate of a global step: a pure function of it, so --resume continues the schedule exactly."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    return config.lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Write the rate in place where it is a device tensor (a captured graph reads that tensor)."""
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, clean: Tensor, config: TrainConfig,
               generator: torch.Generator) -> Tensor:
    """One optimisation step on a clean batch; returns the loss as a device tensor (no sync)."""
    noisy = corrupt(clean, config, generator)
    loss = F.mse_loss(model(noisy), clean)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def classifier_step(model: nn.Module, optimizer: torch.optim.Optimizer, clean: Tensor, labels: Tensor) -> Tensor:
    """One optimisation step of the classifier on clean digits: cross-entropy against their labels."""
    loss = F.cross_entropy(model(clean), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def make_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, config: TrainConfig,
              generator: torch.Generator, graphed: bool, labels: Tensor | None = None) -> Callable[[Tensor], Tensor]:
    """`step(index)`: one optimisation step on images[index] (and labels[index], for the classifier),
    eager or replayed from a CUDA graph."""
    if config.arch == CLASSIFIER:
        if labels is None:
            raise ValueError("the classifier's step needs the labels")

        def classify(index: Tensor, g: torch.Generator) -> Tensor:  # no generator: nothing random in it
            return classifier_step(model, optimizer, to_float(images[index]), labels[index])

        if graphed:
            make_capturable(optimizer)
            # GraphedStep hands the step to_float(data[index]): with the indices themselves as the
            # data and no conversion, the step gets the batch's indices and gathers images and labels.
            return GraphedStep(classify, model, optimizer, torch.arange(len(images), device=images.device), generator, lambda i: i)
        return lambda index: classify(index, generator)

    def step_fn(clean: Tensor, g: torch.Generator) -> Tensor:
        return train_step(model, optimizer, clean, config, g)

    if graphed:
        make_capturable(optimizer)
        return GraphedStep(step_fn, model, optimizer, images, generator, to_float)
    return lambda index: step_fn(to_float(images[index]), generator)


def snapshot_plan(steps_per_epoch: int, total_steps: int) -> dict[int, str]:
    """{global step: name} of the weights --snapshots keeps: untrained, after EARLY_SNAPSHOT_STEP steps, after epoch 1.

    A step at or past the run's end is left out: the final weights are model.safetensors itself.
    """
    plan = {0: "untrained", EARLY_SNAPSHOT_STEP: f"step_{EARLY_SNAPSHOT_STEP}", steps_per_epoch: "epoch_1"}
    return {step: name for step, name in sorted(plan.items()) if step < total_steps}


class Snapshots:
    """The snapshots of one run: taken at the planned steps, kept in memory, written with each epoch.

    A resumed run starts from the ones already written; a missing one at the step the run resumes
    from is the loaded weights, and a missing "untrained" one is the seed's initial weights again.
    """

    def __init__(self, config: TrainConfig, steps_per_epoch: int, total_steps: int) -> None:
        self.config, self.steps_per_epoch = config, steps_per_epoch
        self.plan = snapshot_plan(steps_per_epoch, total_steps) if config.snapshots else {}
        self.kept: dict[str, tuple[dict[str, Any], dict[str, Tensor]]] = {}
        if not self.plan or not config.resume:
            return
        try:
            read = checkpoint.read_snapshots(config.out)
        except checkpoint.CheckpointError as e:
            print(f"{e}; its snapshots are taken again where this run still passes them")
            read = None
        if read is not None and read[0] == config.arch:
            self.kept = {info["name"]: (info, state) for info, state in read[1] if self.plan.get(info["step"]) == info["name"]}

    def wanted(self, step: int) -> bool:
        return step in self.plan and self.plan[step] not in self.kept

    def take(self, step: int, model: nn.Module) -> None:
        info = {"name": self.plan[step], "step": step, "epoch": round(step / self.steps_per_epoch, 2)}
        self.kept[info["name"]] = (info, checkpoint.snapshot_state(model))

    def start(self, step: int, model: nn.Module) -> None:
        """Before the first step of this process (`step` steps done): take what can still be had."""
        if self.wanted(step):
            self.take(step, model)
        if step > 0 and self.wanted(0):
            with torch.random.fork_rng(devices=[]):  # the initial weights again, leaving the global generator as it was
                torch.manual_seed(self.config.seed)
                self.take(0, ARCHITECTURES[self.config.arch]())
        missing = [name for step_, name in self.plan.items() if step_ < step and name not in self.kept]
        if missing:
            print(f"{self.config.out}: the snapshots {', '.join(missing)} were not kept by the run this resumes and cannot be made again")

    def save(self) -> None:
        if self.kept:
            checkpoint.save_snapshots(self.config.out, self.config.arch, list(self.kept.values()))

    def infos(self) -> list[dict[str, Any]]:
        return sorted((info for info, _ in self.kept.values()), key=lambda i: i["step"])


def train_epoch(epoch: int, run_step: Callable[[Tensor], Tensor], model: nn.Module, optimizer: torch.optim.Optimizer,
                generator: torch.Generator, n_train: int, config: TrainConfig, snapshots: Snapshots) -> list[float]:
    """One epoch (`epoch` counts from 0): the shuffled batches, each step's learning rate, the step itself,
    and a look at the loss every log_every steps (the only host syncs). Returns the loss of every step.

    Raises TrainingError when the loss is no longer finite; the checkpoint of the previous epoch stays.
    """
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    losses = torch.zeros(steps_per_epoch, device=generator.device)  # read back every log_every steps only
    bar = tqdm(total=n_train, desc=f"epoch {epoch + 1}/{config.epochs}", unit="img", unit_scale=True, leave=False, mininterval=0.5)
    try:
        for step, index in enumerate(shuffled_batches(n_train, config.batch_size, generator, generator.device)):
            done = epoch * steps_per_epoch + step  # steps before this one, in the whole run
            if config.lr_schedule != "constant":
                set_lr(optimizer, lr_at(done, total_steps, config))
            losses[step] = run_step(index)
            if snapshots.wanted(done + 1):
                snapshots.take(done + 1, model)
            if (step + 1) % config.log_every == 0 or step + 1 == steps_per_epoch:
                recent = losses[max(0, step + 1 - config.log_every) : step + 1].mean().item()
                if not math.isfinite(recent):
                    raise TrainingError(
                        f"the loss became {recent} at epoch {epoch + 1}, step {step + 1}; stopped. "
                        f"The last good checkpoint (epoch {epoch}) is kept in {config.out}. Try a lower --lr."
                    )
                bar.set_postfix(loss=f"{recent:.4f}", refresh=False)
            bar.update(len(index))
    finally:
        bar.close()
    return losses.tolist()


def train(config: TrainConfig) -> dict[str, Any]:
    """Train, checkpointing after every epoch; returns the run's metrics (also in metrics.json).

    In order: check the settings, read the data onto the device, build the model, the optimizer
    and the random generator (or load them, with --resume), then train_epoch, test and save_epoch
    for every epoch, and last score_and_report.
    """
    check_config(config)
    out = Path(config.out)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    for stale in out.glob(".*.tmp"):  # temporary files of a run killed mid-write
        stale.unlink()
    if not config.resume and (out / checkpoint.SNAPSHOTS).is_file():
        (out / checkpoint.SNAPSHOTS).unlink()  # an earlier run's: they would not be this model's
        print(f"removed {out / checkpoint.SNAPSHOTS} of an earlier run in {out}")
    train_images, train_labels = load_mnist(config.data_dir, train=True)
    test_images, test_labels = load_mnist(config.data_dir, train=False)
    train_images, train_labels = train_images[: config.limit].to(device), train_labels[: config.limit].to(device)
    test_clean, test_labels = to_float(test_images).to(device), test_labels.to(device)
    n_train = len(train_images)
    classifier = config.arch == CLASSIFIER

    torch.manual_seed(config.seed)
    model = ARCHITECTURES[config.arch]().to(device)
    optimizer = make_optimizer(model, config)
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed)
    test_noisy = corrupt(test_clean, config, torch.Generator(device=device).manual_seed(TEST_NOISE_SEED))

    history: dict[str, Any] = {"train_loss": [], "epoch_train_loss": [], "test_loss": [], "epoch_seconds": []}
    if classifier:
        history["test_accuracy"] = []
    start_epoch = 0
    if config.resume:
        check_resume(checkpoint.read_training_info(out), config)  # before the state is loaded into the model
        info = checkpoint.load_training_state(out, model, optimizer, generator)
        history, start_epoch = info["history"], info["epoch"]
        if start_epoch >= config.epochs:
            print(f"{out}: all {config.epochs} epochs are already done (pass a larger --epochs to train on)")

    steps_per_epoch = math.ceil(n_train / config.batch_size)
    graphed = device.type == "cuda" and config.cuda_graph
    print(
        f"training {config.arch} ({sum(p.numel() for p in model.parameters()):,} parameters) on {device}"
        f"{' (CUDA graph)' if graphed else ''}, {n_train:,} images, noise {config.noise}, "
        f"epochs {start_epoch + 1}..{config.epochs} -> {out}"
    )
    model.train()
    run_step = make_step(model, optimizer, train_images, config, generator, graphed, labels=train_labels)
    snapshots = Snapshots(config, steps_per_epoch, config.epochs * steps_per_epoch)
    snapshots.start(start_epoch * steps_per_epoch, model)
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        epoch_losses = train_epoch(epoch, run_step, model, optimizer, generator, n_train, config, snapshots)
        epoch_seconds = time.perf_counter() - t0
        history["train_loss"] += epoch_losses
        history["epoch_train_loss"].append(sum(epoch_losses) / len(epoch_losses))
        if classifier:  # cross-entropy and accuracy on the clean test digits
            test_loss, accuracy = held_out_classification(model, test_clean, test_labels)
            history["test_accuracy"].append(accuracy)
        else:  # the reconstruction of the noisy test digits against the clean ones
            test_loss = held_out_loss(model, test_clean, test_noisy)
        history["test_loss"].append(test_loss)
        history["epoch_seconds"].append(epoch_seconds)
        print(
            f"epoch {epoch + 1}/{config.epochs}: train loss {history['epoch_train_loss'][-1]:.5f}, "
            f"test loss {history['test_loss'][-1]:.5f}"
            + (f", test accuracy {100 * history['test_accuracy'][-1]:.2f} %" if classifier else "")
            + f", {n_train / epoch_seconds:,.0f} img/s, {epoch_seconds:.1f} s"
        )
        snapshots.save()  # first: a run killed after it resumes from the previous epoch and takes them again
        save_epoch(model, optimizer, generator, config, history, epoch + 1, n_train)
    return score_and_report(model, config, history | {"snapshots": snapshots.infos()}, test_clean, steps_per_epoch, n_train, device)


def _checkpoint_config(config: TrainConfig, history: dict[str, Any], epoch: int, n_train: int) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "training": asdict(config) | {"resume": False},
        "data": {"dataset": "MNIST", "train_images": n_train, "test_images": 10_000},
        "test_loss": history["test_loss"][-1] if history["test_loss"] else None,
    }


def save_epoch(model, optimizer, generator, config: TrainConfig, history, epoch: int, n_train: int) -> None:
    """State first (for --resume), then the servable checkpoint; each file atomically.

    SIGINT is held off for the few milliseconds of writing so Ctrl-C cannot split a save.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main_thread else None
    try:
        info = {"epoch": epoch, "config": asdict(config), "history": history}
        checkpoint.save_training_state(config.out, model, optimizer, generator, info)
        checkpoint.save_checkpoint(model, config.out, _checkpoint_config(config, history, epoch, n_train))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def score_and_report(model, config: TrainConfig, history, test_clean: Tensor, steps_per_epoch: int, n_train: int,
                     device) -> dict[str, Any]:
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
    title = f"{config.arch}, noise {config.noise}" + (f" {config.strength}" if config.strength is not None else "")
    plots.loss_plot(out / "loss.png", history["train_loss"], history["test_loss"], steps_per_epoch, title)
    plots.samples_plot(out / "samples.png", sample_panels({"output": model}, clean[:8]), title)
    metrics = _run_metrics(config, history, n_train, device) | {
        "scored_test_images": len(clean),
        "psnr": {f"{r['noise']} {r['level']:g}": {k: round(v["psnr"], 3) for k, v in r["scores"].items()} for r in rows},
        "ssim": {f"{r['noise']} {r['level']:g}": {k: round(v["ssim"], 4) for k, v in r["scores"].items()} for r in rows},
    }
    write_json(out / "metrics.json", metrics)
    checkpoint.save_config(out, config.arch, _checkpoint_config(config, history, metrics["epochs"], n_train) | {"metrics": {
        "test_loss": history["test_loss"][-1],
        "psnr_gaussian_0.5": metrics["psnr"]["gaussian 0.5"][config.arch],
        "psnr_mask_0.5": metrics["psnr"]["mask 0.5"][config.arch],
    }})
    return metrics


def loss_curve(step_losses: list[float], every: int) -> list[float]:
    """The mean of each block of `every` steps (steps 1..every, every+1..2 every, ...); a last, partial block is left out."""
    return [sum(step_losses[i : i + every]) / every for i in range(0, len(step_losses) - every + 1, every)]


def _run_metrics(config: TrainConfig, history: dict[str, Any], n_train: int, device: torch.device) -> dict[str, Any]:
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


def _report_classifier(model, config: TrainConfig, history, steps_per_epoch: int, n_train: int, n_test: int, device) -> dict[str, Any]:
    """The classifier's report: its accuracy on all the test digits (measured after the last epoch), the loss plot, metrics.json."""
    out = Path(config.out)
    plots.loss_plot(out / "loss.png", history["train_loss"], history["test_loss"], steps_per_epoch,
                    f"{config.arch}, clean digits", ylabel="cross-entropy loss")
    metrics = _run_metrics(config, history, n_train, device) | {
        "test_accuracy": history["test_accuracy"][-1],
        "epoch_test_accuracy": history["test_accuracy"],
        "scored_test_images": n_test,
    }
    write_json(out / "metrics.json", metrics)
    checkpoint.save_config(out, config.arch, _checkpoint_config(config, history, metrics["epochs"], n_train) | {"metrics": {
        "test_loss": history["test_loss"][-1], "test_accuracy": metrics["test_accuracy"],
    }})
    return metrics
