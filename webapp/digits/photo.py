"""Where the ink is in a picture: transparency, a uniform background, or a photo of paper.

Where the ink is never depends on a colour: a transparent upload's alpha is the ink; an opaque
picture on a uniform background (a scan, a screenshot, an MNIST PNG) is read against that
background; anything else is a photo, read against the paper's local brightness, with the
digit's strokes told apart from shadows, page edges and specks by their shape.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from .decoding import bounded

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as PIL's convert("L")


def image_ink(image: Image.Image) -> np.ndarray | None:
    """Ink of any PIL image in [0, 1], or None if there is none.

    Transparency: the alpha is the ink. A uniform background: the contrast to it. Otherwise a
    photo: the contrast to the paper's local brightness, only the digit's strokes kept.
    """
    image = bounded(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # High bit depth: whatever range the file uses, stretch it (a 16-bit scan may use 0..4095).
        a = np.asarray(image, dtype=np.float32)
        a = a - min(float(a.min()), 0.0)
        planes = (a / max(float(a.max()), 1e-6))[None]
        levels = np.round(planes[0] * 255)[..., None]
    else:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[..., 3]
        if alpha.min() < 128 < alpha.max():
            # Transparent background: the opaque part is the digit, whatever its colour.
            return alpha.astype(np.float32) / 255.0
        levels = rgba[..., :3]
        planes = levels.transpose(2, 0, 1).astype(np.float32) / 255.0  # one contiguous plane per channel
    background = _uniform_background(levels)
    if background is not None:
        return _clean_ink(planes, background / 255.0)
    return _photo_ink(planes)


def _uniform_background(levels: np.ndarray) -> np.ndarray | None:
    """The background colour (in 0..255 levels) when the picture has an exactly uniform one, else None.

    Uniform means: half of the border and a fifth of the picture share one exact colour, as in a
    scan, a drawing program's export or an MNIST PNG, even cropped to the digit's ink; never in a
    photo (noise, light).
    """
    flat = levels.reshape(levels.shape[0], levels.shape[1], -1)
    edge = border(flat)
    colours, counts = np.unique(edge, axis=0, return_counts=True)
    colour = colours[counts.argmax()]
    if counts.max() < 0.5 * len(edge):
        return None
    if np.all(flat == colour, axis=-1).mean() < 0.2:
        return None
    return colour.astype(np.float32)


def _clean_ink(planes: np.ndarray, background: np.ndarray) -> np.ndarray | None:
    """Ink as contrast to a uniform background colour: 0 on the background, 1 at the ink's colour.

    The ink's colour is the strongest contrast present; when that is within a level of the
    strongest possible (white on black, black on white), the ink is taken at face value, so an
    MNIST digit whose brightest pixel is 254 keeps its exact grey levels.
    """
    contrast = np.max([np.abs(p - b) for p, b in zip(planes, background)], axis=0)
    peak = float(contrast.max())
    if peak < 0.1:
        return None  # a single colour (or nearly): nothing drawn
    possible = float(np.maximum(background, 1 - background).max())
    full = possible if peak >= possible - 1.5 / 255 else peak
    return np.clip(contrast / full, 0, 1)


def _shrink(a: np.ndarray, k: int) -> np.ndarray:
    """Block means of k x k pixels of a 2-D array (the last partial blocks are dropped)."""
    if k == 1:
        return a
    h, w = a.shape[0] // k, a.shape[1] // k
    return a[: h * k, : w * k].reshape(h, k, w, k).mean(axis=(1, 3))


def _expand(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A small (h, w) float map stretched smoothly to `shape`."""
    return np.asarray(
        Image.fromarray(a.astype(np.float32), mode="F").resize(shape[::-1], Image.Resampling.BILINEAR)
    )


