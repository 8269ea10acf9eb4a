"""The app's pictures: 28 x 28 digits as inline PNGs, enlarged digits, the error map and its colour scale.

Every image the page shows is an inline `data:image/png` URL (no file to fetch), drawn here.
"""

from __future__ import annotations

import base64
import html
import io
from functools import lru_cache

import numpy as np
from PIL import Image

SCALE = 8  # 28 px -> 224 px, nearest neighbour: every model pixel stays a crisp square


def upscale(image: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """(28, 28) float in [0, 1] -> (28*scale, 28*scale) uint8, nearest neighbour."""
    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1)


@lru_cache(maxsize=1)
def colormap_lut() -> np.ndarray:
    """The error map's colormap (inferno: perceptually uniform, dark = no error) as a 256 x 3 LUT."""
    from matplotlib import colormaps

    return (colormaps["inferno"](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def error_image(error: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """|reconstruction − clean| in [0, 1] -> (28*scale, 28*scale, 3) uint8 colour map, fixed scale 0..1."""
    index = (np.clip(error, 0, 1) * 255 + 0.5).astype(np.uint8)
    return colormap_lut()[index].repeat(scale, axis=0).repeat(scale, axis=1)


def colorbar_html() -> str:
    """A visible scale for the error map: the same LUT as a CSS gradient, labelled 0 to 1."""
    lut = colormap_lut()
    stops = ", ".join(
        f"rgb({r},{g},{b}) {100 * i / 10:.0f}%"
        for i, (r, g, b) in enumerate(lut[np.linspace(0, 255, 11).astype(int)])
    )
    return (
        '<div class="dae-colorbar"><div class="dae-colorbar-bar" style="background: linear-gradient(to right, '
        f'{stops});"></div><div class="dae-colorbar-labels"><span>0</span><span>0.25</span><span>0.5</span>'
        '<span>0.75</span><span>1</span></div><div class="dae-colorbar-title">error map: |reconstruction − clean| per pixel</div></div>'
    )


def png_data_uri(image: np.ndarray) -> str:
    """(28, 28) float in [0, 1] -> an inline PNG (a few hundred bytes; the browser scales it up)."""
    return png_rgb_data_uri((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))


def png_rgb_data_uri(image: np.ndarray) -> str:
    """(h, w) grey or (h, w, 3) RGB uint8 -> an inline PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def path_html(images: np.ndarray, caption: str, marked: int | None = None, kind: str = "decoded") -> str:
    """The points of a latent walk as a row of digits that wraps on narrow screens; step `marked` is outlined (the slider's)."""
    steps = len(images)
    now = ' class="dae-step-now"'
    tiles = "".join(
        f'<img src="{png_data_uri(img)}" alt="step {i + 1} of {steps}" title="t = {i / max(steps - 1, 1):.2f}"{now if i == marked else ""}>'
        for i, img in enumerate(images)
    )
    return (
        f'<figure class="dae-path dae-path-{kind}"><figcaption>{html.escape(caption)}</figcaption>'
        f'<div class="dae-path-steps">{tiles}</div></figure>'
    )
