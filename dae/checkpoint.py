"""Checkpoints: a folder with `model.safetensors` and `config.json`, nothing pickled.

The folder is what `PyTorchModelHubMixin.save_pretrained` writes, so `DAE.from_pretrained(dir)`
and `push_to_hub` work on it too. `load_model` is the careful path the project uses: it picks
the architecture from the config, loads strictly, and turns every way a checkpoint can be bad
(missing, truncated, corrupted, another architecture, other shapes, missing keys) into one
CheckpointError that names the file and what is wrong.

With `train.py --snapshots` a folder also holds `snapshots.safetensors`: the weights in float16 at
a few points on the way (untrained, after 300 steps, after epoch 1), read back by `load_snapshots`.
The training state that `--resume` needs is dae.training.resume's.
"""

from __future__ import annotations

import json
import reprlib
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from .architectures import ARCHITECTURES, MODEL_OPTIONS, make_model
from .files import atomic_path, write_json

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT_VERSION = 1  # of config.json and the training state; raise it when their meaning changes
MAX_CONFIG_BYTES = 2**20


class CheckpointError(Exception):
    """A checkpoint could not be loaded; the message names the file and the problem."""


def save_checkpoint(model: nn.Module, folder: str | Path, config: dict[str, Any]) -> None:
    """Write weights, then config, each atomically (a killed run leaves the previous files)."""
    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        safetensors.torch.save_file(state, str(tmp), metadata={"format": "pt", "arch": model.arch})
    save_config(folder, model.arch, config)


def save_config(folder: str | Path, arch: str, config: dict[str, Any]) -> None:
    """Write config.json alone (atomically), e.g. to add metrics once the weights are final."""
    write_json(Path(folder) / CONFIG, {"arch": arch, "format_version": FORMAT_VERSION, **config})


def resolve(path_or_repo: str | Path) -> Path:
    """A local folder as is; otherwise a Hugging Face Hub repo id, fetched (weights and config only)."""
    path = Path(path_or_repo)
    if path.exists() or str(path_or_repo).startswith((".", "/", "~")) or str(path_or_repo).count("/") != 1:
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(path_or_repo), allow_patterns=[WEIGHTS, CONFIG]))
    except Exception as e:
        raise CheckpointError(
            f"{path_or_repo}: no such folder, and it could not be fetched from the Hugging Face Hub ({e})"
        ) from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def check_format_version(file: Path, version: Any) -> None:
    """Refuse a file written by a newer version of this code (its layout may mean something else)."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{file}: format_version {version!r} is not a version number")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{file}: written in checkpoint format {version}, newer than this code reads "
            f"(up to {FORMAT_VERSION}); update the project to load it"
        )


def read_config(folder: Path) -> dict[str, Any]:
    config_file = folder / CONFIG
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    if not config_file.is_file():
        raise CheckpointError(f"{config_file}: missing (a checkpoint folder holds {WEIGHTS} and {CONFIG})")
    if config_file.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(
            f"{config_file}: larger than {MAX_CONFIG_BYTES // 2**20} MiB, so not a checkpoint config"
        )
    try:
        config = json.loads(config_file.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{config_file}: not valid JSON ({e})") from None
    except RecursionError:  # json recurses once per level of nesting
        raise CheckpointError(f"{config_file}: nested too deeply to be a checkpoint config") from None
    if not isinstance(config, dict) or config.get("arch") not in ARCHITECTURES:
        arch = config.get("arch") if isinstance(config, dict) else None
        raise CheckpointError(
            f"{config_file}: unknown architecture {reprlib.repr(arch)}; known: {', '.join(ARCHITECTURES)}"
        )
    check_format_version(config_file, config.get("format_version", 1))
    check_model_options(config_file, config["arch"], config.get("model", {}))
    return config


def check_model_options(file: Path, arch: str, options: Any) -> None:
    """Refuse constructor options an architecture does not take, or values outside their bounds."""
    allowed = MODEL_OPTIONS.get(arch, {})
    if not isinstance(options, dict) or set(options) - set(allowed):
        raise CheckpointError(
            f"{file}: model options {reprlib.repr(options)} do not fit the {arch!r} architecture "
            f"(it takes {', '.join(allowed) or 'none'})"
        )
    for name, value in options.items():
        lo, hi = allowed[name]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise CheckpointError(
                f"{file}: model option {name} = {reprlib.repr(value)}, "
                f"expected a whole number from {lo} to {hi}"
            )


def load_state_dict(file: Path, model: nn.Module) -> None:
    """Strictly load safetensors weights into `model`, explaining any mismatch."""
    if not file.is_file():
        raise CheckpointError(f"{file}: missing")
    try:
        state = safetensors.torch.load_file(str(file))
    except Exception as e:  # SafetensorError, OSError, ...: truncated or not a safetensors file
        raise CheckpointError(f"{file}: not a readable safetensors file ({e})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{file}: does not match the {model.arch!r} architecture"
            + (f"; missing keys: {', '.join(missing)}" if missing else "")
            + (f"; unexpected keys: {', '.join(unexpected)}" if unexpected else "")
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{file}: {key} has shape {tuple(value.shape)}, "
                f"the {model.arch!r} architecture expects {tuple(expected[key].shape)}"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"{file}: {key} holds NaN or infinite values")
    model.load_state_dict(state, strict=True)


def load_model(
    path_or_repo: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint folder (or Hub repo id) into an eval-mode model and return its config."""
    folder = resolve(path_or_repo)
    config = read_config(folder)
    model = make_model(config["arch"], config.get("model"))
    load_state_dict(folder / WEIGHTS, model)
    return model.to(device).eval(), config


