"""How it learned: the training run's loss curve, and this noisy digit through the weights kept on the way.

The snapshots (untrained, after 300 steps, after epoch 1) are written by `train.py --snapshots`;
the curve is metrics.json's. Both are read beside the served checkpoint.
"""

from __future__ import annotations

import html
import math

import torch

from dae import metrics

from ..captions import guess_of
from .figures import SECOND, SERIES, digit_figure, polyline

SNAPSHOT_TITLES = {"untrained": "untrained", "step_300": "after 300 steps", "epoch_1": "after epoch 1"}


def loss_chart(
    train: list[tuple[float, float]],
    test: list[tuple[float, float]],
    x_total: float,
    x_ticks: list[tuple[float, str]],
    x_title: str,
    marks: list[tuple[float, str]] = (),
    train_legend: str = "training loss",
    test_legend: str = "test loss (noisy test digits)",
) -> str:
    """A loss chart, log scale: the training loss as a line, the test loss as dots joined, against x (steps or
    digits seen); a dashed line at each mark.

    The marks' labels stand in a band above the plot, one row each, so no line crosses a label; the
    axis titles stand outside the plot, and the rows are tall enough for the phone's larger text.
    """
    w, h, left, right, bottom, row = 560, 300, 64, 12, 50, 20
    top = 8 + row * len(marks) if marks else 12  # the plot starts under the labels' band
    values = [v for _, v in train + test if v > 0] or [1.0]
    lo, hi = math.log10(min(values)), math.log10(max(values))
    lo, hi = math.floor(lo * 2) / 2, max(math.ceil(hi * 2) / 2, math.floor(lo * 2) / 2 + 0.5)

    def x_of(x: float) -> float:
        return left + (w - left - right) * x / max(x_total, 1e-9)

    def y_of(v: float) -> float:
        return top + (h - top - bottom) * (hi - math.log10(max(v, 1e-12))) / (hi - lo)

    parts = [
        f'<svg viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="Training and test loss against {html.escape(x_title)}" '
        'class="dae-curve-svg">'
    ]
    e = lo
    while e <= hi + 1e-9:  # a grid line every half decade, a label at each whole one
        y = y_of(10**e)
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        if abs(e - round(e)) < 1e-9:
            parts.append(f'<text x="{left - 6}" y="{y:.1f}" dy="0.35em" text-anchor="end">{10**e:g}</text>')
        e += 0.5
    for i, (x, text) in enumerate(x_ticks):
        anchor = (
            "start" if i == 0 else "middle"
        )  # the first tick starts at the corner: clear of the loss labels
        parts.append(
            f'<text x="{x_of(x):.1f}" y="{h - bottom + 6}" dy="1em" text-anchor="{anchor}">{text}</text>'
        )
    parts.append(
        f'<text x="{(left + w - right) / 2:.0f}" y="{h - 4}" '
        f'text-anchor="middle">{html.escape(x_title)}</text>'
        f'<text transform="translate(14 {(top + h - bottom) / 2:.0f}) rotate(-90)" text-anchor="middle">'
        "loss (MSE, log scale)</text>"
    )
    for i, (x, name) in enumerate(marks):
        anchor = (
            "end" if x_of(x) > w / 2 else "start"
        )  # the label in its own row of the band, from its line's x
        parts.append(
            f'<line x1="{x_of(x):.1f}" x2="{x_of(x):.1f}" y1="{top}" y2="{h - bottom}" class="marker"/>'
            f'<text x="{x_of(x):.1f}" y="{8 + row * i}" dy="0.7em" text-anchor="{anchor}" '
            f'class="dae-mark-label">{html.escape(name)}</text>'
        )
    if train:
        parts.append(polyline([(x_of(x), y_of(v)) for x, v in train], SERIES["dae"][1], 'stroke-width="1.5"'))
    if test:
        parts.append(polyline([(x_of(x), y_of(v)) for x, v in test], SECOND, 'stroke-width="2"'))
        parts += [f'<circle cx="{x_of(x):.1f}" cy="{y_of(v):.1f}" r="3" fill="{SECOND}"/>' for x, v in test]
    parts.append("</svg>")
    legend = (
        f'<span><i style="background:{SERIES["dae"][1]}"></i>{html.escape(train_legend)}</span>'
        f'<span><i style="background:{SECOND}"></i>{html.escape(test_legend)}</span>'
    )
    return "".join(parts) + f'<div class="dae-legend-row">{legend}</div>'


