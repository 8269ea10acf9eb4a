"""--resume (dae.training.resume): the training state beside a checkpoint, a run continued exactly as
if it had never stopped, and every setting or device that would change it refused in one line.

Runs killed or interrupted by Ctrl-C, and resumed from the command line, are in test_train_py.py.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch

import dae.training.loop
import dae.training.resume
import train as train_py
from dae.checkpoint import FORMAT_VERSION, CheckpointError, load_model
from dae.model import DAE, UNet
from dae.training.config import RUN_SETTINGS, TrainConfig, TrainingError
from dae.training.loop import make_optimizer, train
from dae.training.resume import (
    TRAINING_STATE,
    check_resume,
    load_training_state,
    read_training_info,
    save_training_state,
)
from tests.support import one_line_error, run_train


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_model(folder)[0].state_dict()


# ---- the training state file ---------------------------------------------------------------------


def saved_state(folder, version=None):
    model = DAE()
    optimizer = torch.optim.Adam(model.parameters())
    save_training_state(
        folder, model, optimizer, torch.Generator(), {"epoch": 1, "config": {"arch": "dae"}, "history": {}}
    )
    if version is not None:
        file = folder / TRAINING_STATE
        with safetensors.safe_open(str(file), framework="pt") as f:
            metadata = f.metadata()
        safetensors.torch.save_file(
            safetensors.torch.load_file(file), file, metadata=metadata | {"format_version": version}
        )
    return model, optimizer


def test_training_state_records_what_resume_checks(tmp_path):
    saved_state(tmp_path)
    with safetensors.safe_open(str(tmp_path / TRAINING_STATE), framework="pt") as f:
        metadata = f.metadata()
    assert (
        metadata["arch"] == "dae"
        and metadata["generator_device"] == "cpu"
        and metadata["format_version"] == str(FORMAT_VERSION)
    )
    info = read_training_info(tmp_path)
    assert info["epoch"] == 1 and info["arch"] == "dae" and info["generator_device"] == "cpu"


def test_training_state_of_a_newer_format(tmp_path):
    model, optimizer = saved_state(tmp_path, version=str(FORMAT_VERSION + 1))
    with pytest.raises(
        CheckpointError, match=f"{TRAINING_STATE}: written in checkpoint format {FORMAT_VERSION + 1}, newer"
    ):
        load_training_state(tmp_path, model, optimizer, torch.Generator())


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"garbage"])
def test_damaged_training_state(tmp_path, damage):
    model, optimizer = saved_state(tmp_path)
    file = tmp_path / TRAINING_STATE
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(CheckpointError, match="not a readable training state"):
        load_training_state(tmp_path, model, optimizer, torch.Generator())


# ---- a resumed run is the run that never stopped -----------------------------------------------------


def test_resumed_run_equals_uninterrupted_run(tiny_mnist, tmp_path):
    common = dict(data_dir=str(tiny_mnist), batch_size=32, limit=256)
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=3, **common))
    train(TrainConfig(out=str(tmp_path / "split"), epochs=1, **common))
    resumed = train(TrainConfig(out=str(tmp_path / "split"), epochs=3, resume=True, **common))
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


NON_DEFAULT = [
    "--noise",
    "mask",
    "--p",
    "0.3",
    "--batch-size",
    "16",
    "--limit",
    "64",
    "--lr",
    "0.002",
    "--seed",
    "3",
    "--weight-decay",
    "0",
    "--betas",
    "0.8",
    "0.99",
]


def test_resume_alone_continues_a_non_default_run_with_its_own_settings(tiny_mnist, tmp_path):
    split = tmp_path / "split"
    r = run_train("--data-dir", str(tiny_mnist), "--out", str(split), "--epochs", "1", *NON_DEFAULT)
    assert r.returncode == 0, r.stderr
    r = run_train("--out", str(split), "--resume", "--epochs", "2")  # no other setting: the saved ones hold
    assert r.returncode == 0, r.stderr
    # the same run uninterrupted: equal losses only if the resumed epoch used every saved setting
    full = train(
        train_py.parse_args(
            ["--data-dir", str(tiny_mnist), "--out", str(tmp_path / "full"), "--epochs", "2", *NON_DEFAULT]
        )
    )
    resumed = json.loads((split / "metrics.json").read_text())
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
    assert resumed["epochs"] == 2


@pytest.fixture(scope="module")
def saved_run(tiny_mnist, tmp_path_factory) -> TrainConfig:
    config = TrainConfig(
        data_dir=str(tiny_mnist),
        out=str(tmp_path_factory.mktemp("saved") / "run"),
        epochs=1,
        limit=64,
        batch_size=32,
        noise="mask",
        strength=0.3,
        device="cpu",
    )
    train(config)
    return config


CHANGES = {
    "arch": "unet",
    "batch_size": 16,
    "lr": 0.5,
    "betas": (0.5, 0.9),
    "weight_decay": 0.0,
    "lr_schedule": "cosine",
    "noise": "salt_pepper",
    "strength": 0.4,
    "seed": 1,
    "limit": 32,
    "code_size": 16,
}


@pytest.mark.parametrize("name", RUN_SETTINGS)
def test_resume_refuses_every_setting_that_changes_the_run(saved_run, name):
    assert name in CHANGES, f"add a changed value of the run setting {name} to CHANGES"
    state = (Path(saved_run.out) / TRAINING_STATE).read_bytes()
    changed = replace(saved_run, epochs=2, resume=True, **{name: CHANGES[name]})
    old, new = dae.training.resume._shown(getattr(saved_run, name)), dae.training.resume._shown(CHANGES[name])
    option = "--" + name.replace("_", "-")
    with pytest.raises(
        TrainingError,
        match=f"trained with {option} {old}; resuming it with {option} {new} would change the run",
    ) as e:
        train(changed)
    assert "\n" not in str(e.value)
    assert (Path(saved_run.out) / TRAINING_STATE).read_bytes() == state, "nothing was trained or saved"


def test_train_py_resume_with_another_lr_or_arch_is_one_line(saved_run):
    before = (Path(saved_run.out) / "config.json").read_text()
    line = one_line_error(run_train("--out", saved_run.out, "--resume", "--lr", "0.5"))
    assert "trained with --lr 0.001; resuming it with --lr 0.5" in line
    line = one_line_error(run_train("--out", saved_run.out, "--resume", "--arch", "unet", "--epochs", "3"))
    assert "trained with --arch dae; resuming it with --arch unet" in line
    assert (Path(saved_run.out) / "config.json").read_text() == before


def test_training_state_of_another_architecture_is_one_line(saved_run):
    model = UNet()
    with pytest.raises(CheckpointError, match=r"holds a 'dae' run, not 'unet'$"):
        load_training_state(saved_run.out, model, make_optimizer(model, saved_run), torch.Generator())


def test_cosine_schedule_refuses_more_epochs(tiny_mnist, tmp_path):
    config = TrainConfig(
        data_dir=str(tiny_mnist), out=str(tmp_path / "cos"), epochs=1, limit=64, lr_schedule="cosine"
    )
    train(config)
    with pytest.raises(TrainingError, match="trained with --epochs 1; resuming it with --epochs 2"):
        train(replace(config, epochs=2, resume=True))


def pretend_trained_on_cuda(folder: Path, record_device: bool = True) -> None:
    """Rewrite a CPU training state as a CUDA run's: a CUDA generator's state is 16 bytes (seed, offset)."""
    file = folder / TRAINING_STATE
    with safetensors.safe_open(str(file), framework="pt") as f:
        metadata = f.metadata()
    tensors = safetensors.torch.load_file(file)
    tensors["generator"] = torch.zeros(16, dtype=torch.uint8)
    if record_device:
        metadata["generator_device"] = "cuda"
    else:  # a state saved before the device was recorded
        del metadata["generator_device"]
    safetensors.torch.save_file(tensors, file, metadata=metadata)


@pytest.mark.parametrize("record_device", [True, False])
def test_a_cuda_run_cannot_resume_on_the_cpu(tiny_mnist, tmp_path, record_device, monkeypatch):
    out = tmp_path / "cuda"
    config = TrainConfig(data_dir=str(tiny_mnist), out=str(out), epochs=1, limit=64, device="cpu")
    train(config)
    pretend_trained_on_cuda(out, record_device)
    assert read_training_info(out)["generator_device"] == "cuda"
    model = DAE()
    with pytest.raises(
        CheckpointError,
        match="random generator ran on cuda and cannot continue on cpu; resume it with --device cuda",
    ):
        load_training_state(out, model, make_optimizer(model, config), torch.Generator())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        TrainingError, match="trained on CUDA; its random numbers can only continue on a CUDA GPU"
    ):
        check_resume(read_training_info(out), replace(config, epochs=2, resume=True))
    if torch.cuda.is_available():
        pytest.skip(
            "the refusal of the command itself needs a machine without a GPU "
            "(here it would resume on the GPU)"
        )
    line = one_line_error(run_train("--out", str(out), "--resume", "--epochs", "2"))
    assert "trained on CUDA" in line


def test_a_cpu_run_cannot_resume_on_cuda(saved_run, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # pick_device only names the device
    with pytest.raises(
        TrainingError,
        match="trained on cpu; its random numbers cannot continue on cuda: resume with --device cpu",
    ):
        check_resume(
            read_training_info(saved_run.out), replace(saved_run, device="cuda", epochs=2, resume=True)
        )


def test_cosine_run_resumes_exactly(tiny_mnist, tmp_path):
    common = dict(data_dir=str(tiny_mnist), batch_size=32, limit=128, lr_schedule="cosine", epochs=3)
    full = train(TrainConfig(out=str(tmp_path / "full"), **common))
    first = TrainConfig(out=str(tmp_path / "split"), **common)
    train_step_calls = []
    original = dae.training.loop.train_step

    # Interrupt the 3-epoch schedule in epoch 2 (epoch 1 is saved), then resume it.
    def counting(*args, **kwargs):
        train_step_calls.append(1)
        if len(train_step_calls) > 4:  # 128 / 32 = 4 steps: the first epoch only
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dae.training.loop, "train_step", counting)
        with pytest.raises(KeyboardInterrupt):
            train(first)
    resumed = train(TrainConfig(out=str(tmp_path / "split"), resume=True, **common))
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
    assert full["test_loss"][0] > full["test_loss"][-1]