def _photo_ink(planes: np.ndarray) -> np.ndarray | None:
    """Ink of a photo ((C, H, W) colour planes in [0, 1]): its contrast to the paper, strokes only.

    The paper's local brightness is a morphological closing (for dark ink; an opening for light
    ink) of a downscaled copy, which fills in strokes narrower than its window and follows the
    light. Contrast relative to it, |pixel - paper| / paper, cancels uneven light and soft
    shadows (both multiply paper and ink alike); taken per colour channel, ink of any colour
    counts. Strokes are then found by hysteresis and the digit is kept apart from specks,
    shadows and page edges (`_digit_strokes`).
    """
    _, h, w = planes.shape
    k = max(
        1, round(max(h, w) / 400)
    )  # the paper's brightness at about 400 px: fine enough to keep the edge of a shadow or a page sharp
    small = np.stack([_shrink(p, k) for p in planes])
    gray = np.tensordot(LUMA, small, 1) if len(small) == 3 else small[0]
    light = _light_ink(_shrink(gray, max(1, round(max(gray.shape) / 128))))
    # The envelope fills in strokes; the 3 px clean-up before it (the opposite operation) keeps
    # specks of the other kind (dust, glints) from being taken for the paper.
    envelope, clean_up, sign = (
        (ndi.grey_opening, ndi.grey_closing, 1) if light else (ndi.grey_closing, ndi.grey_opening, -1)
    )
    window = max(3, round(min(small.shape[1:]) / 4))
    ratio = None
    for plane, coarse in zip(planes, small):
        paper = _expand(ndi.gaussian_filter(envelope(clean_up(coarse, size=3), size=window), 1), (h, w))
        # A floor on the paper: a channel that is black on the paper carries no light to compare.
        contrast = sign * (plane - paper) / np.maximum(paper, 0.05)
        ratio = contrast if ratio is None else np.maximum(ratio, contrast)
    ratio = ndi.gaussian_filter(ratio, 0.8)  # sensor noise and JPEG ringing, not strokes
    return _digit_strokes(ratio)


def _light_ink(gray: np.ndarray) -> bool:
    """Whether the ink is lighter than the paper: which of darker or lighter details stand out more.

    Compared with a wide blur of a small copy of the picture (the paper, give or take the
    light), strokes stand far out; gradients, soft shadows and paper texture do not.
    """
    detail = gray - ndi.gaussian_filter(gray, max(gray.shape) / 10)
    lighter = np.clip(detail - 0.15, 0, None).sum()
    darker = np.clip(-detail - 0.15, 0, None).sum()
    return bool(lighter > darker)


