"""The figures a training run leaves beside its checkpoint (loss.png, samples.png) and the evaluation's
accuracy figure.

Plots only draw what they are given; the reconstructions come from `dae.evaluate.sample_panels`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from .files import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def loss_plot(
    path: Path,
    train_loss: list[float],
    test_loss: list[float],
    steps_per_epoch: int,
    title: str,
    ylabel: str = "MSE loss",
) -> None:
    """Training loss against iterations, with the test loss after each epoch (as 'Loss vs Iters')."""
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = torch.arange(1, len(train_loss) + 1).numpy()
    ax.plot(steps, train_loss, lw=0.6, alpha=0.35, color="tab:blue", label="training batch loss")
    window = max(1, steps_per_epoch // 10)
    if len(train_loss) >= window:
        smooth = torch.tensor(train_loss).unfold(0, window, 1).mean(1).numpy()
        ax.plot(
            steps[window - 1 :], smooth, lw=1.5, color="tab:blue", label=f"training loss ({window}-step mean)"
        )
    epochs_end = [steps_per_epoch * (i + 1) for i in range(len(test_loss))]
    ax.plot(epochs_end, test_loss, "o-", color="tab:orange", label="test loss (end of epoch)")
    ax.set(xlabel="iteration", ylabel=ylabel, title=title, yscale="log")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    _save(fig, path)


def image_rows(rows: list[Tensor], padding: int = 2, pad_value: float = 0.5) -> Tensor:
    """Rows of (k, 1, h, w) images as one (H, W) picture, each image framed by `padding` grey pixels.

    What torchvision's make_grid does with nrow=k, drawn here so that writing a figure does not
    import torchvision (seconds of a short CPU run).
    """
    k, _, h, w = rows[0].shape
    grid = torch.full((len(rows) * (h + padding) + padding, k * (w + padding) + padding), pad_value)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            top, left = padding + r * (h + padding), padding + c * (w + padding)
            grid[top : top + h, left : left + w] = image[0]
    return grid


def samples_plot(
    path: Path, panels: list[tuple[str, dict[str, Tensor]]], title: str, columns: int = 2
) -> None:
    """A grid of panels, each with labelled rows of digits (e.g. clean / noisy / each model's output).

    `panels` is a list of (panel title, {row label: (k, 1, 28, 28) images in [0, 1]}), filled
    column by column.
    """
    rows_per_column = -(-len(panels) // columns)
    labels = list(panels[0][1])
    fig, axes = plt.subplots(
        rows_per_column, columns, figsize=(5.2 * columns, 0.75 * len(labels) * rows_per_column), squeeze=False
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for i, (panel_title, rows) in enumerate(panels):
        grid = image_rows([images.cpu() for images in rows.values()])
        ax = axes[i % rows_per_column, i // rows_per_column]
        ax.set_axis_on()
        ax.imshow(grid.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(panel_title, fontsize=10)
        ax.set_yticks([16 + 30 * j for j in range(len(rows))], list(rows), fontsize=8)
        ax.set_xticks([])
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def accuracy_plot(
    path: Path, rows: list[dict], labels: dict[str, str], clean: dict[str, float] | None, title: str
) -> None:
    """The classifier's accuracy against the noise strength, one panel per noise kind, one line per column.

    `rows` are dae.evaluate's rows (with "accuracy"); `labels` names the columns to draw, in order;
    `clean` (optional) adds the accuracy on the clean digits as a dashed line in every panel.
    """
    kinds = list(dict.fromkeys(r["noise"] for r in rows))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.6 * len(kinds), 4), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        kind_rows = [r for r in rows if r["noise"] == kind]
        levels = [r["level"] for r in kind_rows]
        for column, label in labels.items():
            ax.plot(
                levels,
                [100 * r["accuracy"][column] for r in kind_rows],
                "o-",
                ms=3,
                lw=1.5 if column != "noisy" else 1.0,
                color="0.45" if column == "noisy" else None,
                label=label,
            )
        if clean is not None:
            ax.axhline(100 * clean["clean"], color="0.2", ls="--", lw=0.8, label="clean digits")
        # salt_pepper: salt and pepper
        ax.set(title=kind.replace("_", " and "), xlabel="strength", ylim=(0, 100.5))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("classifier accuracy (%)")
    axes[0, -1].legend(fontsize=8, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
