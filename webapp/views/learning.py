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
from .figures import SERIES, digit_figure, polyline

SNAPSHOT_TITLES = {"untrained": "untrained", "step_300": "after 300 steps", "epoch_1": "after epoch 1"}


def learning_svg(training: dict, marks: list[tuple[int, str]], steps_per_epoch: int) -> str:
    """The committed run's loss: training loss (mean of every block of steps) and test loss after each epoch,
    log scale, against the step; a dashed line at each step whose weights the view shows."""
    every = training["train_loss_curve_every"]
    train = training["train_loss_curve"]
    test = training["test_loss"]
    total = len(test) * steps_per_epoch
    w, h, left, right, top, bottom = 560, 220, 48, 12, 14, 46
    values = [v for v in train + test if v > 0]
    lo, hi = math.log10(min(values)), math.log10(max(values))
    lo, hi = math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2

    def x_of(step: float) -> float:
        return left + (w - left - right) * step / total

    def y_of(v: float) -> float:
        return top + (h - top - bottom) * (hi - math.log10(v)) / (hi - lo)

    parts = [
        f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="Training and test loss against training step" class="dae-curve-svg">'
    ]
    e = lo
    while e <= hi + 1e-9:  # a grid line every half decade, a label at each whole one
        y = y_of(10**e)
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        if abs(e - round(e)) < 1e-9:
            parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{10**e:g}</text>')
        e += 0.5
    for epoch in range(0, len(test) + 1, max(1, len(test) // 5)):
        parts.append(
            f'<text x="{x_of(epoch * steps_per_epoch):.1f}" y="{h - 22}" text-anchor="middle">{epoch}</text>'
        )
    parts.append(
        f'<text x="{(left + w - right) / 2:.0f}" y="{h - 3}" text-anchor="middle">epoch</text>'
        f'<text x="{left + 4}" y="{h - bottom - 4}" class="dae-mark-label">loss (MSE, log scale)</text>'
    )
    for i, (step, name) in enumerate(
        marks
    ):  # labels one under another (in ems: the phone's are larger), the early marks stand close
        x = x_of(step)
        anchor, dx = ("end", -3) if x > w / 2 else ("start", 3)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{h - bottom}" class="marker"/>'
            f'<text x="{x + dx:.1f}" y="{top}" dy="{0.9 + 1.15 * i:.2f}em" text-anchor="{anchor}" class="dae-mark-label">'
            f"{html.escape(name)}</text>"
        )
    parts.append(
        polyline(
            [(x_of((i + 0.5) * every), y_of(v)) for i, v in enumerate(train)],
            SERIES["dae"][1],
            'stroke-width="1.5"',
        )
    )
    parts.append(
        polyline(
            [(x_of((i + 1) * steps_per_epoch), y_of(v)) for i, v in enumerate(test)],
            SERIES["unet"][1],
            'stroke-width="2"',
        )
    )
    parts += [
        f'<circle cx="{x_of((i + 1) * steps_per_epoch):.1f}" cy="{y_of(v):.1f}" r="3" fill="{SERIES["unet"][1]}"/>'
        for i, v in enumerate(test)
    ]
    parts.append("</svg>")
    legend = (
        f'<span><i style="background:{SERIES["dae"][1]}"></i>training loss (mean of every {every} steps)</span>'
        f'<span><i style="background:{SERIES["unet"][1]}"></i>test loss after each epoch (noisy test digits)</span>'
    )
    return "".join(parts) + f'<div class="dae-legend-row">{legend}</div>'


@torch.inference_mode()
def learning_view(served, r, noisy: torch.Tensor) -> str:
    """The loss curve of the run, and this noisy digit reconstructed by the weights at each snapshot and at the end
    (the reconstruction already on screen); a guess other than the classifier's reading of the input is marked as on the results."""
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
        '<p class="dae-note">The same noisy digit through the weights the run kept at these steps, with each one\'s PSNR '
        "against the clean digit and the classifier's reading. Most of the loss is gone within the first epoch; "
        "the epochs after it buy the last decibels.</p>"
    )