def _digit_strokes(ratio: np.ndarray) -> np.ndarray | None:
    """From a map of ink contrast, the digit's strokes as ink in [0, 1], or None if there are none.

    Contrast above four noise levels may be ink. A region of twice that contrast that runs along the
    picture's border for half a side is a page edge, the table or a shadow, and is dropped whole, when its
    shape says so: when something inside the picture could be the digit and the region is much thicker
    than that (a stroke is as thick as the digit's other strokes; the table beyond a page's edge, or a
    shadow, is not). When nothing inside could be the digit and ink meets all four sides (a digit cropped
    to its ink), the regions along the border are the digit. Of the rest, strong contrast (twice the weak
    threshold, and half the strongest) is ink for sure; weak contrast counts only right next to it (a
    stroke's soft edge), so a faint shadow edge touching the digit does not join it. Specks are too small
    to be a digit. Components that touch the border count when strong ink meets all four sides (a digit
    cropped to its ink), or when nothing inside is left, and then only if large and not thin lines (the
    rim of a page edge or a shadow). Of the rest, the digit is the strongest component and the pieces
    near it.
    """
    sample = ratio[::4, ::4]  # plenty for two medians
    noise = 1.4826 * float(np.median(np.abs(sample - np.median(sample))))
    low = max(4 * noise, 0.06)
    h, w = ratio.shape
    square = np.ones((3, 3), bool)
    regions, n = ndi.label(ratio > 2 * low, structure=square)
    contact = np.bincount(border(regions), minlength=n + 1)
    contact[0] = 0
    along = contact > min(h, w) / 2  # regions running along the border
    inside = (contact == 0) & (np.bincount(regions.ravel(), minlength=n + 1) >= (max(h, w) / 25) ** 2 / 4)
    inside[0] = False
    edges = (regions[0], regions[-1], regions[:, 0], regions[:, -1])
    if not inside.any() and all(edge.any() for edge in edges):
        # Nothing inside could be the digit, and ink meets all four sides: a digit cropped to its ink.
        along[:] = False
    elif inside.any():
        thickness = region_thickness(regions, n)
        along &= thickness > 2.5 * np.median(thickness[inside])
    # Dropped with a margin of a fiftieth of the picture: its rim, where the paper's estimate
    # (made on a smaller copy) cannot follow the sharp edge, goes with it.
    clutter = ndi.maximum_filter(along[regions], size=2 * (max(h, w) // 100) + 1)
    ratio = np.where(clutter, 0, ratio)
    high = max(2 * low, 0.5 * float(ratio.max()))
    strong = ratio > high
    if not strong.any():
        return None
    labels, n = ndi.label((ratio > low) & ndi.maximum_filter(strong, size=7), structure=square)
    has_strong = np.zeros(n + 1, dtype=bool)
    has_strong[np.unique(labels[strong])] = True
    touches = np.zeros(n + 1, dtype=bool)
    touches[np.unique(border(labels))] = True
    boxes = ndi.find_objects(labels)
    sides = np.array([[0, 0]] + [sorted((b[0].stop - b[0].start, b[1].stop - b[1].start)) for b in boxes])
    big = sides[:, 1] >= max(h, w) / 25  # a dot, never a digit
    stout = sides[:, 1] <= 12 * sides[:, 0]  # not a line
    strong_labels = np.flatnonzero(has_strong)
    cropped = all(
        np.isin(side, strong_labels).any() for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1])
    )
    candidates = has_strong & big & (~touches | cropped)  # ink on all four sides: a digit cropped to its ink
    if not candidates[1:].any():  # a tightly cropped digit: then it fills much of the picture
        candidates = has_strong & stout & (sides[:, 1] >= min(h, w) / 4)
    if not candidates[1:].any():
        return None
    mass = np.bincount(labels.ravel(), ratio.ravel(), minlength=n + 1)[1:]
    keep = np.concatenate([[False], _nearby_group(candidates[1:], mass, boxes)])
    stroke = keep[labels]
    full = float(np.percentile(ratio[stroke & strong], 90))
    return np.where(stroke, np.clip((ratio - low) / max(full - low, 1e-3), 0, 1), 0).astype(np.float32)


def region_thickness(regions: np.ndarray, n: int) -> np.ndarray:
    """(n + 1,) each labelled region's mean thickness in pixels: twice its area over its outline's length."""
    area = np.bincount(regions.ravel(), minlength=n + 1).astype(np.float64)
    edge = regions != ndi.grey_erosion(regions, size=3)  # pixels of a region next to another label
    outline = np.bincount(regions[edge & (regions > 0)], minlength=n + 1).astype(np.float64)
    return 2 * area / np.maximum(outline, 1)


def _nearby_group(candidates: np.ndarray, mass: np.ndarray, boxes: list) -> np.ndarray:
    """The strongest component, and every candidate of some weight close enough to join it.

    A digit may come in pieces (a '5' whose top bar is apart, a broken pencil line), so pieces
    within a quarter of the digit's size are added one by one, each growing the digit's box.
    """
    keep = np.zeros_like(candidates)
    main = int(np.argmax(np.where(candidates, mass, -1)))
    keep[main] = True
    (y0, y1), (x0, x1) = (
        (boxes[main][0].start, boxes[main][0].stop),
        (boxes[main][1].start, boxes[main][1].stop),
    )
    grown = True
    while grown:
        grown = False
        reach = 0.25 * max(y1 - y0, x1 - x0)
        for i in np.flatnonzero(candidates & ~keep):
            if mass[i] < 0.03 * mass[main]:
                continue
            b = boxes[i]
            gap_y = max(y0 - b[0].stop, b[0].start - y1, 0)
            gap_x = max(x0 - b[1].stop, b[1].start - x1, 0)
            if max(gap_y, gap_x) <= reach:
                keep[i] = grown = True
                y0, y1, x0, x1 = (
                    min(y0, b[0].start),
                    max(y1, b[0].stop),
                    min(x0, b[1].start),
                    max(x1, b[1].stop),
                )
    return keep


def gray(a: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C>=3) floats -> (H, W) luminance."""
    return a if a.ndim == 2 else a[..., :3] @ LUMA


def border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
