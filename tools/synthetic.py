"""Synthetic data for tests and benchmarks that must run without the real MNIST.

Two kinds, both made here so that nothing outside the repository is needed:

- **MNIST files**: tiny data sets in MNIST's own IDX format and torchvision's layout
  (root/MNIST/raw), so the project's real loader (`dae.data.load_mnist`) reads them as it
  reads MNIST (`write_synthetic_mnist`, `write_mnist_split_files`, `write_idx`).
- **Photos of digits on paper**: a 28 x 28 source digit turned into sharp pen strokes, upscaled
  to a random size and position on paper of some colour, then lit unevenly (a gradient across
  the page, a soft shadow in a corner), sometimes with the page's edge and the table beyond it in
  view, a few specks, a little blur, sensor noise and JPEG compression (`make_photo`). Because
  the source digit is known, the preprocessing can be scored by how well it gets that digit back
  (`agreement`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage as ndi
from torch import Tensor

from dae import metrics
from dae.data import MNIST_FILES

# --- MNIST files -----------------------------------------------------------------------------------


def write_idx(path: str | Path, array: Tensor) -> None:
    """Write a uint8 tensor in MNIST's IDX format: 0 0 0x08 ndim, the dimensions (big-endian u32), the
    bytes."""
    array = array.to(torch.uint8).contiguous()
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + array.numpy().tobytes())


def synthetic_digits(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """MNIST-shaped stand-ins: a thick bright ring or bar (by class) on black, jittered."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    cy = 14 + torch.randn(n, 1, 1, generator=g) * 1.5
    cx = 14 + torch.randn(n, 1, 1, generator=g) * 1.5
    r = torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    ring = (r - 5 - labels.view(-1, 1, 1) % 3).abs() < 1.5
    bar = ((xx - cx).abs() < 1.5) & ((yy - cy).abs() < 8)
    images = torch.where((labels % 2 == 0).view(-1, 1, 1), ring, bar).to(torch.uint8) * 255
    return images, labels


TRAIN_SEED, TEST_SEED = 1, 2


def write_mnist_split_files(
    root: str | Path, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor]
) -> Path:
    """Given (images, labels) for both splits, write the four IDX files; returns `root`."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, array in zip(MNIST_FILES, (*train, *test)):
        write_idx(raw / name, array)
    return Path(root)


def write_synthetic_mnist(root: str | Path, n_train: int, n_test: int) -> Path:
    """A synthetic data set in torchvision's MNIST layout (root/MNIST/raw), so its real loader runs."""
    return write_mnist_split_files(
        root, synthetic_digits(n_train, TRAIN_SEED), synthetic_digits(n_test, TEST_SEED)
    )


