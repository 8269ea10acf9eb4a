import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch

import dae.config
import dae.trainer
import train as train_py
from dae.checkpoint import TRAINING_STATE, CheckpointError, load_model, load_training_state, read_training_info
from dae.config import RUN_SETTINGS, TrainConfig, TrainingError, check_resume
from dae.model import ARCHITECTURES, DAE
from dae.synthetic import write_mnist_split_files
from dae.trainer import make_optimizer, train

from .conftest import ROOT

OUTPUTS = ("model.safetensors", "config.json", "loss.png", "samples.png", "metrics.json", TRAINING_STATE)
OFFLINE = os.environ | {"no_proxy": "*", "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}


def run_train(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True, cwd=ROOT, timeout=300, **kwargs)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_model(folder)[0].state_dict()


def one_line_error(r: subprocess.CompletedProcess) -> str:
    """The error of a refused command: exit status 2, no traceback, one line saying why."""
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_short_training_lowers_the_loss(tiny_mnist, tmp_path):
    m = train(TrainConfig(data_dir=str(tiny_mnist), out=str(tmp_path / "run"), epochs=4, batch_size=16))
    assert all(later < earlier for earlier, later in zip(m["test_loss"], m["test_loss"][1:]))
    assert m["test_loss"][-1] < 0.8 * m["test_loss"][0]
    assert m["epoch_train_loss"][-1] < m["epoch_train_loss"][0]


def test_train_py_end_to_end(tiny_mnist, tmp_path):
    out = tmp_path / "run"
    r = run_train("--data-dir", str(tiny_mnist), "--out", str(out), "--limit", "256", "--epochs", "2")
    assert r.returncode == 0, r.stderr
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_images"] == 256 and metrics["epochs"] == 2
    assert set(metrics["psnr"]) >= {"gaussian 0.5", "mask 0.5", "salt_pepper 0.2"}
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "dae" and config["training"]["limit"] == 256 and config["epoch"] == 2
    assert not list(out.glob(".*.tmp")), "no temporary files are left behind"


# ---- the noise the model really trains on ------------------------------------------------------


def plain_mnist(root: Path, pixel: int) -> Path:
    """Every image one flat grey level: the noise is then all there is to see in a batch."""
    images, labels = torch.full((64, 28, 28), pixel, dtype=torch.uint8), torch.zeros(64, dtype=torch.long)
    return write_mnist_split_files(root, (images, labels), (images[:16], labels[:16]))


def black_with_gaussian(x: torch.Tensor) -> None:
    # clamp(0 + 0.3·N(0, 1), 0, 1): half the pixels clip to 0; the rest are |0.3·N|, of mean 0.3·√(2/π) = 0.239
    zero = (x == 0).flatten(1).float().mean(1)
    assert zero.min() > 0.42 and zero.max() < 0.58, zero
    assert x[x > 0].mean().item() == pytest.approx(0.3 * (2 / torch.pi) ** 0.5, abs=0.01)


def white_with_mask(x: torch.Tensor) -> None:
    # each pixel of a white image dropped to 0 with probability 0.3, the rest untouched
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    zero = (x == 0).flatten(1).float().mean(1)
    assert zero.min() > 0.23 and zero.max() < 0.37, zero


@pytest.mark.parametrize(
    "pixel, flags, check",
    [(0, ["--noise", "gaussian", "--sigma", "0.3"], black_with_gaussian), (255, ["--noise", "mask", "--p", "0.3"], white_with_mask)],
)
def test_the_fixed_noise_flags_are_the_noise_trained_on(tmp_path, monkeypatch, pixel, flags, check):
    seen: list[torch.Tensor] = []

    class Watched(DAE):
        def forward(self, x):
            if self.training:
                seen.append(x.detach().clone())
            return super().forward(x)

    monkeypatch.setitem(ARCHITECTURES, "dae", Watched)
    data = plain_mnist(tmp_path / "data", pixel)
    # on the CPU the step runs eagerly, one forward call per batch (a CUDA graph would replay without calling it)
    config = train_py.parse_args(["--data-dir", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "16",
                                  "--device", "cpu", *flags])
    train(config)
    assert len(seen) == 4  # 64 images, batches of 16
    for batch in seen:
        check(batch)


# ---- --resume ----------------------------------------------------------------------------------


def test_resumed_run_equals_uninterrupted_run(tiny_mnist, tmp_path):
    common = dict(data_dir=str(tiny_mnist), batch_size=32, limit=256)
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=3, **common))
    train(TrainConfig(out=str(tmp_path / "split"), epochs=1, **common))
    resumed = train(TrainConfig(out=str(tmp_path / "split"), epochs=3, resume=True, **common))
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


