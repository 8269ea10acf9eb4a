"""The training loop: plain PyTorch over device-resident MNIST. Read it from `train` down.

The DAE's recipe is the specification's (docs/specification.md): Adam (lr 1e-3, betas
(0.9, 0.999), weight decay 1e-5), batch 64, 10 epochs, MSE between the reconstruction of the
noisy image and the clean image. What is ours is everything around it: blind noise by default,
the data on the device, no host synchronisation per step, the step replayed as one CUDA graph on
a GPU (cuda_graph.py), atomic checkpoints after every epoch and exact resumption (resume.py).

The same loop trains the digit classifier (`--arch classifier`) that judges the denoisers: it is
fed the clean digits, never noise, with cross-entropy against the labels (`classifier_step`).

`train` is what `python train.py` runs. `open_run` and `epochs` are its two halves, for a caller
that steps through the epochs itself and may stop early (closing the generator stops after the
current step).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .. import checkpoint
from ..architectures import make_model
from ..data import load_mnist, shuffled_batches, to_float
from ..noise import add_noise, blind_noise
from .config import CLASSIFIER, TrainConfig, TrainingError, check_config, model_options, pick_device
from .cuda_graph import GraphedStep, make_capturable
from .report import checkpoint_config, score_and_report
from .resume import check_resume, load_training_state, read_training_info, save_training_state
from .snapshots import SNAPSHOTS_FILE, Snapshots

TEST_NOISE_SEED = 4321  # the noisy test set is drawn once with this seed, so epochs compare fairly


def train(config: TrainConfig) -> dict[str, Any]:
    """Train, checkpointing after every epoch; returns the run's metrics (also in metrics.json)."""
    check_config(config)
    out = Path(config.out)
    for stale in out.glob(".*.tmp"):  # temporary files of a run killed mid-write
        stale.unlink()
    if not config.resume and (out / SNAPSHOTS_FILE).is_file():
        (out / SNAPSHOTS_FILE).unlink()  # an earlier run's: they would not be this model's
        print(f"removed {out / SNAPSHOTS_FILE} of an earlier run in {out}")
    run = open_run(config)
    snapshots = Snapshots(config, run.steps_per_epoch, config.epochs * run.steps_per_epoch)
    snapshots.start(run.start_epoch * run.steps_per_epoch, run.model)
    print(
        f"training {config.arch} ({run.parameters:,} parameters) on {run.device}"
        f"{' (CUDA graph)' if run.graphed else ''}, {run.n_train:,} images, noise {config.noise}, "
        f"epochs {run.start_epoch + 1}..{config.epochs} -> {out}"
    )
    bar = None
    for event in epochs(run, snapshots):
        if isinstance(event, StepDone):
            if bar is None:
                bar = tqdm(
                    total=run.n_train,
                    desc=f"epoch {event.epoch + 1}/{config.epochs}",
                    unit="img",
                    unit_scale=True,
                    leave=False,
                    mininterval=0.5,
                )
            bar.set_postfix(loss=f"{event.loss:.4f}", refresh=False)
            bar.update(event.images_in_epoch - bar.n)
            continue
        if bar is not None:
            bar.close()
            bar = None
        h = run.history
        print(
            f"epoch {event.epoch}/{config.epochs}: train loss {h['epoch_train_loss'][-1]:.5f}, "
            f"test loss {h['test_loss'][-1]:.5f}"
            + (f", test accuracy {100 * h['test_accuracy'][-1]:.2f} %" if run.classifier else "")
            + f", {run.n_train / event.seconds:,.0f} img/s, {event.seconds:.1f} s"
        )
        snapshots.save()  # first: a run killed after it resumes from the previous epoch and takes them again
        save_epoch(run, event.epoch)
    return score_and_report(
        run.model,
        config,
        run.history | {"snapshots": snapshots.infos()},
        run.test_clean,
        run.steps_per_epoch,
        run.n_train,
        run.device,
    )


