"""MNIST's own recipe for a digit: a 28 x 28 field, the ink scaled into a 20 px box, centred by mass.

MNIST's recipe (LeCun et al.): crop the digit to its bounding box, scale it, keeping the aspect
ratio and anti-aliasing, so its longest side is 20 px, and paste it into a 28 x 28 field with
its centre of mass at pixel (14, 14) (0-based); white digit on black. Drawings, uploads and
photos go through the same steps (decoding.py, upload.py), so the model sees what it was trained
on, and a digit that already is MNIST-style comes back unchanged. Strokes far thinner or fatter
than MNIST's are re-drawn at MNIST's median width first (`normalise_strokes`).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

SIZE, BOX = 28, 20
CENTRE = 14.0  # MNIST's centre of mass, as a 0-based pixel index (not the frame's middle, 13.5)
STROKE_SIDE = 128  # strokes are measured and re-drawn at most this large
# Stroke width of MNIST's digits in 28 x 28 pixels (`stroke_width`): 1st percentile, median and
# 99th percentile over the 10,000 test digits. A drawing or photo whose strokes would come out
# outside that range, thinner or fatter than almost any MNIST digit, is re-drawn at the median
# width (`normalise_strokes`); inside it, a digit keeps the strokes it has.
MNIST_STROKE = (1.25, 2.25, 4.69)


def mnist_style(ink: np.ndarray) -> np.ndarray | None:
    """(H, W) ink intensities in [0, 1] -> (28, 28) float32 MNIST-style digit, or None if blank.

    A crop already 19-20 px long is not resampled (MNIST's own digits are 19 or 20 px long, and
    resampling by 5 % would only blur them), and the placement moves by whole pixels, rounding
    half a pixel towards no move: so an MNIST digit comes back exactly as it was.
    """
    ink = np.nan_to_num(np.asarray(ink, dtype=np.float32)).clip(0, 1)
    rows, cols = np.nonzero(ink > 0)
    if rows.size == 0:
        return None
    top, left = rows.min(), cols.min()
    crop = ink[top : rows.max() + 1, left : cols.max() + 1]
    h, w = crop.shape
    if mnist_sized(crop):
        small, top0, left0 = crop, top, left
    else:
        scale = BOX / max(h, w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        small = np.asarray(
            Image.fromarray(crop, mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS)
        ).clip(0, 1)
        top0 = left0 = 0
    total = small.sum(dtype=np.float64)
    if total <= 1e-6:
        return None
    h, w = small.shape
    cy = top0 + (small.sum(1, dtype=np.float64) * np.arange(h)).sum() / total
    cx = left0 + (small.sum(0, dtype=np.float64) * np.arange(w)).sum() / total
    top = int(np.clip(top0 + _whole_pixels(CENTRE - cy), 0, SIZE - h))
    left = int(np.clip(left0 + _whole_pixels(CENTRE - cx), 0, SIZE - w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + h, left : left + w] = small
    return out


def mnist_sized(ink: np.ndarray) -> bool:
    """Whether the ink's bounding box is already as long as MNIST's digits (19-20 px): not resampled."""
    rows, cols = np.nonzero(ink > 0)
    return rows.size > 0 and BOX - 1 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= BOX


def _whole_pixels(shift: float) -> int:
    """Round a shift to whole pixels, half a pixel towards zero (half a pixel off is centred)."""
    return int(math.copysign(max(math.ceil(abs(shift) - 0.5 - 1e-9), 0), shift))


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the median distance from the skeleton to the edge.

    The median keeps it the width of the strokes even where strokes have run together into a
    blob. Works at any resolution; a 28 x 28 digit is measured on a 4x upscale so that its
    skeleton is a line, not a staircase of pixels.
    """
    ink = np.asarray(ink, dtype=np.float32)
    up = 4 if max(ink.shape) <= 2 * SIZE else 1
    mask = np.pad((ndi.zoom(ink, up, order=1) if up > 1 else ink) > 0.5, 1)  # background all round
    skeleton = skeletonize(mask)
    if not skeleton.any():
        return 0.0
    # A pixel's distance counts to the centre of the nearest background pixel: half a pixel too far.
    return float((2 * np.median(ndi.distance_transform_edt(mask)[skeleton]) - 1) / up)


def normalise_strokes(ink: np.ndarray) -> np.ndarray:
    """The ink, its strokes re-drawn at MNIST's median width when MNIST's own digits are never that thin or
    fat.

    Width relative to the digit's size is what counts: a fixed brush makes a digit drawn small a
    fat blob once scaled to 20 px, a pen makes a big digit on paper a hairline. Outside the range
    of MNIST's digits, the strokes are eroded (or grown) evenly along their signed distance to
    the edge, which keeps their shape and cannot invent strokes. The work is done on a copy at
    most STROKE_SIDE px long, a few times the 20 px it is going to, which keeps it cheap.
    """
    ink = np.asarray(ink, dtype=np.float32)
    rows, cols = np.nonzero(ink > 0)
    if rows.size == 0:
        return ink
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    if max(crop.shape) > STROKE_SIDE:
        scale = STROKE_SIDE / max(crop.shape)
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BOX))
    length = max(crop.shape)
    width = stroke_width(crop)
    if width == 0 or MNIST_STROKE[0] <= width * BOX / length <= MNIST_STROKE[2]:
        return ink
    target = MNIST_STROKE[1]
    # Taking e px off each side makes the stroke 2e thinner and the digit 2e shorter: solve
    # (width - 2e) * BOX / (length - 2e) = target for e.
    e = (width - target * length / BOX) / (2 * (1 - target / BOX))
    pad = int(max(-e, 0)) + 2
    mask = np.pad(crop > 0.5, pad)
    signed = np.where(mask, ndi.distance_transform_edt(mask) - 0.5, 0.5 - ndi.distance_transform_edt(~mask))
    e = min(e, float(signed.max()) - 1.0)  # never erode a digit away
    return np.clip(signed - e + 0.5, 0, 1).astype(np.float32)