def mnist_scan(digit: np.ndarray, crop: bool, side: int = 160) -> bytes:
    """A 28 x 28 digit as a dark-on-white PNG `side` px long (a scan, a screenshot): the whole frame, or only
    its ink's bounding box, as a phone's crop tool leaves it."""
    if crop:
        rows, cols = np.nonzero(digit > 0.05)
        digit = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = digit.shape
    scale = side / max(h, w)
    image = Image.fromarray(((1 - digit) * 255).astype(np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC
    )
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return buffer.getvalue()


# --- Photos of digits on paper ---------------------------------------------------------------------

# (ink, paper) colours as RGB in [0, 1]: dark or coloured ink on light paper ...
DARK_ON_LIGHT = [
    ((0.10, 0.15, 0.45), (0.95, 0.94, 0.90)),  # blue ballpoint on off-white
    ((0.05, 0.05, 0.07), (0.98, 0.98, 0.98)),  # black marker on white
    ((0.30, 0.30, 0.32), (0.93, 0.93, 0.90)),  # pencil on grey-white
    ((0.60, 0.08, 0.10), (0.97, 0.95, 0.85)),  # red pen on cream
    ((0.05, 0.35, 0.15), (0.85, 0.90, 0.95)),  # green pen on light blue
    ((0.15, 0.10, 0.40), (0.98, 0.93, 0.60)),  # purple on yellow sticky note
]
# ... and light ink on dark paper.
LIGHT_ON_DARK = [
    ((0.92, 0.92, 0.90), (0.12, 0.14, 0.13)),  # chalk on a blackboard
    ((0.95, 0.95, 0.95), (0.10, 0.25, 0.18)),  # chalk on a green board
    ((0.98, 0.90, 0.30), (0.08, 0.10, 0.25)),  # yellow gel pen on navy paper
]
TABLES = [(0.25, 0.17, 0.10), (0.45, 0.45, 0.47), (0.08, 0.08, 0.08)]


@dataclass
class Photo:
    jpeg: bytes
    digit: np.ndarray  # the (28, 28) source digit in [0, 1]
    light_on_dark: bool
    ink_box: tuple[int, int, int, int] = (
        0,
        0,
        0,
        0,
    )  # (top, left, bottom, right) of the pen's strokes in the photo


def pen_strokes(digit: np.ndarray, height: int) -> np.ndarray:
    """The 28 x 28 digit as sharp-edged strokes `height` px tall (a smooth upscale, then a soft threshold)."""
    scale = height / 28
    big = ndi.zoom(digit.astype(np.float32), scale, order=3, grid_mode=True, mode="grid-constant")
    edge = 0.5 / max(scale, 1)  # about one output pixel of anti-aliasing at the stroke's edge
    return np.clip((big - 0.35) / (2 * edge) + 0.5, 0, 1)


def _soft_shadow(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A darkening factor in (0, 1]: a soft-edged shadow over one corner (a hand, a phone), or
    over one side of the page, its edge anywhere (even across the digit)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    softness = rng.uniform(0.01, 0.12) * min(h, w)
    if rng.random() < 0.7:
        cy, cx = rng.choice([0, h]), rng.choice([0, w])
        radius = rng.uniform(0.25, 0.5) * min(h, w)
        distance = np.hypot(yy - cy, xx - cx) - radius
    else:
        angle = rng.uniform(0, 2 * np.pi)
        distance = (
            np.cos(angle) * (xx - w / 2) + np.sin(angle) * (yy - h / 2) - rng.uniform(-0.3, 0.3) * min(h, w)
        )
    inside = 1 / (1 + np.exp(np.clip(distance / softness, -50, 50)))
    return 1 - rng.uniform(0.25, 0.5) * inside


def _gradient(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Light falling off across the page in a random direction."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.cos(angle) * xx / w + np.sin(angle) * yy / h
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return 1 - rng.uniform(0.15, 0.45) * t


def _page_mask(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """1 on the page, 0 on the table beyond one (slightly tilted) edge of it; and how deep the table
    reaches in."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    side = rng.integers(4)
    depth = rng.uniform(0.04, 0.12)
    tilt = rng.uniform(-0.08, 0.08)
    if side == 0:
        d = yy - (depth * h + tilt * (xx - w / 2))
    elif side == 1:
        d = (h - yy) - (depth * h + tilt * (xx - w / 2))
    elif side == 2:
        d = xx - (depth * w + tilt * (yy - h / 2))
    else:
        d = (w - xx) - (depth * w + tilt * (yy - h / 2))
    return np.clip(d + 0.5, 0, 1), depth


def make_photo(
    digit: np.ndarray,
    rng: np.random.Generator,
    light_on_dark: bool | None = None,
    page_edge: bool | None = None,
    side_range=(600, 1600),
) -> Photo:
    """One synthetic JPEG photo of `digit` (an MNIST-style (28, 28) array in [0, 1])."""
    if light_on_dark is None:
        light_on_dark = bool(rng.random() < 0.2)
    if page_edge is None:
        page_edge = bool(rng.random() < 0.3)
    ink_rgb, paper_rgb = (LIGHT_ON_DARK if light_on_dark else DARK_ON_LIGHT)[
        rng.integers(3 if light_on_dark else 6)
    ]
    h, w = (int(v) for v in rng.integers(*side_range, size=2))
    page, depth = _page_mask(h, w, rng) if page_edge else (np.ones((h, w), np.float32), 0.0)
    margin = int(np.ceil((depth + 0.04) * max(h, w))) + 8 if page_edge else 8  # clear of the (tilted) table

    # The digit's 28 x 28 frame takes 25-90 % of the photo's shorter side (as much as fits beside
    # a table), anywhere on the page.
    frame = int(min(rng.uniform(0.25, 0.9) * min(h, w), min(h, w) - 2 * margin))
    strokes = pen_strokes(digit, frame)
    fh, fw = strokes.shape
    top = int(rng.integers(margin, max(margin + 1, h - fh - margin)))
    left = int(rng.integers(margin, max(margin + 1, w - fw - margin)))
    ink = np.zeros((h, w), np.float32)
    ink[top : top + fh, left : left + fw] = strokes[: h - top, : w - left]

    # Specks (dust, a dot of ink) on the paper, away from the digit.
    for _ in range(int(rng.integers(0, 8))):
        y, x = int(rng.integers(h)), int(rng.integers(w))
        if top - 20 <= y <= top + fh + 20 and left - 20 <= x <= left + fw + 20:
            continue
        r = rng.uniform(1, 3.5)
        yy, xx = np.ogrid[-4:5, -4:5]
        dot = np.clip(r + 0.5 - np.hypot(yy, xx), 0, 1) * rng.uniform(0.4, 1)
        y0, x0 = max(y - 4, 0), max(x - 4, 0)
        patch = dot[
            y0 - (y - 4) : dot.shape[0] - max(0, y + 5 - h), x0 - (x - 4) : dot.shape[1] - max(0, x + 5 - w)
        ]
        ink[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] = np.maximum(
            ink[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]], patch
        )

    paper = np.asarray(paper_rgb, np.float32)
    colour = np.asarray(ink_rgb, np.float32)
    texture = 1 + 0.02 * ndi.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), 2)[..., None]
    image = paper * texture * (1 - ink[..., None]) + colour * ink[..., None]
    if page_edge:
        table = np.asarray(TABLES[rng.integers(len(TABLES))], np.float32)
        image = image * page[..., None] + table * (1 - page[..., None])
    light = _gradient(h, w, rng) * (_soft_shadow(h, w, rng) if rng.random() < 0.8 else 1)
    image = image * (light * rng.uniform(0.75, 1.05))[..., None]
    image = ndi.gaussian_filter(image, (rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.2), 0))  # focus
    image = image + rng.normal(0, rng.uniform(0.005, 0.025), image.shape).astype(np.float32)  # sensor noise
    buf = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(
        buf, format="jpeg", quality=int(rng.integers(55, 93))
    )
    rows, cols = np.nonzero(ink[top : top + fh, left : left + fw] > 0.1)
    box = (0, 0, 0, 0)  # a blank page has no ink
    if rows.size:
        box = (
            top + int(rows.min()),
            left + int(cols.min()),
            top + int(rows.max()) + 1,
            left + int(cols.max()) + 1,
        )
    return Photo(buf.getvalue(), np.asarray(digit, np.float32), light_on_dark, box)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """dae.metrics.psnr of two numpy images (in [0, 1], of one shape)."""
    a, b = (torch.as_tensor(np.asarray(x, np.float64))[None] for x in (a, b))  # a batch of one
    return metrics.psnr(a, b).item()


def shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`a` moved by (dy, dx) pixels, zeros coming in (no wrap-around)."""
    out = np.zeros_like(a)
    h, w = a.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def agreement(result: np.ndarray | None, source: np.ndarray, max_shift: int = 2) -> float:
    """PSNR (dB, peak 1) of `result` against `source`, the best over shifts of up to `max_shift` px.

    A photo cannot say where MNIST's integer placement rounded to, so a shift of a pixel or two
    is forgiven; anything else (wrong ink, a shadow taken for ink, a speck, the wrong scale) is not.
    """
    if result is None:
        return 0.0
    return max(
        psnr(shifted(result, dy, dx), source)
        for dy in range(-max_shift, max_shift + 1)
        for dx in range(-max_shift, max_shift + 1)
    )
