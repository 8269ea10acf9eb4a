"""Training the digit classifier that judges the denoisers: its recipe, what it is fed, and a short run.

Its shape and checkpoint are in tests/dae/test_classifier.py.
"""

import json
import re
from dataclasses import replace

import pytest
import torch

import dae.training.loop
import train as train_py
from dae.architectures import ARCHITECTURES
from dae.checkpoint import load_model
from dae.classifier import Classifier
from dae.training.config import default_config
from dae.training.loop import train
from tests.support import one_line_error, run_train
from tools.synthetic import TRAIN_SEED, synthetic_digits, write_mnist_split_files


def test_the_recipe_is_the_classifiers_and_the_dae_keeps_its_own():
    config = train_py.parse_args(["--arch", "classifier"])
    assert config == default_config(arch="classifier", out=config.out)
    assert (
        config.noise,
        config.epochs,
        config.batch_size,
        config.lr,
        config.lr_schedule,
        config.weight_decay,
    ) == ("none", 8, 128, 3e-3, "cosine", 0.0)
    assert re.fullmatch(r"runs/classifier-\d{8}-\d{6}", config.out)  # a folder of its own, not the served one
    dae = train_py.parse_args([])
    assert (
        dae.arch,
        dae.noise,
        dae.epochs,
        dae.batch_size,
        dae.lr,
        dae.betas,
        dae.weight_decay,
        dae.lr_schedule,
    ) == ("dae", "blind", 10, 64, 1e-3, (0.9, 0.999), 1e-5, "constant")
    assert train_py.parse_args(["--arch", "classifier", "--epochs", "2"]).epochs == 2  # given settings win


def test_the_classifier_refuses_noise(tmp_path):
    line = one_line_error(run_train("--arch", "classifier", "--noise", "blind", "--out", str(tmp_path / "x")))
    assert "trained on the clean digits only" in line


def test_the_classifier_is_fed_the_clean_training_digits_only(tiny_mnist, tmp_path, monkeypatch):
    """Every training input is one of the training digits, unchanged, and one epoch shows each digit once."""
    seen: list[torch.Tensor] = []

    class Watched(Classifier):
        def forward(self, x):
            if self.training:
                seen.append(x.detach().clone())
            return super().forward(x)

    monkeypatch.setitem(ARCHITECTURES, "classifier", Watched)
    train(
        default_config(
            arch="classifier",
            data_dir=str(tiny_mnist),
            out=str(tmp_path / "run"),
            epochs=2,
            batch_size=100,
            device="cpu",
        )
    )
    # the digits the fixture wrote, made again here (512 of them): pixel v of 0..255 is the float v / 255
    digits, _ = synthetic_digits(512, TRAIN_SEED)
    expected = sorted(bytes(d.flatten().tolist()) for d in digits)
    assert len(seen) == 2 * 6  # 512 = 5 x 100 + 12, two epochs
    for epoch in (seen[:6], seen[6:]):
        inputs = torch.cat(epoch)
        assert inputs.shape == (512, 1, 28, 28)
        as_bytes = (inputs * 255).round()
        assert torch.equal(inputs, as_bytes / 255), "every pixel is a clean one, v / 255"
        assert sorted(bytes(x.flatten().to(torch.uint8).tolist()) for x in as_bytes) == expected


def squares(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits easy to tell apart: class k is a bright 6 x 6 square at the k-th place of a 3 x 4 grid, jittered
    by a pixel."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    jitter = torch.randint(-1, 2, (n, 2), generator=g)
    for i, (k, (dy, dx)) in enumerate(zip(labels.tolist(), jitter.tolist())):
        top, left = 2 + 9 * (k // 4) + dy, 2 + 6 * (k % 4) + dx
        images[i, top : top + 6, left : left + 6] = 255
    return images, labels


def test_a_short_training_learns_to_classify(tmp_path):
    data = write_mnist_split_files(tmp_path / "data", squares(512, 1), squares(200, 2))
    out = tmp_path / "run"
    m = train(
        default_config(
            arch="classifier", data_dir=str(data), out=str(out), epochs=3, batch_size=16, device="cpu"
        )
    )
    # before training about 1 in 10; ten well separated squares are learnt in a few dozen steps
    assert m["test_accuracy"] >= 0.95 and m["test_accuracy"] == m["epoch_test_accuracy"][-1]
    assert m["test_loss"][-1] < m["test_loss"][0]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_accuracy"] == m["test_accuracy"] and saved["scored_test_images"] == 200
    model, config = load_model(out)
    assert config["metrics"]["test_accuracy"] == m["test_accuracy"]
    images, labels = squares(200, 2)
    predicted = model(images.unsqueeze(1).float() / 255).argmax(1)
    assert (predicted == labels).float().mean().item() == pytest.approx(m["test_accuracy"])
    for name in ("model.safetensors", "config.json", "metrics.json", "loss.png"):
        assert (out / name).stat().st_size > 0, name


def test_a_classifier_run_resumes_exactly(tmp_path, monkeypatch):
    """Stopped in its second epoch and resumed: the same losses as the run that was never stopped."""
    data = write_mnist_split_files(tmp_path / "data", squares(256, 1), squares(64, 2))
    common = dict(arch="classifier", data_dir=str(data), batch_size=32, epochs=2, device="cpu")
    full = train(default_config(out=str(tmp_path / "full"), **common))
    real_step, calls = dae.training.loop.classifier_step, []

    def stopping(*args):
        calls.append(1)
        if len(calls) > 8 + 3:  # 256 / 32 = 8 steps an epoch: three steps into the second
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(dae.training.loop, "classifier_step", stopping)
    with pytest.raises(KeyboardInterrupt):
        train(default_config(out=str(tmp_path / "split"), **common))
    monkeypatch.setattr(dae.training.loop, "classifier_step", real_step)
    resumed = train(replace(default_config(out=str(tmp_path / "split"), **common), resume=True))
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-6)
    assert resumed["epoch_test_accuracy"] == full["epoch_test_accuracy"]