NON_DEFAULT = ["--noise", "mask", "--p", "0.3", "--batch-size", "16", "--limit", "64", "--lr", "0.002", "--seed", "3",
               "--weight-decay", "0", "--betas", "0.8", "0.99"]


def test_resume_alone_continues_a_non_default_run_with_its_own_settings(tiny_mnist, tmp_path):
    split = tmp_path / "split"
    r = run_train("--data-dir", str(tiny_mnist), "--out", str(split), "--epochs", "1", *NON_DEFAULT)
    assert r.returncode == 0, r.stderr
    r = run_train("--out", str(split), "--resume", "--epochs", "2")  # no other setting: the saved ones hold
    assert r.returncode == 0, r.stderr
    # the same run uninterrupted: equal losses only if the resumed epoch used every saved setting
    full = train(train_py.parse_args(["--data-dir", str(tiny_mnist), "--out", str(tmp_path / "full"), "--epochs", "2", *NON_DEFAULT]))
    resumed = json.loads((split / "metrics.json").read_text())
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
    assert resumed["epochs"] == 2


@pytest.fixture(scope="module")
def saved_run(tiny_mnist, tmp_path_factory) -> TrainConfig:
    config = TrainConfig(data_dir=str(tiny_mnist), out=str(tmp_path_factory.mktemp("saved") / "run"), epochs=1,
                         limit=64, batch_size=32, noise="mask", strength=0.3, device="cpu")
    train(config)
    return config


CHANGES = {"arch": "unet", "batch_size": 16, "lr": 0.5, "betas": (0.5, 0.9), "weight_decay": 0.0, "lr_schedule": "cosine",
           "noise": "salt_pepper", "strength": 0.4, "seed": 1, "limit": 32}


@pytest.mark.parametrize("name", RUN_SETTINGS)
def test_resume_refuses_every_setting_that_changes_the_run(saved_run, name):
    assert name in CHANGES, f"add a changed value of the run setting {name} to CHANGES"
    state = (Path(saved_run.out) / TRAINING_STATE).read_bytes()
    changed = replace(saved_run, epochs=2, resume=True, **{name: CHANGES[name]})
    old, new = dae.config._shown(getattr(saved_run, name)), dae.config._shown(CHANGES[name])
    option = "--" + name.replace("_", "-")
    with pytest.raises(TrainingError, match=f"trained with {option} {old}; resuming it with {option} {new} would change the run") as e:
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
    from dae.model import UNet

    model = UNet()
    with pytest.raises(CheckpointError, match=r"holds a 'dae' run, not 'unet'$"):
        load_training_state(saved_run.out, model, make_optimizer(model, saved_run), torch.Generator())


def test_cosine_schedule_refuses_more_epochs(tiny_mnist, tmp_path):
    config = TrainConfig(data_dir=str(tiny_mnist), out=str(tmp_path / "cos"), epochs=1, limit=64, lr_schedule="cosine")
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
    with pytest.raises(CheckpointError, match="random generator ran on cuda and cannot continue on cpu; resume it with --device cuda"):
        load_training_state(out, model, make_optimizer(model, config), torch.Generator())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TrainingError, match="trained on CUDA; its random numbers can only continue on a CUDA GPU"):
        check_resume(read_training_info(out), replace(config, epochs=2, resume=True))
    if torch.cuda.is_available():
        pytest.skip("the refusal of the command itself needs a machine without a GPU (here it would resume on the GPU)")
    line = one_line_error(run_train("--out", str(out), "--resume", "--epochs", "2"))
    assert "trained on CUDA" in line


