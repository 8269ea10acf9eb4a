"""The teaching views of the Denoise tab, drawn on the server as inline SVG/HTML.

The page only shows what these return (dae.ui puts them in the same response as the results), so
what a view says and the numbers it plots come from one place, and the tests read them here.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from .activations import shape_text
from .inference import png_data_uri, png_rgb_data_uri
from .noise import NOISE_KINDS

SERIES = {  # name -> (legend, colour); colours tell the lines apart in both themes
    "noisy": ("noisy input", "#9ca3af"),
    "dae": ("DAE", "#2563eb"),
    "unet": ("U-Net", "#f97316"),
    "median3": ("median 3×3 filter", "#16a34a"),
}
W, H, LEFT, RIGHT, TOP, GAP, PANEL = 560, 350, 60, 12, 24, 36, 125  # room for the phone's larger labels (page.py)


@lru_cache(maxsize=4)
def test_set_means(evaluation_json: str | Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Mean PSNR over the test set per noise kind and column, as (level, dB) points, from evaluation.json ({} without it)."""
    try:
        rows = json.loads(Path(evaluation_json).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return {}
    means: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in rows:
        for column, scores in row["scores"].items():
            means.setdefault(row["noise"], {}).setdefault(column, []).append((float(row["level"]), float(scores["psnr"])))
    return means


def _polyline(points: list[tuple[float, float]], colour: str, extra: str = "") -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" stroke="{colour}" {extra}/>'


def curve_svg(curve: dict, kind: str, strength: float, reference: dict | None = None) -> str:
    """PSNR (top) and the classifier's probability of the input's label (bottom) against strength.

    `curve` is `Denoiser.curve(...)`; `reference` the test-set means (`test_set_means`) drawn faint
    and dashed; a vertical marker stands at the slider's `strength`.
    """
    top = NOISE_KINDS[kind].max_strength
    xs = curve["strengths"]

    def x_of(s: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * s / top

    psnr_max = 40.0
    y_psnr = lambda db: TOP + PANEL * (1 - min(max(db, 0.0), psnr_max) / psnr_max)  # noqa: E731
    y_prob = lambda p: TOP + PANEL + GAP + PANEL * (1 - p)  # noqa: E731
    parts = [f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="Quality against noise strength for this digit" class="dae-curve-svg">']
    for ticks, fmt, title in (((0, 10, 20, 30, 40), "{} dB", "PSNR"), ((0, 0.5, 1), "{:.0%}", None)):
        for t in ticks:
            y = y_psnr(t) if title else y_prob(t)
            parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                         f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{fmt.format(t)}</text>')
    label = curve.get("label")
    parts.append(f'<text x="{LEFT}" y="{TOP - 8}">PSNR vs the clean digit (higher is better)</text>')
    if label is not None:
        parts.append(f'<text x="{LEFT}" y="{TOP + PANEL + GAP - 8}">classifier: P(it is a {label})</text>')
    for s in (0, top / 2, top):
        anchor = "start" if s == 0 else "end" if s == top else "middle"
        parts.append(f'<text x="{x_of(s):.1f}" y="{H - 4}" text-anchor="{anchor}">{s:g}</text>')
    parts.append(f'<text x="{(LEFT + W - RIGHT) / 2 + (W - LEFT - RIGHT) / 4:.0f}" y="{H - 4}" text-anchor="middle">'
                 f'strength {html.escape(NOISE_KINDS[kind].strength_name.split()[0])} →</text>')
    for name, points in (reference or {}).get(kind, {}).items():
        if name in SERIES and name in curve["psnr"]:  # only the test-set means of the lines on screen
            parts.append(_polyline([(x_of(lv), y_psnr(db)) for lv, db in points], SERIES[name][1], 'stroke-dasharray="3 3" class="dae-reference"'))
    for name, (_, colour) in SERIES.items():
        if name in curve["psnr"]:
            parts.append(_polyline([(x_of(s), y_psnr(v)) for s, v in zip(xs, curve["psnr"][name])], colour, 'stroke-width="2"'))
        if name in curve.get("probability", {}):
            parts.append(_polyline([(x_of(s), y_prob(v)) for s, v in zip(xs, curve["probability"][name])], colour, 'stroke-width="2"'))
    x = x_of(min(max(strength, 0.0), top))
    parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + 2 * PANEL + GAP}" class="marker"/>')
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{html.escape(text)}</span>' for name, (text, colour) in SERIES.items() if name in curve["psnr"]
    )
    note = "Solid: this digit with this seed at 21 strengths. Dashed: the mean over the 10,000 test digits. The vertical line is the slider."
    return f'{"".join(parts)}<div class="dae-legend-row">{legend}</div><p class="dae-note">{note}</p>'


def digit_figure(caption: str, image: np.ndarray, alt: str, guess: str = "", wrong: bool = False, extra: str = "",
                 elem_id: str | None = None) -> str:
    """A digit in a view, as the results show theirs: caption, the 28 x 28 image, the classifier's guess (red when wrong)."""
    ident = f' id="{elem_id}"' if elem_id else ""
    return (f'<figure{ident} class="dae-figure"><figcaption>{html.escape(caption)}</figcaption>'
            f'<img src="{png_data_uri(image)}" alt="{html.escape(alt)}">'
            f'<div class="dae-guess{" dae-wrong" if wrong else ""}">{guess}</div>{extra}</figure>')


# ---- layer by layer ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def diverging_lut() -> np.ndarray:
    """Blue (negative) – white (0) – red (positive), 256 x 3: for the code and the U-Net's correction."""
    from matplotlib import colormaps

    return (colormaps["RdBu_r"](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def mosaic(maps: np.ndarray, columns: int, signed: bool = False) -> tuple[np.ndarray, float, float]:
    """(n, h, w) maps -> one picture of them in a grid with 1-pixel gaps (grey, or RGB when signed), and its value range.

    Unsigned maps (after a ReLU) go from black (0) to white (the layer's largest value), one scale
    for all of a layer's maps so that they compare; signed ones use the diverging scale,
    symmetric about 0 (white).
    """
    n, h, w = maps.shape
    rows = -(-n // columns)
    lo, hi = float(maps.min()), float(maps.max())
    if signed:
        top = max(abs(lo), abs(hi), 1e-8)
        index = np.clip((maps / top + 1) / 2 * 255 + 0.5, 0, 255).astype(np.uint8)
        tiles = diverging_lut()[index]
    else:
        tiles = np.clip(maps / max(hi, 1e-8) * 255 + 0.5, 0, 255).astype(np.uint8)  # greyscale: a third of the bytes
    picture = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1, *tiles.shape[3:]), 96, dtype=np.uint8)  # grey gaps
    for i in range(n):
        r, c = divmod(i, columns)
        picture[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tiles[i]
    return picture, lo, hi


def _columns(n: int) -> int:
    """A near-square grid, wider than tall: 16 -> 4, 32 -> 8, 64 -> 8, 128 -> 16."""
    return 2 ** math.ceil(math.log2(n) / 2) if n > 1 else 1


def stage_html(stage, value, signed: bool) -> str:
    """One stage of the layers view: its maps, name, true shape, definition and what it does."""
    maps = value.numpy()
    shape = shape_text(value)
    if maps.ndim == 1:  # a code: 256 numbers as 16 x 16
        side = int(math.isqrt(len(maps)))
        maps = maps.reshape(1, side, side)
    elif maps.ndim == 2:
        maps = maps[None]
    picture, lo, hi = mosaic(maps, _columns(len(maps)), signed)
    scale = (f"blue {lo:+.2f} · white 0 · red {hi:+.2f}" if signed else f"black 0 · white {hi:.2f}" if hi > 1e-6 else
             "every value 0 for this digit")
    count = f"{maps.shape[0]} maps of {maps.shape[1]} × {maps.shape[2]}" if maps.shape[0] > 1 else (
        f"{shape} numbers, shown {maps.shape[1]} × {maps.shape[2]}" if value.ndim == 1 else shape)
    return (f'<figure class="dae-layer"><img src="{png_rgb_data_uri(picture)}" alt="{html.escape(stage.title)}: {count}">'
            f'<figcaption><b>{html.escape(stage.title)}</b> <span class="dae-shape">{shape}</span>'
            f'<br><code>{html.escape(stage.definition)}</code><br>{html.escape(stage.does)}'
            f'<br><span class="dae-scale">{count}; {scale}</span></figcaption></figure>')


def layers_html(model_stages: list[tuple[str, tuple, dict]]) -> str:
    """The "Layer by layer" view: for each model, (title, its stages, {stage name: activation}) in data order."""
    parts = []
    for title, stages, values in model_stages:
        figures = "".join(stage_html(s, values[s.name], signed=s.activation == "none") for s in stages)
        parts.append(f'<h4 class="dae-layers-title">{html.escape(title)}</h4><div class="dae-layers">{figures}</div>')
    return "".join(parts)


# ---- the code space ------------------------------------------------------------------------------

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # tab10
MAP_SIDE = 480  # pixels of the map picture (shown at 320 CSS px: sharp on a phone)


@dataclass(frozen=True)
class MapFrame:
    """Where the map's picture sits in the 2-D code plane: positions <-> fractions of its width and height."""

    x0: float
    x1: float
    y0: float
    y1: float

    def to_fraction(self, xy: np.ndarray) -> np.ndarray:
        """(m, 2) positions -> (m, 2) fractions (0, 0 top left; y grows downwards, as on screen)."""
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([(xy[:, 0] - self.x0) / (self.x1 - self.x0), (self.y1 - xy[:, 1]) / (self.y1 - self.y0)], axis=1)

    def to_position(self, fraction: np.ndarray) -> np.ndarray:
        fraction = np.asarray(fraction, dtype=np.float64)
        return np.stack([self.x0 + fraction[:, 0] * (self.x1 - self.x0), self.y1 - fraction[:, 1] * (self.y1 - self.y0)], axis=1)


def map_frame(points: np.ndarray, margin: float = 0.05) -> MapFrame:
    """The square-pixel frame around the middle 99 % of the points on each axis, plus a margin."""
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    pad = (hi - lo) * margin
    return MapFrame(float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def map_picture(points: np.ndarray, labels: np.ndarray, frame: MapFrame, side: int = MAP_SIDE) -> str:
    """Every test digit as a dot in its class's colour on a transparent square (drawn in a fixed shuffled order)."""
    from PIL import ImageDraw

    picture = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    xy = frame.to_fraction(points) * (side - 1)
    r = side / 220
    for i in np.random.default_rng(0).permutation(len(points)):
        x, y = xy[i]
        if 0 <= x < side and 0 <= y < side:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=CLASS_COLOURS[int(labels[i])] + "b0")
    buffer = io.BytesIO()
    picture.save(buffer, format="png", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def map_legend() -> str:
    return "".join(f'<span><i style="background:{c}"></i>{d}</span>' for d, c in enumerate(CLASS_COLOURS))


def map_overlay(clean: np.ndarray, noisy: np.ndarray, picked: np.ndarray | None) -> str:
    """The marks over the map, in fractions of it: the clean digit's code (filled), the noisy one's (ring), the line
    between them, and the clicked point (a cross). Marks outside the frame are pinned to its edge."""
    (cx, cy), (nx, ny) = np.clip(clean, 0.01, 0.99), np.clip(noisy, 0.01, 0.99)
    parts = ['<svg class="dae-map-marks" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">',
             f'<line x1="{cx:.4f}" y1="{cy:.4f}" x2="{nx:.4f}" y2="{ny:.4f}" class="dae-map-move"/>',
             f'<circle cx="{cx:.4f}" cy="{cy:.4f}" r="0.02" class="dae-map-clean"/>',
             f'<circle cx="{nx:.4f}" cy="{ny:.4f}" r="0.02" class="dae-map-noisy"/>']
    if picked is not None:
        px, py = picked
        parts.append(f'<path d="M{px - 0.025:.4f},{py:.4f}H{px + 0.025:.4f}M{px:.4f},{py - 0.025:.4f}V{py + 0.025:.4f}" class="dae-map-pick"/>')
    return "".join(parts) + "</svg>"


# ---- how it learned ------------------------------------------------------------------------------


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

    parts = [f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="Training and test loss against training step" class="dae-curve-svg">']
    e = lo
    while e <= hi + 1e-9:  # a grid line every half decade, a label at each whole one
        y = y_of(10**e)
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        if abs(e - round(e)) < 1e-9:
            parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{10**e:g}</text>')
        e += 0.5
    for epoch in range(0, len(test) + 1, max(1, len(test) // 5)):
        parts.append(f'<text x="{x_of(epoch * steps_per_epoch):.1f}" y="{h - 22}" text-anchor="middle">{epoch}</text>')
    parts.append(f'<text x="{(left + w - right) / 2:.0f}" y="{h - 3}" text-anchor="middle">epoch</text>'
                 f'<text x="{left + 4}" y="{h - bottom - 4}" class="dae-mark-label">loss (MSE, log scale)</text>')
    for i, (step, name) in enumerate(marks):  # labels one under another (in ems: the phone's are larger), the early marks stand close
        x = x_of(step)
        anchor, dx = ("end", -3) if x > w / 2 else ("start", 3)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{h - bottom}" class="marker"/>'
                     f'<text x="{x + dx:.1f}" y="{top}" dy="{0.9 + 1.15 * i:.2f}em" text-anchor="{anchor}" class="dae-mark-label">'
                     f'{html.escape(name)}</text>')
    parts.append(_polyline([(x_of((i + 0.5) * every), y_of(v)) for i, v in enumerate(train)], SERIES["dae"][1], 'stroke-width="1.5"'))
    parts.append(_polyline([(x_of((i + 1) * steps_per_epoch), y_of(v)) for i, v in enumerate(test)], SERIES["unet"][1], 'stroke-width="2"'))
    parts += [f'<circle cx="{x_of((i + 1) * steps_per_epoch):.1f}" cy="{y_of(v):.1f}" r="3" fill="{SERIES["unet"][1]}"/>'
              for i, v in enumerate(test)]
    parts.append("</svg>")
    legend = (f'<span><i style="background:{SERIES["dae"][1]}"></i>training loss (mean of every {every} steps)</span>'
              f'<span><i style="background:{SERIES["unet"][1]}"></i>test loss after each epoch (noisy test digits)</span>')
    return "".join(parts) + f'<div class="dae-legend-row">{legend}</div>'
