"""The training loop (dae.training.loop): the step, the learning rate of each step, the epochs, a diverged
run.

CUDA-only checks (no host synchronisation, the CUDA graph) are in test_cuda.py and skip without a GPU."""

import math

import pytest
import torch
import torch.nn.functional as F

import dae.training.loop
from dae.checkpoint import load_model
from dae.data import load_mnist, shuffled_batches
from dae.model import DAE
from dae.noise import blind_noise
from dae.training.config import TrainConfig, TrainingError
from dae.training.loop import (
    EpochDone,
    StepDone,
    epochs,
    lr_at,
    make_optimizer,
    make_step,
    open_run,
    set_lr,
    train,
)


def weights(folder) -> dict[str, torch.Tensor]:
    return load_model(folder)[0].state_dict()


def test_short_training_lowers_the_loss(tiny_mnist, tmp_path):
    m = train(TrainConfig(data_dir=str(tiny_mnist), out=str(tmp_path / "run"), epochs=4, batch_size=16))
    assert all(later < earlier for earlier, later in zip(m["test_loss"], m["test_loss"][1:]))
    assert m["test_loss"][-1] < 0.8 * m["test_loss"][0]
    assert m["epoch_train_loss"][-1] < m["epoch_train_loss"][0]


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


def test_cosine_ends_with_a_tiny_step(tiny_mnist):
    """At the schedule's end the rate is near 0: the weights barely move in the last steps."""
    images = load_mnist(tiny_mnist, train=True)[0][:64]
    config = TrainConfig(batch_size=64, lr_schedule="cosine", lr=1e-2)
    torch.manual_seed(0)
    model = DAE()
    optimizer = make_optimizer(model, config)
    before = [p.detach().clone() for p in model.parameters()]
    set_lr(optimizer, lr_at(999, 1000, config))  # 1e-2 * (1 + cos(0.999 π)) / 2 ≈ 2.5e-8
    make_step(model, optimizer, images, config, torch.Generator().manual_seed(0), graphed=False)(
        torch.arange(64)
    )
    moved = max((p - b).abs().max().item() for p, b in zip(model.parameters(), before))
    assert moved < 1e-6  # Adam moves each weight by about lr: 2.5e-8, far below the 1e-2 of the first step


def test_epochs_reports_its_steps_and_stops_when_closed(tiny_mnist, tmp_path):
    """64 images in batches of 16 are 4 steps an epoch; a look at the loss every 2 steps, then the epoch."""
    config = TrainConfig(
        data_dir=str(tiny_mnist), out=str(tmp_path / "run"), epochs=3, limit=64, batch_size=16, log_every=2
    )
    run = open_run(config)
    events = epochs(run)
    first_epoch = [next(events) for _ in range(3)]
    assert [type(e) for e in first_epoch] == [StepDone, StepDone, EpochDone]
    assert [(e.epoch, e.step, e.images_in_epoch) for e in first_epoch[:2]] == [(0, 2, 32), (0, 4, 64)]
    assert first_epoch[2].epoch == 1 and all(math.isfinite(e.loss) for e in first_epoch[:2])
    assert len(run.history["test_loss"]) == 1 and len(run.history["train_loss"]) == 4
    after = next(events)
    assert (type(after), after.epoch, after.step) == (StepDone, 1, 6)
    events.close()  # stops the run: no more steps, no more epochs
    with pytest.raises(StopIteration):
        next(events)
    assert len(run.history["test_loss"]) == 1


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_mnist, tmp_path, monkeypatch):
    out = tmp_path / "nan"
    train(TrainConfig(data_dir=str(tiny_mnist), out=str(out), epochs=1, limit=128))
    good = weights(out)
    monkeypatch.setattr(
        dae.training.loop, "corrupt", lambda clean, config, g: torch.full_like(clean, float("nan"))
    )
    with pytest.raises(
        TrainingError, match="the loss became nan at epoch 2.*last good checkpoint \\(epoch 1\\)"
    ):
        train(TrainConfig(data_dir=str(tiny_mnist), out=str(out), epochs=2, limit=128, resume=True))
    after = weights(out)
    assert all(torch.equal(good[k], after[k]) for k in good)
