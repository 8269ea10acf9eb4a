"""The app's pictures: 28 x 28 digits as inline PNGs, enlarged digits, the error map and its colour scale.

Every image the page shows is an inline `data:image/png` URL (no file to fetch), drawn here.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib
from functools import lru_cache

import numpy as np

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
        '<div class="dae-colorbar"><div class="dae-colorbar-bar" '
        f'style="background: linear-gradient(to right, {stops});"></div>'
        '<div class="dae-colorbar-labels"><span>0</span><span>0.25</span><span>0.5</span>'
        "<span>0.75</span><span>1</span></div>"
        '<div class="dae-colorbar-title">error map: |reconstruction − clean| per pixel</div></div>'
    )


def png_data_uri(image: np.ndarray) -> str:
    """(28, 28) float in [0, 1] -> an inline PNG (a few hundred bytes; the browser scales it up)."""
    return png_rgb_data_uri((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))


def png_rgb_data_uri(image: np.ndarray) -> str:
    """(h, w) grey or (h, w, 3) RGB uint8 -> an inline PNG."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def png_bytes(pixels: np.ndarray) -> bytes:
    """(h, w) grey or (h, w, 3) RGB uint8 -> a PNG file: its signature, header, the rows in one zlib stream,
    end.

    Written out (the format is five lines of it) because the page gets several of these per
    answer: for a 28 x 28 digit this takes about a tenth of what PIL's encoder does, most of
    which is the cost of calling it.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = pixels.shape[:2]
    colour = 0 if pixels.ndim == 2 else 2  # greyscale or RGB, 8 bits
    rows = np.empty((h, 1 + pixels[0].size), dtype=np.uint8)
    rows[:, 0] = 0  # each row's filter: none
    rows[:, 1:] = pixels.reshape(h, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def path_html(images: np.ndarray, caption: str, marked: int | None = None, kind: str = "decoded") -> str:
    """The points of a latent walk as a row of digits that wraps on narrow screens; step `marked` is outlined
    (the slider's)."""
    steps = len(images)
    now = ' class="dae-step-now"'
    tiles = "".join(
        f'<img src="{png_data_uri(img)}" alt="step {i + 1} of {steps}" '
        f'title="t = {i / max(steps - 1, 1):.2f}"{now if i == marked else ""}>'
        for i, img in enumerate(images)
    )
    return (
        f'<figure class="dae-path dae-path-{kind}"><figcaption>{html.escape(caption)}</figcaption>'
        f'<div class="dae-path-steps">{tiles}</div></figure>'
    )
