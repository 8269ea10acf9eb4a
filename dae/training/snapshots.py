"""`--snapshots`: the weights kept at a few steps of a run, to show how the model learned.

Taken untrained, after EARLY_SNAPSHOT_STEP steps and after epoch 1, held in memory and written
(float16, snapshots.safetensors beside the checkpoint) with each epoch; the app's "How it
learned" view reads them back (dae.checkpoint.load_snapshots).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .. import checkpoint
from ..architectures import make_model
from .config import TrainConfig, model_options

EARLY_SNAPSHOT_STEP = 300  # "after the first few hundred steps"
SNAPSHOTS_FILE = checkpoint.SNAPSHOTS


def snapshot_plan(steps_per_epoch: int, total_steps: int) -> dict[int, str]:
    """{global step: name} of the weights --snapshots keeps: untrained, after EARLY_SNAPSHOT_STEP steps,
    after epoch 1.

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
        if read is not None and read[0] == config.arch and read[1] == model_options(config):
            self.kept = {
                info["name"]: (info, state)
                for info, state in read[2]
                if self.plan.get(info["step"]) == info["name"]
            }

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
            # the initial weights again, leaving the global generator as it was
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.config.seed)
                self.take(0, make_model(self.config.arch, model_options(self.config)))
        missing = [name for step_, name in self.plan.items() if step_ < step and name not in self.kept]
        if missing:
            print(
                f"{self.config.out}: the snapshots {', '.join(missing)} were not kept "
                "by the run this resumes and cannot be made again"
            )

    def save(self) -> None:
        if self.kept:
            checkpoint.save_snapshots(
                self.config.out, self.config.arch, list(self.kept.values()), model_options(self.config)
            )

    def infos(self) -> list[dict[str, Any]]:
        return sorted((info for info, _ in self.kept.values()), key=lambda i: i["step"])
