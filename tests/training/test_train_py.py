"""train.py, the command: its options, a run end to end, refusals in one line, kills and Ctrl-C.

Each command runs as a process, as a person would run it.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch

import train as train_py
from dae.checkpoint import load_model
from dae.training.config import TrainConfig
from dae.training.resume import TRAINING_STATE, read_training_info
from tests.support import ROOT, one_line_error, run_train
from tools.synthetic import write_mnist_split_files

OUTPUTS = ("model.safetensors", "config.json", "loss.png", "samples.png", "metrics.json", TRAINING_STATE)
OFFLINE = os.environ | {
    "no_proxy": "*",
    "https_proxy": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
}


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
    config = train_py.parse_args(
        "--out /tmp/x --batch-size 16 --lr 0.01 --betas 0.5 0.6 --weight-decay 0 --seed 7 --limit 100 "
        "--noise salt_pepper --amount 0.1 --arch unet --epochs 3 --threads 1 --device cpu".split()
    )
    assert config == TrainConfig(
        data_dir="data",
        out="/tmp/x",
        arch="unet",
        epochs=3,
        batch_size=16,
        lr=0.01,
        betas=(0.5, 0.6),
        weight_decay=0.0,
        noise="salt_pepper",
        strength=0.1,
        seed=7,
        device="cpu",
        limit=100,
        threads=1,
    )
    assert train_py.parse_args(["--code-size", "16", "--out", "/tmp/x"]).code_size == 16
    # without --out, a folder of its own under runs/, never the checkpoint the app serves
    assert re.fullmatch(r"runs/unet-\d{8}-\d{6}", train_py.parse_args(["--arch", "unet"]).out)
    default = train_py.parse_args([])
    assert re.fullmatch(r"runs/dae-\d{8}-\d{6}", default.out) and default == TrainConfig(out=default.out)


def test_a_checkpoint_the_app_serves_is_written_only_when_asked(capsys):
    served = str(ROOT / "checkpoints" / "dae")
    with pytest.raises(SystemExit) as e:
        train_py.parse_args(["--out", served])
    assert e.value.code == 2 and "is a checkpoint the app serves" in capsys.readouterr().err
    assert train_py.parse_args(["--out", served, "--replace-served"]).out == served
    with pytest.raises(SystemExit):  # --code-size is the DAE's own option
        train_py.parse_args(["--arch", "unet", "--code-size", "16", "--out", "/tmp/x"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu(tmp_path):
    line = one_line_error(run_train("--device", "cuda", "--out", str(tmp_path / "x")))
    assert "no CUDA GPU is available" in line


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write in: chmod works for users; root needs one the kernel refuses."""
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
    out = {"a file": file, "under a file": file / "run", "read-only": None}[where] or unwritable_folder(
        tmp_path
    ) / "run"
    # an empty --data-dir offline: had training started, the error would be about the data
    line = one_line_error(run_train("--data-dir", str(tmp_path / "empty"), "--out", str(out), env=OFFLINE))
    assert f"--out {out}: " in line and "MNIST" not in line
    assert {"a file": "it is a file", "under a file": f"{file} is a file", "read-only": "cannot write in"}[
        where
    ] in line
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

DRIVER_ENV = os.environ | {
    "PYTHONPATH": str(ROOT)
}  # the driver scripts import dae and train from the repository

# Runs train.main with a model that, at its Nth training step, touches a marker file and sleeps:
# the test then kills or interrupts it at a known point instead of racing the training.
PAUSING_DRIVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import dae.architectures, dae.model, train
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

    dae.architectures.ARCHITECTURES["dae"] = Pausing
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
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSING_DRIVER, str(marker), str(step), *args],
        cwd=ROOT,
        env=DRIVER_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
    proc = subprocess.Popen(
        [sys.executable, "-c", driver, *args],
        cwd=ROOT,
        env=DRIVER_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
    proc = start_paused(
        ("--data-dir", str(tiny_mnist), "--out", str(out), *SLOW_ARGS), marker, STEPS_PER_EPOCH + 10
    )
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
