"""Checkpoint folders (dae.checkpoint): saved, loaded strictly, and every damage named in one message.

The training state that --resume reads is tested in tests/training/test_resume.py, the snapshots
file with the run that writes it in tests/training/test_snapshots.py.
"""

import json

import pytest
import safetensors
import safetensors.torch
import torch

from dae.checkpoint import CONFIG, FORMAT_VERSION, WEIGHTS, CheckpointError, load_model, save_checkpoint
from dae.model import DAE


@pytest.fixture
def ckpt(tmp_path):
    model = DAE().eval()
    save_checkpoint(model, tmp_path / "ckpt", {"note": "test"})
    return model, tmp_path / "ckpt"


def test_save_then_load_gives_identical_outputs(ckpt):
    model, folder = ckpt
    loaded, config = load_model(folder)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model(x), loaded(x))
    assert config["arch"] == "dae" and config["note"] == "test"
    assert not loaded.training


def test_hub_mixin_loads_the_same_folder(ckpt):
    model, folder = ckpt
    loaded = DAE.from_pretrained(str(folder))
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(model(x), loaded(x))


def test_no_file_in_a_checkpoint_is_a_pickle(ckpt):
    _, folder = ckpt
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG, WEIGHTS]
    assert (folder / WEIGHTS).read_bytes()[8:9] == b"{"  # safetensors: u64 header size, then JSON


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_model(tmp_path / "nope")


def test_missing_weights(ckpt):
    _, folder = ckpt
    (folder / WEIGHTS).unlink()
    with pytest.raises(CheckpointError, match=f"{WEIGHTS}: missing"):
        load_model(folder)


def test_truncated_weights(ckpt):
    _, folder = ckpt
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable safetensors file") as e:
        load_model(folder)
    assert str(folder / WEIGHTS) in str(e.value)


def test_garbage_weights(ckpt):
    _, folder = ckpt
    (folder / WEIGHTS).write_bytes(b"\x80\x04 this is a pickle, not safetensors")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_model(folder)


def test_corrupted_config(ckpt):
    _, folder = ckpt
    (folder / CONFIG).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(folder)


def test_wrong_architecture_name(ckpt):
    _, folder = ckpt
    (folder / CONFIG).write_text(json.dumps({"arch": "resnet"}))
    with pytest.raises(CheckpointError, match="unknown architecture 'resnet'"):
        load_model(folder)


def test_missing_keys_and_wrong_shapes(tmp_path):
    folder = tmp_path / "ckpt"
    save_checkpoint(DAE(), folder, {})
    state = safetensors.torch.load_file(folder / WEIGHTS)
    del state["l1.bias"]
    safetensors.torch.save_file(state, folder / WEIGHTS)
    with pytest.raises(CheckpointError, match="missing keys: l1.bias"):
        load_model(folder)
    state = {k: v for k, v in DAE().state_dict().items()}
    state["l1.weight"] = torch.zeros(128, 1024)
    safetensors.torch.save_file(state, folder / WEIGHTS)
    with pytest.raises(CheckpointError, match=r"l1.weight has shape \(128, 1024\)"):
        load_model(folder)


def test_non_finite_weights(tmp_path):
    folder = tmp_path / "ckpt"
    save_checkpoint(DAE(), folder, {})
    state = safetensors.torch.load_file(folder / WEIGHTS)
    state["conv1.weight"][0] = float("nan")
    safetensors.torch.save_file(state, folder / WEIGHTS)
    with pytest.raises(CheckpointError, match="NaN"):
        load_model(folder)


def test_deeply_nested_config_is_one_message(ckpt):
    _, folder = ckpt
    (folder / CONFIG).write_text("[" * 100_000 + "]" * 100_000)  # json recurses per level: RecursionError
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_model(folder)


def test_oversized_config_is_refused_unread(ckpt):
    _, folder = ckpt
    (folder / CONFIG).write_text(json.dumps({"arch": "dae", "pad": "x" * 2**20}))
    with pytest.raises(CheckpointError, match="larger than 1 MiB"):
        load_model(folder)


@pytest.mark.parametrize(
    "version, message",
    [
        (FORMAT_VERSION + 1, "newer than this code reads"),
        ("1", "not a version number"),
        (0, "not a version number"),
    ],
)
def test_config_of_another_format_version(ckpt, version, message):
    _, folder = ckpt
    config = json.loads((folder / CONFIG).read_text())
    assert config["format_version"] == FORMAT_VERSION  # written on save
    (folder / CONFIG).write_text(json.dumps(config | {"format_version": version}))
    with pytest.raises(CheckpointError, match=message):
        load_model(folder)


def test_a_dae_with_another_code_size_loads_with_its_option(tmp_path):
    model = DAE(code_size=16).eval()
    save_checkpoint(model, tmp_path / "small", {"model": {"code_size": 16}})
    loaded, config = load_model(tmp_path / "small")
    assert config["model"] == {"code_size": 16} and loaded.l1.out_features == 16
    x = torch.rand(2, 1, 28, 28)
    assert loaded.encode(x).shape == (2, 16) and torch.equal(model(x), loaded(x))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"code_size": 0}, "model option code_size = 0, expected a whole number from 1"),
        ({"code_size": 2.5}, "model option code_size = 2.5"),
        ({"width": 3}, "do not fit the 'dae' architecture"),
        ([16], "do not fit the 'dae' architecture"),
    ],
)
def test_model_options_the_architecture_does_not_take_are_refused(ckpt, options, message):
    _, folder = ckpt
    config = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps(config | {"model": options}))
    with pytest.raises(CheckpointError, match=message):
        load_model(folder)
