"""The specification's recipe, pinned where train() really uses it: the optimizer it builds, the
learning rate of every step, the strengths blind noise draws, the noisy inputs of the test loss,
and the fixed noise of --noise/--sigma/--p as the noise really trained on.

Every expected value here comes from the specification (Adam, lr 1e-3, betas (0.9, 0.999),
weight decay 1e-5, batch 64; σ ∈ [0, 1], p ∈ [0, 0.9], a ∈ [0, 0.5]) or from arithmetic done in
the test, never from the code under test.
"""

import math
from pathlib import Path

import pytest
import torch

import dae.training.loop
import train as train_py
from dae.architectures import ARCHITECTURES
from dae.model import DAE
from dae.noise import blind_noise
from dae.training.config import TrainConfig
from dae.training.loop import train
from tools.synthetic import write_mnist_split_files


def plain_mnist(root: Path, pixel: int) -> Path:
    """Every image one flat grey level: the noise is then all there is to see in a batch."""
    images, labels = torch.full((64, 28, 28), pixel, dtype=torch.uint8), torch.zeros(64, dtype=torch.long)
    return write_mnist_split_files(root, (images, labels), (images[:16], labels[:16]))


def black_with_gaussian(x: torch.Tensor) -> None:
    # clamp(0 + 0.3·N(0, 1), 0, 1): half the pixels clip to 0;
    # the rest are |0.3·N|, of mean 0.3·√(2/π) = 0.239
    zero = (x == 0).flatten(1).float().mean(1)
    assert zero.min() > 0.42 and zero.max() < 0.58, zero
    assert x[x > 0].mean().item() == pytest.approx(0.3 * (2 / torch.pi) ** 0.5, abs=0.01)


def white_with_mask(x: torch.Tensor) -> None:
    # each pixel of a white image dropped to 0 with probability 0.3, the rest untouched
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    zero = (x == 0).flatten(1).float().mean(1)
    assert zero.min() > 0.23 and zero.max() < 0.37, zero


def test_train_builds_the_specifications_optimizer(tiny_mnist, tmp_path, monkeypatch):
    made = []
    real_make_optimizer = dae.training.loop.make_optimizer

    def recording(model, config):
        optimizer = real_make_optimizer(model, config)
        made.append((model, optimizer))
        return optimizer

    batch_sizes = []

    class Watched(DAE):
        def forward(self, x):
            if self.training:
                batch_sizes.append(len(x))
            return super().forward(x)

    monkeypatch.setattr(dae.training.loop, "make_optimizer", recording)
    monkeypatch.setitem(ARCHITECTURES, "dae", Watched)
    # the command's defaults: only the data, the folder and the length of the run are given
    train(
        train_py.parse_args(
            [
                "--data-dir",
                str(tiny_mnist),
                "--out",
                str(tmp_path / "run"),
                "--limit",
                "200",
                "--epochs",
                "1",
                "--device",
                "cpu",
            ]
        )
    )
    ((model, optimizer),) = made
    assert type(optimizer) is torch.optim.Adam
    ((group),) = optimizer.param_groups
    assert group["lr"] == 1e-3
    assert tuple(group["betas"]) == (0.9, 0.999)
    assert group["weight_decay"] == 1e-5
    assert not group.get("decoupled_weight_decay", False), "Adam's L2 weight decay, not AdamW's"
    assert group["eps"] == 1e-8 and not group["amsgrad"] and not group["maximize"]
    assert {id(p) for p in group["params"]} == {id(p) for p in model.parameters()}
    assert batch_sizes == [64, 64, 64, 8]  # batch 64; 200 images leave a last batch of 8


def lr_of_every_step(config: TrainConfig, monkeypatch) -> list[float]:
    """The learning rate in the optimizer at each call of the training step, as train() runs it."""
    seen = []
    real_step = dae.training.loop.train_step

    def recording(model, optimizer, clean, config, generator):
        seen.append(optimizer.param_groups[0]["lr"])
        return real_step(model, optimizer, clean, config, generator)

    monkeypatch.setattr(dae.training.loop, "train_step", recording)
    train(config)
    return seen


def test_the_cosine_learning_rate_of_every_step(tiny_mnist, tmp_path, monkeypatch):
    # 64 images in batches of 16: 4 steps an epoch, 12 in all; step k (from 0) runs at lr (1 + cos(πk/12)) / 2
    config = TrainConfig(
        data_dir=str(tiny_mnist),
        out=str(tmp_path / "run"),
        limit=64,
        batch_size=16,
        epochs=3,
        lr=2e-3,
        lr_schedule="cosine",
        device="cpu",
    )
    expected = [2e-3 * (1 + math.cos(math.pi * k / 12)) / 2 for k in range(12)]
    assert expected[0] == 2e-3 and expected[6] == pytest.approx(1e-3)  # from the top, half way at the middle
    assert lr_of_every_step(config, monkeypatch) == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_the_learning_rate_is_constant_by_default(tiny_mnist, tmp_path, monkeypatch):
    config = train_py.parse_args(
        [
            "--data-dir",
            str(tiny_mnist),
            "--out",
            str(tmp_path / "run"),
            "--limit",
            "128",
            "--epochs",
            "2",
            "--device",
            "cpu",
        ]
    )
    assert lr_of_every_step(config, monkeypatch) == [1e-3] * 4  # 128 images, batch 64: 2 steps an epoch