# ---- snapshots: the weights on the way, for showing how the model learned --------------------

SNAPSHOTS = "snapshots.safetensors"
SNAPSHOTS_FORMAT_VERSION = "1"
SnapshotInfo = dict[str, Any]  # {"name": "step_300", "step": 300, "epoch": 0.32}


def snapshot_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as a snapshot keeps it: on the CPU, floating tensors in float16."""
    return {
        k: v.detach().to("cpu", torch.float16 if v.is_floating_point() else v.dtype).contiguous().clone()
        for k, v in model.state_dict().items()
    }


def save_snapshots(
    folder: str | Path,
    arch: str,
    snapshots: list[tuple[SnapshotInfo, dict[str, torch.Tensor]]],
    options: dict[str, Any] | None = None,
) -> None:
    """Write `snapshots.safetensors` atomically.

    The tensors are keyed "<snapshot name>/<state_dict key>", the list of snapshots is in the metadata.
    """
    snapshots = sorted(snapshots, key=lambda s: s[0]["step"])
    tensors = {f"{info['name']}/{key}": value for info, state in snapshots for key, value in state.items()}
    metadata = {
        "format_version": SNAPSHOTS_FORMAT_VERSION,
        "arch": arch,
        "snapshots": json.dumps([info for info, _ in snapshots]),
    }
    if options:
        metadata["model"] = json.dumps(options)
    with atomic_path(Path(folder) / SNAPSHOTS) as tmp:
        safetensors.torch.save_file(tensors, str(tmp), metadata=metadata)


def _snapshot_infos(file: Path, metadata: dict[str, str]) -> list[SnapshotInfo]:
    if metadata.get("format_version") != SNAPSHOTS_FORMAT_VERSION:
        version = reprlib.repr(metadata.get("format_version"))
        raise CheckpointError(
            f"{file}: format_version {version}, this code reads {SNAPSHOTS_FORMAT_VERSION!r}"
        )
    if metadata.get("arch") not in ARCHITECTURES:
        raise CheckpointError(
            f"{file}: unknown architecture {reprlib.repr(metadata.get('arch'))}; "
            f"known: {', '.join(ARCHITECTURES)}"
        )
    try:
        infos = json.loads(metadata["snapshots"])
    except (KeyError, ValueError, RecursionError):
        raise CheckpointError(f"{file}: no readable list of snapshots in its metadata") from None
    if not isinstance(infos, list) or not all(
        isinstance(i, dict)
        and isinstance(i.get("name"), str)
        and i["name"]
        and "/" not in i["name"]
        and isinstance(i.get("step"), int)
        and not isinstance(i["step"], bool)
        and i["step"] >= 0
        and isinstance(i.get("epoch"), (int, float))
        and not isinstance(i["epoch"], bool)
        for i in infos
    ):
        raise CheckpointError(f"{file}: its list of snapshots is not a list of {{name, step, epoch}}")
    names = [i["name"] for i in infos]
    if len(set(names)) != len(names):
        raise CheckpointError(f"{file}: a snapshot name appears twice")
    return infos


def read_snapshots(
    folder: str | Path,
) -> tuple[str, dict[str, Any], list[tuple[SnapshotInfo, dict[str, torch.Tensor]]]] | None:
    """The architecture, its model options and the (info, state) pairs of `snapshots.safetensors`.

    The states are as saved (float16), in step order. None when the file is absent; CheckpointError
    naming the file when it cannot be read or does not match its architecture (keys, shapes) or
    holds NaN or infinite values.
    """
    folder = Path(folder)
    file = folder / SNAPSHOTS
    if not file.is_file():
        return None
    try:
        with safetensors.safe_open(str(file), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # SafetensorError, OSError: truncated or not a safetensors file
        raise CheckpointError(f"{file}: not a readable safetensors file ({_first_line(e)})") from None
    infos = _snapshot_infos(file, metadata)
    arch = metadata["arch"]
    config_file = folder / CONFIG
    if config_file.is_file():
        checkpoint_arch = read_config(folder)["arch"]
        if checkpoint_arch != arch:
            raise CheckpointError(
                f"{file}: holds snapshots of a {arch!r} model, "
                f"but {config_file} is a {checkpoint_arch!r} checkpoint"
            )
    try:
        options = json.loads(metadata.get("model", "{}"))
    except (ValueError, RecursionError):
        raise CheckpointError(f"{file}: its model options are not readable") from None
    check_model_options(file, arch, options)
    expected = make_model(arch, options).state_dict()
    snapshots = []
    for info in infos:
        prefix = info["name"] + "/"
        state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"{file}: snapshot {info['name']!r} does not match the {arch!r} architecture"
                + (f"; missing keys: {', '.join(missing)}" if missing else "")
                + (f"; unexpected keys: {', '.join(unexpected)}" if unexpected else "")
            )
        for key, value in state.items():
            if value.shape != expected[key].shape:
                raise CheckpointError(
                    f"{file}: {prefix}{key} has shape {tuple(value.shape)}, "
                    f"the {arch!r} architecture expects {tuple(expected[key].shape)}"
                )
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise CheckpointError(f"{file}: {prefix}{key} holds NaN or infinite values")
        snapshots.append((info, state))
    listed = {info["name"] + "/" + key for info, state in snapshots for key in state}
    stray = sorted(set(tensors) - listed)
    if stray:
        raise CheckpointError(f"{file}: tensors of no listed snapshot: {reprlib.repr(', '.join(stray))}")
    return arch, options, sorted(snapshots, key=lambda s: s[0]["step"])


def load_snapshots(
    folder: str | Path, device: str | torch.device = "cpu"
) -> list[tuple[SnapshotInfo, nn.Module]]:
    """How the model in `folder` learned: (info, float32 eval-mode model) per snapshot, in step order.

    `info` is {"name", "step", "epoch"} (epoch = step / steps per epoch); the final weights are
    the checkpoint itself (load_model), not a snapshot. [] when the folder has no snapshots file;
    CheckpointError naming the file when it is damaged.
    """
    read = read_snapshots(folder)
    if read is None:
        return []
    arch, options, snapshots = read
    models = []
    for info, state in snapshots:
        model = make_model(arch, options)
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True
        )
        models.append((info, model.to(device).eval()))
    return models
