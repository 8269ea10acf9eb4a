"""The training step, the learning-rate schedule and the post-training evaluation (CPU).

CUDA-only checks (no host synchronisation, the CUDA graph) are in test_cuda.py and skip without a GPU.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dae.config import TrainConfig
from dae.data import load_mnist, shuffled_batches, to_float
from dae.evaluate import evaluate, wins_table
from dae.model import DAE
from dae.noise import blind_noise
from dae.trainer import lr_at, make_optimizer, make_step, train, train_step


def test_cosine_schedule_by_hand():
    c = TrainConfig(lr=2e-3, lr_schedule="cosine")
    assert lr_at(0, 100, c) == pytest.approx(2e-3)
    assert lr_at(50, 100, c) == pytest.approx(1e-3)  # cos(π/2) = 0: half way, half the rate
    assert lr_at(100, 100, c) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(25, 100, c) == pytest.approx(2e-3 * (1 + math.sqrt(0.5)) / 2)
    assert lr_at(77, 100, TrainConfig(lr=2e-3)) == 2e-3  # the specification's constant rate


def test_make_step_is_the_textbook_step(tiny_mnist):
    """The trainer's step over index batches equals a hand-written loop: shuffle, gather, noise, MSE, Adam."""
    images = load_mnist(tiny_mnist, train=True)[0][:200]
    config = TrainConfig(batch_size=64)

    def fresh():
        torch.manual_seed(3)
        model = DAE()
        return model, make_optimizer(model, config), torch.Generator().manual_seed(5)

    model_a, opt_a, gen_a = fresh()
    step = make_step(model_a, opt_a, images, config, gen_a, graphed=False)
    losses_a = [step(index).item() for index in shuffled_batches(len(images), 64, gen_a)]

    model_b, opt_b, gen_b = fresh()
    losses_b = []
    order = torch.randperm(len(images), generator=gen_b)
    for start in range(0, len(images), 64):  # 64 + 64 + 64 + 8: the last batch is the rest
        clean = images[order[start : start + 64]].unsqueeze(1).float() / 255
        noisy = blind_noise(clean, gen_b)
        loss = F.mse_loss(model_b(noisy), clean)
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
        losses_b.append(loss.item())
    assert len(losses_a) == 4
    assert losses_a == pytest.approx(losses_b, rel=1e-6)
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.allclose(a, b, atol=1e-7)


def test_cosine_run_resumes_exactly(tiny_mnist, tmp_path):
    common = dict(data_dir=str(tiny_mnist), batch_size=32, limit=128, lr_schedule="cosine", epochs=3)
    full = train(TrainConfig(out=str(tmp_path / "full"), **common))
    first = TrainConfig(out=str(tmp_path / "split"), **common)
    train_step_calls = []
    original = train_step

    # Interrupt the 3-epoch schedule in epoch 2 (epoch 1 is saved), then resume it.
    import dae.trainer as trainer

    def counting(*args, **kwargs):
        train_step_calls.append(1)
        if len(train_step_calls) > 4:  # 128 / 32 = 4 steps: the first epoch only
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    trainer.train_step = counting
    try:
        with pytest.raises(KeyboardInterrupt):
            train(first)
    finally:
        trainer.train_step = original
    resumed = train(TrainConfig(out=str(tmp_path / "split"), resume=True, **common))
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
    assert full["test_loss"][0] > full["test_loss"][-1]


def test_cosine_ends_with_a_tiny_step(tiny_mnist):
    """At the schedule's end the rate is near 0: the weights barely move in the last steps."""
    images = load_mnist(tiny_mnist, train=True)[0][:64]
    config = TrainConfig(batch_size=64, lr_schedule="cosine", lr=1e-2)
    torch.manual_seed(0)
    model = DAE()
    optimizer = make_optimizer(model, config)
    from dae.trainer import set_lr

    before = [p.detach().clone() for p in model.parameters()]
    set_lr(optimizer, lr_at(999, 1000, config))  # 1e-2 * (1 + cos(0.999 π)) / 2 ≈ 2.5e-8
    make_step(model, optimizer, images, config, torch.Generator().manual_seed(0), graphed=False)(torch.arange(64))
    moved = max((p - b).abs().max().item() for p, b in zip(model.parameters(), before))
    assert moved < 1e-6  # Adam moves each weight by about lr: 2.5e-8, far below the 1e-2 of the first step


class Constant(nn.Module):
    """A 'denoiser' that always answers zeros: worse than the noisy input on any digit with ink."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.zeros_like(x)


class Identity(Constant):
    def forward(self, x):
        return x


def test_wins_are_counted_digit_by_digit(tiny_mnist):
    clean = to_float(load_mnist(tiny_mnist, train=False)[0][:20])
    levels = {"gaussian": (0.1,)}
    # σ = 0.1 keeps every digit near 20 dB, while all-zero output is the digit's own energy: ~7-10 dB.
    row = evaluate({"zeros": Constant(), "identity": Identity()}, clean, levels, baselines=False)[0]
    assert row["wins"]["identity vs zeros"]["share"] == 1.0 and row["wins"]["identity vs zeros"]["mean_gain_db"] > 5
    row = evaluate({"identity": Identity(), "zeros": Constant()}, clean, levels, baselines=False)[0]
    assert row["wins"]["zeros vs identity"]["share"] == 0.0
    assert "| gaussian | 0.1 | 0.0% | " in wins_table([row])


def test_a_single_model_has_no_wins(tiny_mnist):
    clean = to_float(load_mnist(tiny_mnist, train=False)[0][:4])
    assert "wins" not in evaluate({"dae": DAE().eval()}, clean, {"mask": (0.5,)}, baselines=False)[0]