def test_blind_noise_draws_every_kind_over_its_whole_range():
    """Each kind's strength, read back from what it did to a flat grey image, is uniform over the slider's
    range."""
    grey = torch.full((6000, 1, 28, 28), 0.5)
    noisy = blind_noise(grey, 0).flatten(1)
    zeros, ones = (noisy == 0).float().mean(1), (noisy == 1).float().mean(1)
    gaussian = ((noisy != 0) & (noisy != 1) & (noisy != 0.5)).any(1)  # only Gaussian noise makes other values
    salt_pepper = ~gaussian & (ones > 0)
    mask = ~gaussian & ~salt_pepper & (zeros > 0)
    # σ from the lower quartile of |noisy - 0.5|: clipping to [0, 1] only changes values beyond 0.5 away, and
    # the quartile of |N(0, σ²)| is 0.31864 σ (below 0.5 for every σ ≤ 1)
    sigma = (noisy[gaussian] - 0.5).abs().quantile(0.25, dim=1) / 0.31864
    p = zeros[mask]  # the share of pixels dropped to 0
    amount = (zeros + ones)[salt_pepper]  # the share set to 0 or 1
    for name, strength, top in [
        ("gaussian σ", sigma, 1.0),
        ("mask p", p, 0.9),
        ("salt and pepper a", amount, 0.5),
    ]:
        assert 1700 < len(strength) < 2300, name  # a third of the 6,000 images each
        for q in (0.1, 0.25, 0.5, 0.75, 0.9):  # uniform on [0, top]: a share q lies below q·top
            assert (strength <= q * top).float().mean().item() == pytest.approx(q, abs=0.04), (name, q)
        assert strength.max() > 0.97 * top and strength.min() < 0.03 * top, name


def test_the_test_loss_is_measured_on_noisy_inputs_against_the_clean_digits(tmp_path, monkeypatch):
    """What the model sees while held_out_loss runs is the noisy test set; the loss is its output against the
    clean digits."""
    inside, seen = [], []

    class Watched(DAE):
        def forward(self, x):
            out = super().forward(x)
            if inside:
                seen.append((x.detach().clone(), out.detach().clone()))
            return out

    real_held_out_loss = dae.training.loop.held_out_loss

    def spying(*args, **kwargs):
        inside.append(True)
        try:
            return real_held_out_loss(*args, **kwargs)
        finally:
            inside.clear()

    monkeypatch.setitem(ARCHITECTURES, "dae", Watched)
    monkeypatch.setattr(dae.training.loop, "held_out_loss", spying)
    data = plain_mnist(tmp_path / "data", 255)  # every digit all white: 64 to train on, 16 to test
    metrics = train(
        train_py.parse_args(
            [
                "--data-dir",
                str(data),
                "--out",
                str(tmp_path / "run"),
                "--epochs",
                "2",
                "--batch-size",
                "16",
                "--device",
                "cpu",
                "--noise",
                "mask",
                "--p",
                "0.3",
            ]
        )
    )
    assert len(seen) == 2  # the 16 test digits in one batch, after each epoch
    for (inputs, outputs), test_loss in zip(seen, metrics["test_loss"]):
        assert inputs.shape == (16, 1, 28, 28)
        white_with_mask(
            inputs
        )  # 30 % of each white digit's pixels dropped: the noisy test set, not the clean one
        assert test_loss == pytest.approx(
            ((outputs - 1.0) ** 2).mean().item(), rel=1e-5
        )  # the clean digits are all 1
    assert torch.equal(seen[0][0], seen[1][0]), "the noisy test set is drawn once"


# ---- the noise the model really trains on ------------------------------------------------------


@pytest.mark.parametrize(
    "pixel, flags, check",
    [
        (0, ["--noise", "gaussian", "--sigma", "0.3"], black_with_gaussian),
        (255, ["--noise", "mask", "--p", "0.3"], white_with_mask),
    ],
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
    # on the CPU the step runs eagerly, one forward call per batch
    # (a CUDA graph would replay without calling it)
    config = train_py.parse_args(
        [
            "--data-dir",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--device",
            "cpu",
            *flags,
        ]
    )
    train(config)
    assert len(seen) == 4  # 64 images, batches of 16
    for batch in seen:
        check(batch)
