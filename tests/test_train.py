import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import dae.trainer
from dae.checkpoint import TRAINING_STATE, load_model
from dae.trainer import TrainConfig, TrainingError, train

from .conftest import ROOT, write_mnist

OUTPUTS = ("model.safetensors", "config.json", "loss.png", "samples.png", "metrics.json", TRAINING_STATE)


def run_train(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True, cwd=ROOT, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def medium_mnist(tmp_path_factory) -> Path:
    """Enough images that an epoch at batch size 8 lasts a second or two, long enough to interrupt."""
    return write_mnist(tmp_path_factory.mktemp("medium"), n_train=4096, n_test=128)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_model(folder)[0].state_dict()


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


def test_fixed_noise_flag(tiny_mnist, tmp_path):
    r = run_train("--data-dir", str(tiny_mnist), "--out", str(tmp_path / "g"), "--limit", "64", "--epochs", "1",
                  "--noise", "gaussian", "--sigma", "0.5")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "g" / "config.json").read_text())["training"]["strength"] == 0.5


def test_resumed_run_equals_uninterrupted_run(tiny_mnist, tmp_path):
    common = dict(data_dir=str(tiny_mnist), batch_size=32, limit=256)
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=3, **common))
    train(TrainConfig(out=str(tmp_path / "split"), epochs=1, **common))
    resumed = train(TrainConfig(out=str(tmp_path / "split"), epochs=3, resume=True, **common))
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_with_other_settings_is_refused(tiny_mnist, tmp_path):
    train(TrainConfig(data_dir=str(tiny_mnist), out=str(tmp_path / "r"), epochs=1, limit=64))
    with pytest.raises(TrainingError, match="other settings"):
        train(TrainConfig(data_dir=str(tiny_mnist), out=str(tmp_path / "r"), epochs=2, limit=64, batch_size=16, resume=True))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_mnist, tmp_path, monkeypatch):
    out = tmp_path / "nan"
    train(TrainConfig(data_dir=str(tiny_mnist), out=str(out), epochs=1, limit=128))
    good = weights(out)
    monkeypatch.setattr(dae.trainer, "corrupt", lambda clean, config, g: torch.full_like(clean, float("nan")))
    with pytest.raises(TrainingError, match="the loss became nan at epoch 2.*last good checkpoint \\(epoch 1\\)"):
        train(TrainConfig(data_dir=str(tiny_mnist), out=str(out), epochs=2, limit=128, resume=True))
    after = weights(out)
    assert all(torch.equal(good[k], after[k]) for k in good)


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
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path):
    r = run_train("--out", str(tmp_path / "x"), *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu(tmp_path):
    r = run_train("--device", "cuda", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "no CUDA GPU is available" in r.stderr and "Traceback" not in r.stderr


def test_bad_data_folder_exits_2(tmp_path, tiny_mnist):
    r = run_train("--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "x"), env=os.environ | {"no_proxy": "*", "https_proxy": "http://127.0.0.1:9"})
    assert r.returncode == 2 and "train-images-idx3-ubyte" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad"
    write_mnist(bad, 64, 16)
    (bad / "MNIST" / "raw" / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01garbage")
    r = run_train("--data-dir", str(bad), "--out", str(tmp_path / "y"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)


def epoch_of(folder: Path) -> int:
    try:
        return json.loads((folder / "config.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


SLOW_ARGS = ("--batch-size", "8", "--epochs", "3")


def test_sigkill_mid_epoch_keeps_the_checkpoint_and_resume_finishes(medium_mnist, tmp_path):
    out = tmp_path / "killed"
    args = ("--data-dir", str(medium_mnist), "--out", str(out), *SLOW_ARGS)
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: epoch_of(out) >= 1)
        time.sleep(0.3)  # well inside epoch 2
    finally:
        proc.kill()
        proc.wait()
    assert epoch_of(out) == 1
    load_model(out)  # the last good checkpoint loads
    r = run_train(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert epoch_of(out) == 3 and len(json.loads((out / "metrics.json").read_text())["test_loss"]) == 3


def test_sigkill_while_writing_a_checkpoint(medium_mnist, tmp_path):
    """Kill the run after the new weights are written to their temporary file, before the rename."""
    out, marker = tmp_path / "killed", tmp_path / "writing"
    driver = textwrap.dedent(f"""
        import sys, time
        from contextlib import contextmanager
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
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
    args = ("--data-dir", str(medium_mnist), "--out", str(out), *SLOW_ARGS)
    proc = subprocess.Popen([sys.executable, "-c", driver, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(marker.exists)
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


def test_ctrl_c_says_how_to_resume(medium_mnist, tmp_path):
    out = tmp_path / "int"
    args = ("--data-dir", str(medium_mnist), "--out", str(out), *SLOW_ARGS)
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: epoch_of(out) >= 1)
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