def test_a_cpu_run_cannot_resume_on_cuda(saved_run, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # pick_device only names the device
    with pytest.raises(TrainingError, match="trained on cpu; its random numbers cannot continue on cuda: resume with --device cpu"):
        check_resume(read_training_info(saved_run.out), replace(saved_run, device="cuda", epochs=2, resume=True))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_mnist, tmp_path, monkeypatch):
    out = tmp_path / "nan"
    train(TrainConfig(data_dir=str(tiny_mnist), out=str(out), epochs=1, limit=128))
    good = weights(out)
    monkeypatch.setattr(dae.trainer, "corrupt", lambda clean, config, g: torch.full_like(clean, float("nan")))
    with pytest.raises(TrainingError, match="the loss became nan at epoch 2.*last good checkpoint \\(epoch 1\\)"):
        train(TrainConfig(data_dir=str(tiny_mnist), out=str(out), epochs=2, limit=128, resume=True))
    after = weights(out)
    assert all(torch.equal(good[k], after[k]) for k in good)


# ---- arguments, folders, data -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "-1"], "--epochs must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--lr", "nan"], "--lr must be a positive number"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--noise", "mask"], "needs --strength between 0 and 0.9"),
        (["--noise", "gaussian", "--sigma", "5"], "needs --strength between 0 and 1.0"),
        (["--epochs", "ten"], "invalid int value"),
        (["--betas", "0.9", "1.5"], "--betas must be two numbers in [0, 1)"),
        (["--weight-decay", "-1"], "--weight-decay must be a number >= 0"),
        (["--threads", "0"], "--threads must be at least 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path):
    line = one_line_error(run_train("--out", str(tmp_path / "x"), *args))
    assert message in line


def test_the_options_are_the_config_fields():
    config = train_py.parse_args(["--out", "/tmp/x", "--batch-size", "16", "--lr", "0.01", "--betas", "0.5", "0.6",
                                  "--weight-decay", "0", "--seed", "7", "--limit", "100", "--noise", "salt_pepper",
                                  "--amount", "0.1", "--arch", "unet", "--epochs", "3", "--threads", "1", "--device", "cpu"])
    assert config == TrainConfig(data_dir="data", out="/tmp/x", arch="unet", epochs=3, batch_size=16, lr=0.01, betas=(0.5, 0.6),
                                 weight_decay=0.0, noise="salt_pepper", strength=0.1, seed=7, device="cpu", limit=100, threads=1)
    assert train_py.parse_args(["--arch", "unet"]).out == "checkpoints/unet"
    assert train_py.parse_args([]) == TrainConfig()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu(tmp_path):
    line = one_line_error(run_train("--device", "cuda", "--out", str(tmp_path / "x")))
    assert "no CUDA GPU is available" in line


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write in: chmod works for users; root needs a folder the kernel refuses."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
        return folder
    for candidate in ("/sys", "/proc"):
        try:
            tempfile.TemporaryFile(dir=candidate).close()
        except OSError:
            return Path(candidate)
    pytest.skip("running as root and no folder refuses root's writes")


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only"])
def test_an_unwritable_out_is_refused_before_any_data_is_read(tmp_path, where):
    file = tmp_path / "file"
    file.write_text("not a folder")
    out = {"a file": file, "under a file": file / "run", "read-only": None}[where] or unwritable_folder(tmp_path) / "run"
    # an empty --data-dir offline: had training started, the error would be about the data
    line = one_line_error(run_train("--data-dir", str(tmp_path / "empty"), "--out", str(out), env=OFFLINE))
    assert f"--out {out}: " in line and "MNIST" not in line
    assert {"a file": "it is a file", "under a file": f"{file} is a file", "read-only": "cannot write in"}[where] in line
    assert file.read_text() == "not a folder"


def test_bad_data_folder_exits_2(tmp_path, tiny_mnist):
    r = run_train("--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "x"), env=OFFLINE)
    assert r.returncode == 2 and "train-images-idx3-ubyte" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad"
    write_mnist_split_files(bad, *[(torch.zeros(64, 28, 28), torch.zeros(64))] * 2)
    labels = bad / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x08\x01garbage")
    line = one_line_error(run_train("--data-dir", str(bad), "--out", str(tmp_path / "y"), env=OFFLINE))
    assert f"{labels} is corrupt" in line


# ---- kills and Ctrl-C ---------------------------------------------------------------------------

DRIVER_ENV = os.environ | {"PYTHONPATH": str(ROOT)}  # the driver scripts import dae and train from the repository

# Runs train.main with a model that, at its Nth training step, touches a marker file and sleeps:
# the test then kills or interrupts it at a known point instead of racing the training.
PAUSING_DRIVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import dae.model, train
    marker, pause_at = Path(sys.argv[1]), int(sys.argv[2])

    class Pausing(dae.model.DAE):
        steps = 0
        def forward(self, x):
            if self.training:
                Pausing.steps += 1
                if Pausing.steps == pause_at:
                    marker.touch()
                    time.sleep(600)
            return super().forward(x)

    dae.model.ARCHITECTURES["dae"] = Pausing
    sys.exit(train.main(sys.argv[3:]))
""")
STEPS_PER_EPOCH = 64  # tiny_mnist's 512 images in batches of 8
SLOW_ARGS = ("--batch-size", "8", "--epochs", "3", "--device", "cpu")  # eager steps: the pausing forward runs


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the training ended (status {proc.returncode}) before the expected point")
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)


def start_paused(args, marker: Path, step: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", PAUSING_DRIVER, str(marker), str(step), *args], cwd=ROOT, env=DRIVER_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker.exists, proc)
    return proc


def epoch_of(folder: Path) -> int:
    try:
        return json.loads((folder / "config.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def test_sigkill_mid_epoch_keeps_the_checkpoint_and_resume_finishes(tiny_mnist, tmp_path):
    out, marker = tmp_path / "killed", tmp_path / "paused"
    args = ("--data-dir", str(tiny_mnist), "--out", str(out), *SLOW_ARGS)
    proc = start_paused(args, marker, STEPS_PER_EPOCH + 10)  # ten steps into epoch 2
    proc.kill()
    proc.communicate()
    assert epoch_of(out) == 1 and read_training_info(out)["epoch"] == 1
    load_model(out)  # the last good checkpoint loads
    r = run_train("--out", str(out), "--resume")
    assert r.returncode == 0, r.stderr
    assert epoch_of(out) == 3 and len(json.loads((out / "metrics.json").read_text())["test_loss"]) == 3


def test_sigkill_while_writing_a_checkpoint(tiny_mnist, tmp_path):
    """Kill the run after the new weights are written to their temporary file, before the rename."""
    out, marker = tmp_path / "killed", tmp_path / "writing"
    driver = textwrap.dedent(f"""
        import sys, time
        from contextlib import contextmanager
        from pathlib import Path
        import dae.checkpoint, train
        real = dae.checkpoint.atomic_path
        @contextmanager
        def slow(path):
            with real(path) as tmp:
                yield tmp
                if Path(path).name == "model.safetensors" and (Path({str(out)!r}) / "config.json").exists():
                    Path({str(marker)!r}).touch()
                    time.sleep(600)
        dae.checkpoint.atomic_path = slow
        sys.exit(train.main(sys.argv[1:]))
    """)
    args = ("--data-dir", str(tiny_mnist), "--out", str(out), *SLOW_ARGS)
    proc = subprocess.Popen([sys.executable, "-c", driver, *args], cwd=ROOT, env=DRIVER_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(marker.exists, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert list(out.glob(".model.safetensors.*.tmp")), "the kill came mid-write"
    assert epoch_of(out) == 1
    load_model(out)
    r = run_train(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert epoch_of(out) == 3
    assert not list(out.glob(".*.tmp")), "stale temporary files are cleaned up"


def test_ctrl_c_says_how_to_resume(tiny_mnist, tmp_path):
    out, marker = tmp_path / "int erupted", tmp_path / "paused"  # a space: the printed command must quote it
    proc = start_paused(("--data-dir", str(tiny_mnist), "--out", str(out), *SLOW_ARGS), marker, STEPS_PER_EPOCH + 10)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "--resume" in stderr and "Traceback" not in stderr
    load_model(out)
    # the command it prints finishes the run
    command = next(line.strip() for line in stderr.splitlines() if line.strip().startswith("python train.py"))
    r = run_train(*shlex.split(command)[2:])
    assert r.returncode == 0, r.stderr
    assert epoch_of(out) == 3


def test_ctrl_c_before_the_first_epoch_says_nothing_is_saved(tiny_mnist, tmp_path):
    out, marker = tmp_path / "early", tmp_path / "paused"
    proc = start_paused(("--data-dir", str(tiny_mnist), "--out", str(out), *SLOW_ARGS), marker, 3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert f"nothing to resume in {out}" in stderr and "--resume" not in stderr
