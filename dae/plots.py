"""The figures a training run leaves beside its checkpoint: loss.png and samples.png."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from .evaluate import level_seed, reconstruct  # noqa: E402
from .files import atomic_path  # noqa: E402
from .noise import NOISE_KINDS, add_noise  # noqa: E402

SAMPLE_SETTINGS = (("gaussian", (0.3, 0.5, 0.8)), ("mask", (0.3, 0.5, 0.8)))


def _save(fig: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def loss_plot(path: Path, train_loss: list[float], test_loss: list[float], steps_per_epoch: int, title: str) -> None:
    """Training loss against iterations, with the test loss after each epoch (as 'Loss vs Iters')."""
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = torch.arange(1, len(train_loss) + 1)
    ax.plot(steps, train_loss, lw=0.6, alpha=0.35, color="tab:blue", label="training batch loss")
    window = max(1, steps_per_epoch // 10)
    if len(train_loss) >= window:
        smooth = torch.tensor(train_loss).unfold(0, window, 1).mean(1)
        ax.plot(steps[window - 1 :], smooth, lw=1.5, color="tab:blue", label=f"training loss ({window}-step mean)")
    epochs_end = [steps_per_epoch * (i + 1) for i in range(len(test_loss))]
    ax.plot(epochs_end, test_loss, "o-", color="tab:orange", label="test loss (end of epoch)")
    ax.set(xlabel="iteration", ylabel="MSE loss", title=title, yscale="log")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    _save(fig, path)


def samples_plot(path: Path, models: dict[str, nn.Module], clean: Tensor, title: str) -> None:
    """Rows of clean / noisy / each model's reconstruction, for gaussian and mask noise at several strengths."""
    n_kinds, n_levels = len(SAMPLE_SETTINGS), len(SAMPLE_SETTINGS[0][1])
    rows = ["clean", "noisy", *models]
    fig, axes = plt.subplots(n_levels, n_kinds, figsize=(5.2 * n_kinds, 0.75 * len(rows) * n_levels), squeeze=False)
    for col, (kind, levels) in enumerate(SAMPLE_SETTINGS):
        for row, level in enumerate(levels):
            noisy = add_noise(clean, kind, level, level_seed(kind, level))
            outputs = [reconstruct(model, noisy) for model in models.values()]
            grid = make_grid(torch.cat([clean, noisy, *outputs]), nrow=len(clean), padding=2, pad_value=0.5)
            ax = axes[row, col]
            ax.imshow(grid[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"{NOISE_KINDS[kind].label}, {'σ' if kind == 'gaussian' else 'p'} = {level}", fontsize=10)
            ax.set_yticks([16 + 30 * i for i in range(len(rows))], rows, fontsize=8)
            ax.set_xticks([])
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
