import json
import os
import stat

import pytest
import safetensors
import safetensors.torch
import torch

from dae.checkpoint import (
    CONFIG,
    FORMAT_VERSION,
    TRAINING_STATE,
    WEIGHTS,
    CheckpointError,
    load_model,
    load_training_state,
    read_training_info,
    save_checkpoint,
    save_training_state,
)
from dae.files import atomic_path, write_json
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
    import safetensors.torch

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
    import safetensors.torch

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


@pytest.mark.parametrize("version, message", [(FORMAT_VERSION + 1, "newer than this code reads"), ("1", "not a version number"),
                                              (0, "not a version number")])
def test_config_of_another_format_version(ckpt, version, message):
    _, folder = ckpt
    config = json.loads((folder / CONFIG).read_text())
    assert config["format_version"] == FORMAT_VERSION  # written on save
    (folder / CONFIG).write_text(json.dumps(config | {"format_version": version}))
    with pytest.raises(CheckpointError, match=message):
        load_model(folder)


def saved_state(folder, version=None):
    model = DAE()
    optimizer = torch.optim.Adam(model.parameters())
    save_training_state(folder, model, optimizer, torch.Generator(), {"epoch": 1, "config": {"arch": "dae"}, "history": {}})
    if version is not None:
        file = folder / TRAINING_STATE
        with safetensors.safe_open(str(file), framework="pt") as f:
            metadata = f.metadata()
        safetensors.torch.save_file(safetensors.torch.load_file(file), file, metadata=metadata | {"format_version": version})
    return model, optimizer


def test_training_state_records_what_resume_checks(tmp_path):
    saved_state(tmp_path)
    with safetensors.safe_open(str(tmp_path / TRAINING_STATE), framework="pt") as f:
        metadata = f.metadata()
    assert metadata["arch"] == "dae" and metadata["generator_device"] == "cpu" and metadata["format_version"] == str(FORMAT_VERSION)
    info = read_training_info(tmp_path)
    assert info["epoch"] == 1 and info["arch"] == "dae" and info["generator_device"] == "cpu"


def test_training_state_of_a_newer_format(tmp_path):
    model, optimizer = saved_state(tmp_path, version=str(FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match=f"{TRAINING_STATE}: written in checkpoint format {FORMAT_VERSION + 1}, newer"):
        load_training_state(tmp_path, model, optimizer, torch.Generator())


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"garbage"])
def test_damaged_training_state(tmp_path, damage):
    model, optimizer = saved_state(tmp_path)
    file = tmp_path / TRAINING_STATE
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(CheckpointError, match="not a readable training state"):
        load_training_state(tmp_path, model, optimizer, torch.Generator())


# ---- atomic writes ------------------------------------------------------------------------------


def test_atomic_write_syncs_the_file_then_its_folder(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        st = os.fstat(fd)
        synced.append((stat.S_ISDIR(st.st_mode), st.st_ino, target.read_text()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_json(target, {"new": 1})
    folder_inode = tmp_path.stat().st_ino
    assert [is_dir for is_dir, _, _ in synced] == [False, True]  # the data first, then the folder
    assert synced[1][1] == folder_inode and synced[1][2].startswith('{\n  "new"'), "the folder is synced after the rename"
    assert synced[0][2] == "old", "the file is synced before the rename"


def test_atomic_write_that_fails_leaves_the_old_file(tmp_path):
    target = tmp_path / "weights"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["weights"]
