"""An uploaded picture -> the MNIST-style digit it shows, and a small preview of the picture itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from .decoding import bounded, open_image
from .mnist_format import mnist_sized, mnist_style, normalise_strokes
from .photo import gray, image_ink

PREVIEW_SIDE = 256


@dataclass(frozen=True)
class Upload:
    """An uploaded picture: the digit it became, and the picture itself, small, to show beside it."""

    digit: np.ndarray  # (28, 28) float32 in [0, 1], white on black
    preview: np.ndarray  # (h, w, 3) uint8, longest side <= PREVIEW_SIDE


def preview(image: Image.Image) -> np.ndarray:
    """The picture as (h, w, 3) uint8, at most PREVIEW_SIDE px long; transparency over a contrasting
    backdrop."""
    image = bounded(image, PREVIEW_SIDE)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(image, dtype=np.float32)
        a = (a - a.min()) / max(float(a.max() - a.min()), 1e-6)
        return np.repeat((a * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3:]
    # Dark ink over white, light ink over dark grey: whichever the drawing shows up against.
    ink_light = (gray(rgba[..., :3]) * alpha[..., 0]).sum() > 0.5 * alpha.sum()
    backdrop = 0.15 if ink_light else 1.0
    rgb = rgba[..., :3] * alpha + backdrop * (1 - alpha)
    return (rgb * 255).round().astype(np.uint8)


def read_upload(path: str | Path) -> Upload:
    """An uploaded image file -> its digit and a preview, decoded once; InputError when unusable or blank.

    A digit that is not MNIST's size already (an MNIST PNG is left exactly as it is) gets
    MNIST-like strokes, as a drawing does.
    """
    image = open_image(path)
    ink = image_ink(image)
    if ink is not None and not mnist_sized(ink):
        ink = normalise_strokes(ink)
    digit = mnist_style(ink) if ink is not None else None
    if digit is None:
        raise InputError("This image looks blank: no digit was found in it.")
    return Upload(digit, preview(image))
