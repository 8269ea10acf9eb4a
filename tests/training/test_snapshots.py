"""--snapshots (dae.training.snapshots, dae.checkpoint's snapshots file): the weights on the way
(untrained, after step 300, after epoch 1), and the loss curve in metrics.json (dae.training.report)."""

import json

import pytest
import safetensors
import safetensors.torch
import torch

import dae.training.loop
import train as train_py
from dae.architectures import ARCHITECTURES
from dae.checkpoint import SNAPSHOTS, CheckpointError, load_model, load_snapshots
from dae.model import DAE
from dae.training.config import TrainConfig
from dae.training.loop import train
from dae.training.resume import read_training_info, resumed_config
from dae.training.snapshots import EARLY_SNAPSHOT_STEP, snapshot_plan

# tiny_mnist: 512 images in batches of 8 are 64 steps an epoch; 6 epochs are 384 steps, past step 300
STEPS_PER_EPOCH, EPOCHS = 64, 6
EXPECTED = [
    {"name": "untrained", "step": 0, "epoch": 0.0},
    {"name": "epoch_1", "step": 64, "epoch": 1.0},
    {"name": "step_300", "step": 300, "epoch": 4.69},
]  # 300 / 64 = 4.6875


def config(tiny_mnist, out, **kw) -> TrainConfig:
    return TrainConfig(
        **{
            "data_dir": str(tiny_mnist),
            "out": str(out),
            "batch_size": 8,
            "epochs": EPOCHS,
            "device": "cpu",
            "snapshots": True,
        }
        | kw
    )


def file_contents(folder):
    with safetensors.safe_open(str(folder / SNAPSHOTS), framework="pt") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}


@pytest.fixture(scope="module")
def full_run(tiny_mnist, tmp_path_factory):
    """A 6-epoch run with --snapshots, and the weights seen at the start of step 301 (after 300 steps) and the
    step losses."""
    out = tmp_path_factory.mktemp("snapshots") / "run"
    seen = {}
    losses = []

    class Watched(DAE):
        calls = 0

        def forward(self, x):
            if self.training:
                Watched.calls += 1
                if Watched.calls == 301:  # the forward pass of step 301 sees the weights after 300 steps
                    seen["after_300"] = {k: v.detach().clone() for k, v in self.state_dict().items()}
            return super().forward(x)

    real_step = dae.training.loop.train_step

    def recording(*args):
        loss = real_step(*args)
        losses.append(loss.item())
        return loss

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(ARCHITECTURES, "dae", Watched)
        mp.setattr(dae.training.loop, "train_step", recording)
        metrics = train(config(tiny_mnist, out))
    return out, metrics, seen["after_300"], losses


def test_the_file_layout(full_run):
    out, metrics, _, _ = full_run
    metadata, tensors = file_contents(out)
    assert metadata == {
        "format_version": "1",
        "arch": "dae",
        "snapshots": json.dumps(EXPECTED),
        "model": '{"code_size": 256}',
    }
    keys = list(DAE().state_dict())
    assert sorted(tensors) == sorted(f"{s['name']}/{k}" for s in EXPECTED for k in keys)
    assert all(t.dtype == torch.float16 for t in tensors.values())
    assert metrics["snapshots"] == EXPECTED


def test_the_snapshots_are_the_weights_at_their_steps(full_run, tiny_mnist, tmp_path):
    out, _, after_300, _ = full_run
    _, tensors = file_contents(out)
    torch.manual_seed(0)  # the run's seed: its initial weights
    untrained = DAE().state_dict()
    one_epoch = tmp_path / "one"  # the same run stopped after epoch 1 (a constant rate: the same first epoch)
    train(config(tiny_mnist, one_epoch, epochs=1, snapshots=False))
    after_epoch_1 = load_model(one_epoch)[0].state_dict()
    for name, state in [("untrained", untrained), ("epoch_1", after_epoch_1), ("step_300", after_300)]:
        for key, value in state.items():
            assert torch.equal(tensors[f"{name}/{key}"], value.half()), (name, key)
    final = load_model(out)[0].state_dict()
    assert not torch.equal(final["l1.weight"].half(), tensors["step_300/l1.weight"]), (
        "step 300 is not the end"
    )


def test_load_snapshots(full_run):
    out, _, _, _ = full_run
    _, tensors = file_contents(out)
    loaded = load_snapshots(out)
    assert [info for info, _ in loaded] == EXPECTED  # step order
    x = torch.rand(4, 1, 28, 28)
    for info, model in loaded:
        assert isinstance(model, DAE) and not model.training
        assert all(p.dtype == torch.float32 for p in model.parameters())
        reference = DAE().eval()
        reference.load_state_dict({k: tensors[f"{info['name']}/{k}"].float() for k in reference.state_dict()})
        assert torch.equal(model(x), reference(x))


def test_no_snapshots_file_is_an_empty_list(tmp_path):
    assert load_snapshots(tmp_path) == []


def test_the_loss_curve_is_the_mean_of_each_block_of_50_steps(full_run):
    out, metrics, _, losses = full_run
    assert len(losses) == STEPS_PER_EPOCH * EPOCHS == 384
    # 384 steps: seven full blocks of 50 (steps 1-350); the 34 steps after them are no full block
    blocks = [sum(losses[i * 50 : (i + 1) * 50]) / 50 for i in range(7)]
    assert metrics["train_loss_curve_every"] == 50
    assert metrics["train_loss_curve"] == pytest.approx(blocks, rel=1e-6)
    assert json.loads((out / "metrics.json").read_text())["train_loss_curve"] == metrics["train_loss_curve"]