def learning_svg(training: dict, marks: list[tuple[int, str]], steps_per_epoch: int) -> str:
    """The committed run's loss: training loss (mean of every block of steps) and test loss after each epoch,
    against the step; a dashed line at each step whose weights the view shows."""
    every = training["train_loss_curve_every"]
    epochs = len(training["test_loss"])
    train = [((i + 0.5) * every, v) for i, v in enumerate(training["train_loss_curve"])]
    test = [((i + 1) * steps_per_epoch, v) for i, v in enumerate(training["test_loss"])]
    ticks = [(e * steps_per_epoch, str(e)) for e in range(0, epochs + 1, max(1, epochs // 5))]
    return loss_chart(
        train,
        test,
        epochs * steps_per_epoch,
        ticks,
        "epoch",
        marks,
        f"training loss (mean of every {every} steps)",
        "test loss after each epoch (noisy test digits)",
    )


def live_loss_svg(train: list[tuple[int, float]], test: list[tuple[int, float]], digits: int) -> str:
    """A live run's loss so far (the Train tab), against the training digits seen."""
    ticks = [(digits * f, f"{digits * f / 1000:g}k") for f in (0, 0.25, 0.5, 0.75, 1)]
    return loss_chart(
        train,
        test,
        digits,
        ticks,
        "training digits seen",
        train_legend="training loss (mean of every 10 steps)",
        test_legend="test loss on 1,000 noisy test digits",
    )


@torch.inference_mode()
def learning_view(served, r, noisy: torch.Tensor) -> str:
    """The loss curve of the run, and this noisy digit reconstructed by the weights at each snapshot and at
    the end (the reconstruction already on screen); a guess other than the classifier's reading of the input
    is marked as on the results."""
    training = served.training
    final = f"after epoch {training['epochs']} (served)"
    stages = [(SNAPSHOT_TITLES.get(info["name"], info["name"]), info["step"]) for info, _ in served.snapshots]
    steps_per_epoch = math.ceil(training["train_images"] / training.get("batch_size", 64))
    stages.append((final, training["epochs"] * steps_per_epoch))
    on_screen = torch.from_numpy(r.outputs["dae"]).view(1, 1, 28, 28)  # the final weights' reconstruction
    outputs = torch.cat(
        [model(noisy) for _, model in served.snapshots] + [on_screen]
    )  # (snapshots + 1, 1, 28, 28)
    p = served.denoiser.probabilities(outputs)
    psnr = metrics.psnr(outputs, torch.from_numpy(r.clean).view(1, 1, 28, 28).expand_as(outputs))
    input_label = r.guesses["input"][0] if "input" in r.guesses else None
    figures = []
    for i, (title, step) in enumerate(stages):
        label = None if p is None else int(p[i].argmax())
        figures.append(
            digit_figure(
                title,
                outputs[i, 0].numpy(),
                f"The noisy digit reconstructed {title}",
                "" if p is None else guess_of(label, float(p[i].max())),
                wrong=input_label is not None and label is not None and label != input_label,
                extra=f'<div class="dae-scale">step {step:,} · {float(psnr[i]):.1f} dB</div>',
            )
        )
    marks = [(step, title.replace("after ", "").replace(" (served)", "")) for title, step in stages]
    return (
        learning_svg(training, marks, steps_per_epoch) + f'<div class="dae-row">{"".join(figures)}</div>'
        '<p class="dae-note">The same noisy digit through the weights the run kept at these steps, with '
        "each one's PSNR against the clean digit and the classifier's reading. Most of the loss is gone "
        "within the first epoch; the epochs after it buy the last decibels.</p>"
    )
