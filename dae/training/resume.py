"""`--resume`: the training state kept beside a checkpoint, and the rules for continuing a run from it.

`training_state.safetensors` holds everything a run needs to go on exactly as if it had never
stopped: weights, Adam's moments, the random generator and the loss history, with the run's
settings in its metadata. The app never needs it (it is not shipped with the app's checkpoints).

A run continues only as itself: `check_resume` refuses settings that would change it (the fields
of TrainConfig marked "run") and a device its random numbers cannot continue on.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from ..checkpoint import FORMAT_VERSION, CheckpointError, _first_line, check_format_version
from ..files import atomic_path
from .config import RUN_SETTINGS, TrainConfig, TrainingError, option, pick_device

TRAINING_STATE = "training_state.safetensors"


def saved_config(info: dict[str, Any]) -> TrainConfig:
    """The TrainConfig a training state was saved with (fields this code does not know are dropped)."""
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in info["config"].items() if k in names})


def _shown(value: Any) -> str:
    return "unset" if value is None else " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def check_resume(info: dict[str, Any], config: TrainConfig) -> None:
    """Refuse to resume a saved run (`info`, from checkpoint.read_training_info) as `config` if that would
    change the run or cannot continue its random numbers exactly (TrainingError, one line)."""
    saved = saved_config(info)
    changed = [name for name in RUN_SETTINGS if getattr(saved, name) != getattr(config, name)]
    if getattr(saved, "lr_schedule", "constant") != "constant" and saved.epochs != config.epochs:
        changed.append("epochs")  # the schedule spans all the epochs: more of them change every step's lr
    if changed:
        old = ", ".join(f"{option(n)} {_shown(getattr(saved, n))}" for n in changed)
        new = ", ".join(f"{option(n)} {_shown(getattr(config, n))}" for n in changed)
        raise TrainingError(
            f"{config.out} holds a run trained with {old}; resuming it with {new} would change the run "
            f"(leave {'it' if len(changed) == 1 else 'them'} out to continue it, or train into another --out)"
        )
    was = info["generator_device"]
    if was == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            f"{config.out} holds a run trained on CUDA; its random numbers can only continue on a CUDA GPU, "
            "and this machine has none"
        )
    now = pick_device(config.device).type
    if now != was:
        raise TrainingError(
            f"{config.out} holds a run trained on {was}; its random numbers cannot continue on {now}: "
            f"resume with --device {was}"
        )


def resumed_config(out: str | Path, given: dict[str, Any]) -> TrainConfig:
    """What `--resume` continues: the run saved in `out`, with the `given` settings on top.

    The saved run is the truth: settings not given are its own (so `train.py --out X --resume`
    alone continues any run), --epochs may grow, and a given setting that would change the run is
    refused (TrainingError), like a device its random numbers cannot continue on.
    """
    info = read_training_info(out)
    config = replace(saved_config(info), **given, out=str(out), resume=True)
    check_resume(info, config)
    return config


def save_training_state(
    folder: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    info: dict[str, Any],
) -> None:
    """Everything `--resume` needs, in one safetensors file written atomically.

    The optimizer state is flattened to tensors (`optim.<param index>.<name>`) with its
    hyperparameters in the metadata, because safetensors holds tensors and strings only. The
    generator's device is recorded too: a CPU generator's state cannot continue on CUDA, nor the reverse.
    """
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for index, param_state in opt["state"].items():
        for name, value in param_state.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["generator"] = generator.get_state().cpu()
    metadata = {
        "format_version": str(FORMAT_VERSION),
        "arch": model.arch,
        "generator_device": generator.device.type,
        # default=float: a capturable optimizer keeps lr as a tensor
        "param_groups": json.dumps(opt["param_groups"], default=float),
        "info": json.dumps(info),
    }
    with atomic_path(Path(folder) / TRAINING_STATE) as tmp:
        safetensors.torch.save_file(tensors, str(tmp), metadata=metadata)


def read_training_info(folder: str | Path) -> dict[str, Any]:
    """The saved run without its tensors: `info` (epoch, config, history) plus `arch` and `generator_device`.

    Cheap (the metadata only), so a resume can be checked before any data is loaded.
    """
    file = Path(folder) / TRAINING_STATE
    if not file.is_file():
        raise CheckpointError(
            f"{file}: missing, so there is nothing to resume (train without --resume first)"
        )
    try:
        with safetensors.safe_open(str(file), framework="pt") as f:
            metadata = f.metadata() or {}
            generator_bytes = f.get_slice("generator").get_shape()[0]
        version = int(metadata.get("format_version", "1"))
        info = json.loads(metadata["info"])
        if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
            raise ValueError("no run settings in it")
    except CheckpointError:
        raise
    except Exception as e:  # SafetensorError, KeyError, ValueError, RecursionError: not our file, or damaged
        raise CheckpointError(f"{file}: not a readable training state ({_first_line(e)})") from None
    check_format_version(file, version)
    # States saved before the device was recorded: a CPU (Mersenne Twister) state has a fixed size.
    cpu_bytes = torch.Generator().get_state().numel()
    device = metadata.get("generator_device") or ("cpu" if generator_bytes == cpu_bytes else "cuda")
    arch = metadata.get("arch") or info["config"].get("arch")
    return info | {"arch": arch, "generator_device": device}


def load_training_state(
    folder: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator
) -> dict[str, Any]:
    """Restore what save_training_state wrote; returns its `info` dict (as read_training_info does)."""
    file = Path(folder) / TRAINING_STATE
    info = read_training_info(folder)
    if info["arch"] != model.arch:
        raise CheckpointError(f"{file}: holds a {info['arch']!r} run, not {model.arch!r}")
    if info["generator_device"] != generator.device.type:
        raise CheckpointError(
            f"{file}: the run's random generator ran on {info['generator_device']} and cannot continue on "
            f"{generator.device.type}; resume it with --device {info['generator_device']}"
        )
    try:
        with safetensors.safe_open(str(file), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        param_groups = json.loads(metadata["param_groups"])
    except Exception as e:
        raise CheckpointError(f"{file}: not a readable training state ({_first_line(e)})") from None
    model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError:  # its message lists every tensor name: too long for one line
        raise CheckpointError(f"{file}: its weights do not match the {model.arch!r} architecture") from None
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": param_groups})
        _match_layouts(optimizer)
        generator.set_state(tensors["generator"].to(torch.uint8))
    except (RuntimeError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"{file}: its optimizer or generator state does not fit this run ({_first_line(e)})"
        ) from None
    return info


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each loaded moment the memory layout of its parameter (e.g. channels-last, dae.classifier).

    The file holds plain contiguous tensors, and the fused Adam step did not do the right maths
    for a channels-last weight whose moments are contiguous: a resumed classifier's weights drifted
    from the uninterrupted run's by up to 0.02 within one epoch (identical with this fix).
    """
    for param, param_state in optimizer.state.items():
        for key, value in param_state.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                param_state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