def damage_metadata(folder, **changes):
    metadata, tensors = file_contents(folder)
    safetensors.torch.save_file(
        tensors, folder / SNAPSHOTS, metadata={k: v for k, v in (metadata | changes).items() if v is not None}
    )


def damage_tensors(folder, change):
    metadata, tensors = file_contents(folder)
    change(tensors)
    safetensors.torch.save_file(tensors, folder / SNAPSHOTS, metadata=metadata)


def set_nan(t):
    t["epoch_1/conv1.weight"][0, 0, 0, 0] = float("nan")


def drop(t):
    del t["step_300/l2.bias"]


def reshape(t):
    t["untrained/l1.bias"] = torch.zeros(128, dtype=torch.float16)


def stray(t):
    t["epoch_2/l1.bias"] = torch.zeros(256, dtype=torch.float16)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: damage_tensors(f, set_nan), "epoch_1/conv1.weight holds NaN"),
        (
            lambda f: damage_tensors(f, drop),
            "snapshot 'step_300' does not match the 'dae' architecture; missing keys: l2.bias",
        ),
        (lambda f: damage_tensors(f, reshape), r"untrained/l1.bias has shape \(128,\)"),
        (lambda f: damage_tensors(f, stray), "tensors of no listed snapshot: 'epoch_2/l1.bias'"),
        (lambda f: damage_metadata(f, format_version="2"), "format_version '2'"),
        (lambda f: damage_metadata(f, arch="resnet"), "unknown architecture 'resnet'"),
        (
            lambda f: damage_metadata(f, arch="unet"),
            "holds snapshots of a .unet. model, but .*config.json is a .dae. checkpoint",
        ),
        (lambda f: damage_metadata(f, snapshots="[{"), "no readable list of snapshots"),
        (lambda f: damage_metadata(f, snapshots=None), "no readable list of snapshots"),
        (lambda f: damage_metadata(f, snapshots='[{"name": "a", "step": -1, "epoch": 0}]'), "not a list of"),
        (lambda f: damage_metadata(f, snapshots=json.dumps(EXPECTED[:1] * 2)), "appears twice"),
        (
            lambda f: (f / SNAPSHOTS).write_bytes((f / SNAPSHOTS).read_bytes()[:1000]),
            "not a readable safetensors file",
        ),
    ],
)
def test_a_damaged_snapshots_file_is_one_error_naming_it(full_run, tmp_path, damage, message):
    out, _, _, _ = full_run
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in (SNAPSHOTS, "config.json"):
        (folder / name).write_bytes((out / name).read_bytes())
    damage(folder)
    with pytest.raises(CheckpointError, match=message) as e:
        load_snapshots(folder)
    assert str(folder / SNAPSHOTS) in str(e.value) and "\n" not in str(e.value)


def test_snapshots_of_another_architecture_than_the_checkpoint(full_run, tmp_path):
    out, _, _, _ = full_run
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / SNAPSHOTS).write_bytes((out / SNAPSHOTS).read_bytes())
    (folder / "config.json").write_text(json.dumps({"arch": "unet"}))
    with pytest.raises(
        CheckpointError, match="snapshots of a 'dae' model, but .*config.json is a 'unet' checkpoint"
    ):
        load_snapshots(folder)


@pytest.mark.parametrize("first_with_snapshots", [True, False])
def test_a_resumed_run_keeps_its_snapshots_and_adds_the_missing_ones(
    full_run, tiny_mnist, tmp_path, first_with_snapshots
):
    """Two epochs (untrained and epoch_1 are in reach), then resumed to six with --snapshots: the file of the
    uninterrupted run.

    Started without --snapshots, the resumed run still has them all: untrained from the seed, epoch_1 from the
    weights it resumes from (1 epoch done), step_300 on the way."""
    out, _, _, _ = full_run
    split = tmp_path / "split"
    train(config(tiny_mnist, split, epochs=2 if first_with_snapshots else 1, snapshots=first_with_snapshots))
    if first_with_snapshots:
        assert [s["name"] for s in json.loads(file_contents(split)[0]["snapshots"])] == [
            "untrained",
            "epoch_1",
        ]
    else:
        assert not (split / SNAPSHOTS).exists()
    state = read_training_info(split)
    resumed = train(resumed_config(split, {"epochs": EPOCHS, "snapshots": True}))
    assert state["epoch"] in (1, 2) and resumed["snapshots"] == EXPECTED
    expected_metadata, expected_tensors = file_contents(out)
    metadata, tensors = file_contents(split)
    assert metadata == expected_metadata
    assert sorted(tensors) == sorted(expected_tensors)
    assert all(torch.equal(tensors[k], expected_tensors[k]) for k in tensors)


def test_a_fresh_run_removes_an_earlier_runs_snapshots(full_run, tiny_mnist, tmp_path):
    out, _, _, _ = full_run
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / SNAPSHOTS).write_bytes((out / SNAPSHOTS).read_bytes())
    train(config(tiny_mnist, folder, epochs=1, limit=64, snapshots=False))
    assert not (folder / SNAPSHOTS).exists()


def test_the_option():
    assert train_py.parse_args(["--snapshots"]).snapshots is True
    assert train_py.parse_args([]).snapshots is False


def test_the_plan_names_each_snapshot_by_its_step():
    """64 steps an epoch: untrained at step 0, epoch 1 after step 64, the early one after step 300. A step at
    the run's end or past it is left out: the last weights are the checkpoint itself."""
    assert EARLY_SNAPSHOT_STEP == 300
    assert snapshot_plan(64, 384) == {0: "untrained", 64: "epoch_1", 300: "step_300"}
    assert snapshot_plan(64, 128) == {0: "untrained", 64: "epoch_1"}
    assert snapshot_plan(64, 64) == {0: "untrained"}
