"""Turn a drawing or an uploaded picture into a 28 x 28 digit the way MNIST digits were made.

MNIST's recipe (LeCun et al.): crop the digit to its bounding box, scale it, keeping the aspect
ratio and anti-aliasing, so its longest side is 20 px, and paste it into a 28 x 28 field with
its centre of mass at the centre; white digit on black. Drawings and uploads go through the same
steps, so the model sees what it was trained on.

Where the ink is never depends on a colour: a sketch's stroke layer is transparent except the
ink (its alpha channel is the ink, in the light and the dark theme alike), a transparent upload
likewise, and an opaque picture is read against its own background, found at its border.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

SIZE, BOX = 28, 20
MAX_PIXELS = 40_000_000  # decoding more would take seconds and hundreds of MB per request
INK_FLOOR = 0.1  # ink fainter than this (after normalising) is background, e.g. paper texture


class InputError(ValueError):
    """The input cannot be used; the message is meant for the person who sent it."""


def mnist_style(ink: np.ndarray) -> np.ndarray | None:
    """(H, W) ink intensities in [0, 1] -> (28, 28) float32 MNIST-style digit, or None if blank."""
    ink = np.nan_to_num(np.asarray(ink, dtype=np.float32)).clip(0, 1)
    rows, cols = np.nonzero(ink > 0)
    if rows.size == 0:
        return None
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop, mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS)).clip(0, 1)
    total = small.sum()
    if total <= 1e-6:
        return None
    cy = (small.sum(1) * np.arange(new_h)).sum() / total
    cx = (small.sum(0) * np.arange(new_w)).sum() / total
    centre = (SIZE - 1) / 2
    top = int(np.clip(round(centre - cy), 0, SIZE - new_h))
    left = int(np.clip(round(centre - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = small
    return out


def sketch_ink(value: dict | None) -> np.ndarray | None:
    """The ink of a gr.Sketchpad value (RGBA numpy layers), or None when nothing is drawn.

    The stroke layer's alpha is the ink whatever the theme. Without layers, fall back to the
    composite's difference to the background.
    """
    if not value:
        return None
    layers = [np.asarray(layer) for layer in (value.get("layers") or []) if layer is not None]
    if layers and all(layer.ndim == 3 and layer.shape[2] == 4 for layer in layers):
        return np.max(np.stack([layer[..., 3] for layer in layers]), axis=0).astype(np.float32) / 255.0
    composite, background = value.get("composite"), value.get("background")
    if composite is None:
        return None
    comp = _luminance(np.asarray(composite))
    bg = _luminance(np.asarray(background)) if background is not None else np.full_like(comp, np.median(_border(comp)))
    diff = np.abs(comp - bg)
    return diff / diff.max() if diff.max() > 0 else diff


def _luminance(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    if a.ndim == 2:
        return a / 255.0
    return (a[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) / 255.0


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def image_ink(image: Image.Image) -> np.ndarray | None:
    """Ink of any PIL image: its alpha where it has transparency, else contrast to its border."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # High bit depth: whatever range the file uses, stretch it (a 16-bit scan may use 0..4095).
        a = np.asarray(image, dtype=np.float32)
        a = a - min(float(a.min()), 0.0)
        gray = a / max(float(a.max()), 1e-6)
        alpha = None
    else:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        alpha = rgba[..., 3]
    if alpha is not None and alpha.min() < 0.5 < alpha.max():
        # Transparent background: the opaque part is the digit, whatever its colour.
        ink = alpha
    else:
        background = float(np.median(_border(gray)))
        signal = gray - background if background < 0.5 else background - gray
        peak = float(np.percentile(signal, 99.9)) if signal.size > 1000 else float(signal.max())
        if peak < 0.1:
            return None  # a single colour (or nearly): nothing drawn
        ink = np.clip(signal / peak, 0, 1)
    ink = np.where(ink >= INK_FLOOR, (ink - INK_FLOOR) / (1 - INK_FLOOR), 0.0)
    return ink if ink.max() > 0 else None


def open_image(path: str | Path) -> Image.Image:
    """Open an uploaded file as an image, or raise InputError saying what is wrong with it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            image = Image.open(path)
        w, h = image.size
        if w * h > MAX_PIXELS:
            raise InputError(f"This image is too large ({w:,} × {h:,} pixels); the limit is {MAX_PIXELS // 1_000_000} megapixels.")
        if getattr(image, "is_animated", False):
            image = next(ImageSequence.Iterator(image)).copy()  # the first frame of a GIF/APNG/WebP
        image.load()
        return image
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError("This image claims far too many pixels to be decoded safely (a decompression bomb?).") from None
    except UnidentifiedImageError:
        raise InputError("This file is not an image that can be read (PNG, JPEG, GIF, BMP, TIFF, WebP...).") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"This image file is damaged or truncated and cannot be decoded ({e}).") from None


def digit_from_file(path: str | Path) -> np.ndarray:
    """An uploaded image file -> (28, 28) MNIST-style digit; InputError when unusable or blank."""
    ink = image_ink(open_image(path))
    digit = mnist_style(ink) if ink is not None else None
    if digit is None:
        raise InputError("This image looks blank (a single colour): there is no digit to denoise.")
    return digit