@dataclass
class Run:
    """Everything one training run holds: its settings, data, model, optimizer, generator and history."""

    config: TrainConfig
    device: torch.device
    train_images: Tensor  # (n, 28, 28) uint8 on the device
    train_labels: Tensor  # (n,)
    test_clean: Tensor  # (10000, 1, 28, 28) float in [0, 1] on the device
    test_labels: Tensor
    test_noisy: Tensor  # the test set corrupted once (TEST_NOISE_SEED)
    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator  # every random number of the run: batch order and noise
    graphed: bool
    history: dict[str, Any] = field(default_factory=dict)
    start_epoch: int = 0

    @property
    def n_train(self) -> int:
        return len(self.train_images)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.config.batch_size)

    @property
    def classifier(self) -> bool:
        return self.config.arch == CLASSIFIER

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def open_run(config: TrainConfig, data: tuple[Tensor, Tensor, Tensor, Tensor] | None = None) -> Run:
    """Read the data onto the device, build the model, the optimizer and the generator (or load them,
    with --resume).

    `data` (train images, train labels, test images, test labels, as load_mnist gives them) spares
    reading the files again.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    if data is None:
        data = (*load_mnist(config.data_dir, train=True), *load_mnist(config.data_dir, train=False))
    train_images, train_labels, test_images, test_labels = data
    test_clean = to_float(test_images).to(device)
    torch.manual_seed(config.seed)
    model = make_model(config.arch, model_options(config)).to(device)
    optimizer = make_optimizer(model, config)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    run = Run(
        config,
        device,
        train_images[: config.limit].to(device),
        train_labels[: config.limit].to(device),
        test_clean,
        test_labels.to(device),
        corrupt(test_clean, config, torch.Generator(device=device).manual_seed(TEST_NOISE_SEED)),
        model,
        optimizer,
        generator,
        graphed=device.type == "cuda" and config.cuda_graph,
        history={"train_loss": [], "epoch_train_loss": [], "test_loss": [], "epoch_seconds": []},
    )
    if run.classifier:
        run.history["test_accuracy"] = []
    if config.resume:
        check_resume(read_training_info(config.out), config)  # before the state is loaded into the model
        info = load_training_state(config.out, model, optimizer, generator)
        run.history, run.start_epoch = info["history"], info["epoch"]
        if run.start_epoch >= config.epochs:
            print(
                f"{config.out}: all {config.epochs} epochs are already done "
                "(pass a larger --epochs to train on)"
            )
    return run


@dataclass(frozen=True)
class StepDone:
    """Yielded every `log_every` steps: where the run is and its recent training loss."""

    epoch: int  # counted from 0
    step: int  # optimisation steps done in the whole run
    images_in_epoch: int
    loss: float  # mean training loss of the last log_every steps


@dataclass(frozen=True)
class EpochDone:
    """Yielded after each epoch, its losses already in run.history."""

    epoch: int  # counted from 1: epochs done
    seconds: float


def epochs(run: Run, snapshots: Snapshots | None = None) -> Iterator[StepDone | EpochDone]:
    """The run's remaining epochs: each one trained (train_epoch), then scored on the test digits.

    Closing the generator stops the run after the step in progress; the model keeps what it learned.
    """
    run.model.train()
    step = make_step(
        run.model,
        run.optimizer,
        run.train_images,
        run.config,
        run.generator,
        run.graphed,
        labels=run.train_labels,
    )
    for epoch in range(run.start_epoch, run.config.epochs):
        t0 = time.perf_counter()
        losses: list[float] = []
        yield from train_epoch(epoch, step, run, snapshots, losses)
        seconds = time.perf_counter() - t0
        h = run.history
        h["train_loss"] += losses
        h["epoch_train_loss"].append(sum(losses) / len(losses))
        if run.classifier:  # cross-entropy and accuracy on the clean test digits
            test_loss, accuracy = held_out_classification(run.model, run.test_clean, run.test_labels)
            h["test_accuracy"].append(accuracy)
        else:  # the reconstruction of the noisy test digits against the clean ones
            test_loss = held_out_loss(run.model, run.test_clean, run.test_noisy)
        h["test_loss"].append(test_loss)
        h["epoch_seconds"].append(seconds)
        yield EpochDone(epoch + 1, seconds)


def train_epoch(
    epoch: int,
    run_step: Callable[[Tensor], Tensor],
    run: Run,
    snapshots: Snapshots | None,
    losses: list[float],
) -> Iterator[StepDone]:
    """One epoch (`epoch` counts from 0): shuffled batches, each step's learning rate, the step, and a
    look at the loss every log_every steps (the only host syncs). Appends the loss of every step to
    `losses`.

    Raises TrainingError when the loss is no longer finite; the checkpoint of the previous epoch stays.
    """
    config, steps_per_epoch = run.config, run.steps_per_epoch
    total_steps = config.epochs * steps_per_epoch
    device_losses = torch.zeros(steps_per_epoch, device=run.device)  # read back every log_every steps only
    seen, read = 0, 0
    for step, index in enumerate(shuffled_batches(run.n_train, config.batch_size, run.generator, run.device)):
        done = epoch * steps_per_epoch + step  # steps before this one, in the whole run
        if config.lr_schedule != "constant":
            set_lr(run.optimizer, lr_at(done, total_steps, config))
        device_losses[step] = run_step(index)
        seen += len(index)
        if snapshots is not None and snapshots.wanted(done + 1):
            snapshots.take(done + 1, run.model)
        if (step + 1) % config.log_every == 0 or step + 1 == steps_per_epoch:
            recent = device_losses[read : step + 1].tolist()
            losses += recent
            read = step + 1
            mean = sum(recent) / len(recent)
            if not math.isfinite(mean):
                raise TrainingError(
                    f"the loss became {mean} at epoch {epoch + 1}, step {step + 1}; stopped. "
                    f"The last good checkpoint (epoch {epoch}) is kept in {config.out}. Try a lower --lr."
                )
            yield StepDone(epoch, done + 1, seen, mean)


# ---- one optimisation step -------------------------------------------------------------------------


def corrupt(clean: Tensor, config: TrainConfig, generator: torch.Generator) -> Tensor:
    """What the model is shown: the clean batch (--noise none), blind noise, or one fixed kind and
    strength."""
    if config.noise == "none":
        return clean
    if config.noise == "blind":
        return blind_noise(clean, generator)
    return add_noise(clean, config.noise, config.strength, generator)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    clean: Tensor,
    config: TrainConfig,
    generator: torch.Generator,
) -> Tensor:
    """One optimisation step on a clean batch; returns the loss as a device tensor (no sync)."""
    noisy = corrupt(clean, config, generator)
    loss = F.mse_loss(model(noisy), clean)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def classifier_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, clean: Tensor, labels: Tensor
) -> Tensor:
    """One optimisation step of the classifier on clean digits: cross-entropy against their labels."""
    loss = F.cross_entropy(model(clean), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def make_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    graphed: bool,
    labels: Tensor | None = None,
) -> Callable[[Tensor], Tensor]:
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
            return GraphedStep(
                classify,
                model,
                optimizer,
                torch.arange(len(images), device=images.device),
                generator,
                lambda i: i,
            )
        return lambda index: classify(index, generator)

    def step_fn(clean: Tensor, g: torch.Generator) -> Tensor:
        return train_step(model, optimizer, clean, config, g)

    if graphed:
        make_capturable(optimizer)
        return GraphedStep(step_fn, model, optimizer, images, generator, to_float)
    return lambda index: step_fn(to_float(images[index]), generator)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # The fused kernel updates all parameters in one pass: same maths, fewer kernel launches.
    return torch.optim.Adam(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, fused=True
    )


def lr_at(step: int, total_steps: int, config: TrainConfig) -> float:
    """The learning rate of a global step: a pure function of it, so --resume continues the schedule
    exactly."""
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


# ---- after each epoch -------------------------------------------------------------------------------


@torch.inference_mode()
def held_out_loss(model: nn.Module, clean: Tensor, noisy: Tensor, batch_size: int = 2000) -> float:
    """Mean MSE of the model's reconstructions of `noisy` against `clean` (eval mode)."""
    model.eval()
    total = sum(
        F.mse_loss(model(n), c, reduction="sum")
        for n, c in zip(noisy.split(batch_size), clean.split(batch_size))
    )
    model.train()
    return total.item() / clean.numel()


@torch.inference_mode()
def held_out_classification(
    model: nn.Module, clean: Tensor, labels: Tensor, batch_size: int = 2000
) -> tuple[float, float]:
    """The classifier's mean cross-entropy and accuracy on the clean test digits (eval mode)."""
    model.eval()
    logits = torch.cat([model(c) for c in clean.split(batch_size)])
    model.train()
    return F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


def save_epoch(run: Run, epoch: int) -> None:
    """State first (for --resume), then the servable checkpoint; each file atomically.

    SIGINT is held off for the few milliseconds of writing so Ctrl-C cannot split a save.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main_thread else None
    try:
        config = run.config
        save_training_state(
            config.out,
            run.model,
            run.optimizer,
            run.generator,
            {"epoch": epoch, "config": asdict(config), "history": run.history},
        )
        checkpoint.save_checkpoint(
            run.model, config.out, checkpoint_config(config, run.history, epoch, run.n_train)
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
