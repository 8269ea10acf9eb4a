"""The code space: every test digit placed by its code, this digit's clean and noisy codes, and a click
decoded.

The map is a PCA of the DAE's codes of the 10,000 test digits (dae.code_map, kept beside the
checkpoint); its picture is drawn once and sent with the page, and each answer carries only this
digit's marks and, after a click, the digit decoded at the clicked point.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..captions import guess_of
from .figures import digit_figure

CLASS_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)  # tab10
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
        return np.stack(
            [(xy[:, 0] - self.x0) / (self.x1 - self.x0), (self.y1 - xy[:, 1]) / (self.y1 - self.y0)], axis=1
        )

    def to_position(self, fraction: np.ndarray) -> np.ndarray:
        fraction = np.asarray(fraction, dtype=np.float64)
        return np.stack(
            [self.x0 + fraction[:, 0] * (self.x1 - self.x0), self.y1 - fraction[:, 1] * (self.y1 - self.y0)],
            axis=1,
        )


def map_frame(points: np.ndarray, margin: float = 0.05) -> MapFrame:
    """The square-pixel frame around the middle 99 % of the points on each axis, plus a margin."""
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    pad = (hi - lo) * margin
    return MapFrame(
        float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])
    )


def map_picture(points: np.ndarray, labels: np.ndarray, frame: MapFrame, side: int = MAP_SIDE) -> str:
    """Every test digit as a dot in its class's colour on a transparent square (drawn in a fixed shuffled
    order)."""
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
    """The marks over the map, in fractions of it: the clean digit's code (filled), the noisy one's (ring),
    the line between them, and the clicked point (a cross). Marks outside the frame are pinned to its edge."""
    (cx, cy), (nx, ny) = np.clip(clean, 0.01, 0.99), np.clip(noisy, 0.01, 0.99)
    parts = [
        '<svg class="dae-map-marks" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">',
        f'<line x1="{cx:.4f}" y1="{cy:.4f}" x2="{nx:.4f}" y2="{ny:.4f}" class="dae-map-move"/>',
        f'<circle cx="{cx:.4f}" cy="{cy:.4f}" r="0.02" class="dae-map-clean"/>',
        f'<circle cx="{nx:.4f}" cy="{ny:.4f}" r="0.02" class="dae-map-noisy"/>',
    ]
    if picked is not None:
        px, py = picked
        parts.append(
            f'<path d="M{px - 0.025:.4f},{py:.4f}H{px + 0.025:.4f}'
            f'M{px:.4f},{py - 0.025:.4f}V{py + 0.025:.4f}" class="dae-map-pick"/>'
        )
    return "".join(parts) + "</svg>"


def clicked_point(map_at: object, name: str) -> np.ndarray | None:
    """The request's clicked point on the map of model `name`, as (2,) fractions; None for anything else."""
    if not isinstance(map_at, dict) or map_at.get("model") != name:
        return None
    at = map_at.get("at")
    if (
        isinstance(at, list)
        and len(at) == 2
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1
            for v in at
        )
    ):
        return np.asarray(at, dtype=np.float64)
    return None


@torch.inference_mode()
def map_view(served, name: str, clean: torch.Tensor, noisy: torch.Tensor, map_at: object) -> str:
    """The marks for this digit on model `name`'s code map, and the digit decoded at the point last clicked
    there, with the bundled test digits whose codes are nearest to it (a 256-number map is a projection: a
    reminder of what the point stands for)."""
    model, served_model = served.denoiser.models[name], served.models[name]
    code_map, frame = served_model.code_map, served_model.map_frame
    codes = model.encode(torch.cat([clean, noisy]))  # (2, code size): the clean and the noisy digit's codes
    at = frame.to_fraction(code_map.project(codes).numpy())
    moved = float((codes[1] - codes[0]).norm())
    size = code_map.code_size
    picked = clicked_point(map_at, name)
    if code_map.exact:
        how = "Click anywhere on the map: that point is a code of 2 numbers, and the decoder draws it."
    else:
        how = (
            f"Click anywhere on the map: that point is lifted back to {size} numbers (the mean code plus the "
            "two directions) and decoded."
        )
    side = f'<p class="dae-note">{how}</p>'
    if picked is not None:
        position = torch.from_numpy(frame.to_position(picked[None])).float()
        code = code_map.lift(position)  # (1, code size)
        decoded = model.decode(code)
        p = served.denoiser.probabilities(decoded)
        guess = "" if p is None else guess_of(int(p[0].argmax()), float(p[0].max()))
        side = digit_figure(
            "Decoded at the clicked point",
            decoded[0, 0].numpy(),
            "The digit decoded at the clicked point of the map",
            guess,
            elem_id=f"map-decoded-{name}",
        )
        side += nearest_samples(served, model, code) + f'<p class="dae-note">{how}</p>'
    scale = ""
    if code_map.distances:
        scale = (
            f" Two different test digits of the same class lie {code_map.distances['same']:.1f} apart (the "
            f"median), two of different classes {code_map.distances['different']:.1f}."
        )
    if code_map.exact:
        where = "The map is the code plane itself: every position on it is a code, nothing is hidden."
    else:
        where = (
            f"The map keeps {100 * code_map.explained:.0f} % of the codes' variance, so digits far apart in "
            "the code can land close together here."
        )
    text = (
        f"<p class=\"dae-note\">● this digit's code, ○ the noisy digit's code: the noise moved the code by "
        f"{moved:.2f} (distance in {size} dimensions).{scale} {where}</p>"
    )
    picture = ""
    if name == "yours":  # not on the page from the start, as the served models' maps are
        picture = (
            f'<img class="dae-map-picture" data-model="yours" src="{served_model.map_picture}" '
            'alt="Your model\'s codes of the 10,000 test digits, coloured by class">'
        )
    return picture + map_overlay(at[0], at[1], picked) + f'<div class="dae-map-side">{side}{text}</div>'


def nearest_samples(served, model, code: torch.Tensor, count: int = 3) -> str:
    """The bundled test digits whose codes lie nearest to `code` (1, d), with their distances."""
    samples = torch.from_numpy(served.samples).unsqueeze(1)  # (100, 1, 28, 28)
    distance = (model.encode(samples) - code).norm(dim=1)
    order = distance.argsort()[:count].tolist()
    figures = "".join(
        digit_figure(
            f"#{int(served.test_indices[i])}, a {int(served.labels[i])}",
            served.samples[i],
            f"Test digit {int(served.test_indices[i])}",
            extra=f'<div class="dae-scale">{distance[i]:.1f} away</div>',
        )
        for i in order
    )
    return (
        '<p class="dae-note">The bundled test digits whose codes are nearest:</p>'
        f'<div class="dae-row">{figures}</div>'
    )
