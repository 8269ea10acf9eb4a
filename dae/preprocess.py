"""Turn a drawing, an upload or a photo into a 28 x 28 digit the way MNIST digits were made.

MNIST's recipe (LeCun et al.): crop the digit to its bounding box, scale it, keeping the aspect
ratio and anti-aliasing, so its longest side is 20 px, and paste it into a 28 x 28 field with
its centre of mass at pixel (14, 14) (0-based); white digit on black. Drawings, uploads and
photos go through the same steps, so the model sees what it was trained on, and a digit that
already is MNIST-style comes back unchanged.

Where the ink is never depends on a colour: a sketch's stroke layer is transparent except the
ink (its alpha channel is the ink, in the light and the dark theme alike), a transparent upload
likewise; an opaque picture on a uniform background (a scan, a screenshot, an MNIST PNG) is read
against that background; anything else is a photo, read against the paper's local brightness.

Anything sent to the server may be hostile: pictures are decoded to a bounded size (JPEG at a
reduced scale, everything else reduced in its own 8/16-bit mode before any float array exists).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

SIZE, BOX = 28, 20
CENTRE = 14.0  # MNIST's centre of mass, as a 0-based pixel index (not the frame's middle, 13.5)
MAX_PIXELS = 40_000_000  # the largest picture decoded at all (a PNG is decoded at full size first)
WORK_SIDE = 1024  # pictures are analysed at most this large: plenty for a digit, cheap to filter
PREVIEW_SIDE = 256
MAX_SKETCH_SIDE = 4 * 320  # the app's 320 x 320 canvas, with room for a device pixel ratio up to 4
STROKE_SIDE = 128  # strokes are measured and re-drawn at most this large
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as PIL's convert("L")
# Stroke width of MNIST's digits in 28 x 28 pixels (`stroke_width`): 1st percentile, median and
# 99th percentile over the 10,000 test digits. A drawing or photo whose strokes would come out
# outside that range, thinner or fatter than almost any MNIST digit, is re-drawn at the median
# width (`normalise_strokes`); inside it, a digit keeps the strokes it has.
MNIST_STROKE = (1.25, 2.25, 4.69)


class InputError(ValueError):
    """The input cannot be used; the message is meant for the person who sent it."""


@dataclass(frozen=True)
class Upload:
    """An uploaded picture: the digit it became, and the picture itself, small, to show beside it."""

    digit: np.ndarray  # (28, 28) float32 in [0, 1], white on black
    preview: np.ndarray  # (h, w, 3) uint8, longest side <= PREVIEW_SIDE


def limit_decoding() -> None:
    """Make every PIL decode in this process refuse pictures larger than MAX_PIXELS.

    Gradio decodes a sketch's layers itself, before the app sees them; PIL's own bomb check is
    the only bound there. PIL refuses above twice MAX_IMAGE_PIXELS (and only warns above it), so
    half of MAX_PIXELS makes that refusal fall exactly at the largest picture the app decodes
    anywhere (a PNG upload, decoded at full size); PIL's default refuses only above 179
    megapixels, which is gigabytes of RGBA per layer.
    """
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2


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
    if _mnist_sized(crop):
        small, top0, left0 = crop, top, left
    else:
        scale = BOX / max(h, w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        small = np.asarray(Image.fromarray(crop, mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS)).clip(0, 1)
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


def _mnist_sized(ink: np.ndarray) -> bool:
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
    """The ink, its strokes re-drawn at MNIST's median width when MNIST's own digits are never that thin or fat.

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


def sketch_ink(value: dict | None, max_side: int = MAX_SKETCH_SIDE) -> np.ndarray | None:
    """The ink of a gr.Sketchpad value (RGBA numpy layers), or None when nothing is drawn.

    The stroke layer's alpha is the ink whatever the theme. Without layers, fall back to the
    composite's difference to the background. A value larger than the canvas can produce did not
    come from the page: it is refused before any arithmetic on it.
    """
    if not value:
        return None
    arrays = [value.get("composite"), value.get("background"), *(value.get("layers") or [])]
    for a in arrays:
        if a is not None and max(np.shape(a)[:2]) > max_side:
            h, w = np.shape(a)[:2]
            raise InputError(f"This drawing is {w:,} × {h:,} pixels, larger than the canvas can make ({max_side} px at most).")
    layers = [np.asarray(layer) for layer in (value.get("layers") or []) if layer is not None]
    if layers and all(layer.ndim == 3 and layer.shape[2] == 4 for layer in layers):
        return np.max(np.stack([layer[..., 3] for layer in layers]), axis=0).astype(np.float32) / 255.0
    composite, background = value.get("composite"), value.get("background")
    if composite is None:
        return None
    comp = _gray(np.asarray(composite, dtype=np.float32) / 255.0)
    bg = _gray(np.asarray(background, dtype=np.float32) / 255.0) if background is not None else np.full_like(comp, np.median(_border(comp)))
    diff = np.abs(comp - bg)
    return diff / diff.max() if diff.max() > 0 else diff


def digit_from_sketch(value: dict | None, max_side: int = MAX_SKETCH_SIDE) -> np.ndarray | None:
    """A gr.Sketchpad value -> (28, 28) MNIST-style digit with MNIST-like strokes, or None when blank."""
    ink = sketch_ink(value, max_side)
    return None if ink is None else mnist_style(normalise_strokes(ink))


def decode_data_url(url: object, max_chars: int, what: str = "drawing") -> bytes:
    """The PNG bytes of a `data:image/png;base64,...` URL, its length checked before anything is decoded."""
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise InputError(f"The {what} must be sent as a PNG data URL.")
    if len(url) > max_chars:
        raise InputError(f"This {what} is {len(url):,} characters long, more than the canvas can make ({max_chars:,} at most).")
    try:
        return base64.b64decode(url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"The {what} is not valid base64.") from None


def drawing_ink(png: bytes, max_side: int = MAX_SKETCH_SIDE) -> np.ndarray:
    """The ink of the page's canvas: a transparent PNG whose alpha channel is the ink (any theme, any colour).

    The header is read first: a picture larger than the canvas can make is refused before its pixels are decoded.
    """
    try:
        image = Image.open(io.BytesIO(png))
        w, h = image.size
        if max(w, h) > max_side:
            raise InputError(f"This drawing is {w:,} × {h:,} pixels, larger than the canvas can make ({max_side} px at most).")
        image.load()
    except InputError:
        raise
    except Image.DecompressionBombError:  # PIL's own bound (limit_decoding), from the header alone
        raise InputError(f"This drawing is larger than the canvas can make ({max_side} px at most).") from None
    except (OSError, SyntaxError, ValueError):
        raise InputError("The drawing is not a PNG that can be read.") from None
    if "A" not in image.getbands():
        raise InputError("The drawing has no transparency: send the canvas's stroke layer (its alpha is the ink).")
    return np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0


def digit_from_drawing(png: bytes, max_side: int = MAX_SKETCH_SIDE) -> np.ndarray | None:
    """The page's canvas (PNG bytes) -> (28, 28) MNIST-style digit with MNIST-like strokes, or None when blank."""
    ink = drawing_ink(png, max_side)
    return mnist_style(normalise_strokes(ink)) if ink.any() else None


def digit_from_png(png: bytes) -> np.ndarray:
    """A 28 x 28 greyscale PNG (a digit the server made, sent back by the page) -> (28, 28) floats in [0, 1]."""
    try:
        image = Image.open(io.BytesIO(png))
        if image.size != (SIZE, SIZE):
            raise InputError(f"A digit must be {SIZE} × {SIZE} pixels, not {image.size[0]} × {image.size[1]}.")
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except InputError:
        raise
    except (OSError, SyntaxError, ValueError):
        raise InputError("The digit is not a PNG that can be read.") from None


def _gray(a: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C>=3) floats -> (H, W) luminance."""
    return a if a.ndim == 2 else a[..., :3] @ LUMA


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


# --- Decoding, bounded -------------------------------------------------------------------------

# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


def open_image(path: str | Path, max_side: int = WORK_SIDE) -> Image.Image:
    """An uploaded file as an upright image at most `max_side` px long, or InputError saying what is wrong.

    The size is checked from the header before decoding. A JPEG is decoded directly at 1/2, 1/4
    or 1/8 scale (`draft`); other formats are decoded once and reduced in their own 8- or
    16-bit mode, so no float array ever exists at full resolution.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            image = Image.open(path)
        w, h = image.size
        if w * h > MAX_PIXELS:
            raise InputError(f"This image is too large ({w:,} × {h:,} pixels); the limit is {MAX_PIXELS // 1_000_000} megapixels.")
        orientation = image.getexif().get(0x0112, 1)  # read before reducing: the reduced copy has no EXIF
        if image.format in ("JPEG", "MPO") and max(w, h) > max_side:
            scale = max_side / max(w, h)
            image.draft(image.mode, (math.ceil(w * scale), math.ceil(h * scale)))
        image.load()  # an animated GIF/APNG/WebP: its first frame
        image = bounded(image, max_side)
        if orientation in _ORIENTATION:
            image = image.transpose(_ORIENTATION[orientation])
        return image
    except InputError:
        raise
    except Image.DecompressionBombError:
        # PIL refuses before we can read the size: once limit_decoding() has run, a genuinely huge picture lands here too.
        raise InputError(f"This image is too large to be decoded safely: it has (or claims to have) more than "
                         f"{MAX_PIXELS // 1_000_000} megapixels.") from None
    except UnidentifiedImageError:
        raise InputError("This file is not an image that can be read (PNG, JPEG, GIF, BMP, TIFF, WebP...).") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"This image file is damaged or truncated and cannot be decoded ({e}).") from None


def bounded(image: Image.Image, max_side: int = WORK_SIDE) -> Image.Image:
    """`image` area-averaged down to at most `max_side` px long, in a mode that averages meaningfully."""
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):  # palette indices cannot be averaged; colours can
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    w, h = image.size
    if max(w, h) <= max_side:
        return image
    factor = math.ceil(max(w, h) / max_side)
    if image.mode in ("LA", "RGBA"):  # PIL would premultiply a full-size copy first; band by band costs one band
        return Image.merge(image.mode, [image.getchannel(band).reduce(factor) for band in image.getbands()])
    if image.mode in ("L", "RGB", "CMYK", "I", "F"):
        return image.reduce(factor)  # integer-factor block means: the cheapest full-size pass
    return image.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.BOX)


# --- Where the ink is --------------------------------------------------------------------------

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

    Uniform means: most of the border and at least half of the picture share one exact colour,
    as in a scan, a drawing program's export or an MNIST PNG; never in a photo (noise, light).
    """
    flat = levels.reshape(levels.shape[0], levels.shape[1], -1)
    border = _border(flat)
    colours, counts = np.unique(border, axis=0, return_counts=True)
    colour = colours[counts.argmax()]
    if counts.max() < 0.9 * len(border):
        return None
    if np.all(flat == colour, axis=-1).mean() < 0.5:
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
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(shape[::-1], Image.Resampling.BILINEAR))


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
    k = max(1, round(max(h, w) / 400))  # the paper's brightness at about 400 px: fine enough to keep the edge of a shadow or a page sharp
    small = np.stack([_shrink(p, k) for p in planes])
    gray = np.tensordot(LUMA, small, 1) if len(small) == 3 else small[0]
    light = _light_ink(_shrink(gray, max(1, round(max(gray.shape) / 128))))
    # The envelope fills in strokes; the 3 px clean-up before it (the opposite operation) keeps
    # specks of the other kind (dust, glints) from being taken for the paper.
    envelope, clean_up, sign = (ndi.grey_opening, ndi.grey_closing, 1) if light else (ndi.grey_closing, ndi.grey_opening, -1)
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

    Contrast above four noise levels may be ink. A region of twice that contrast that runs along
    the picture's border for half a side is a page edge, the table or a shadow, and is dropped
    whole. Of the rest, strong contrast (twice the weak threshold, and half the
    strongest) is ink for sure; weak contrast counts only right next to it (a stroke's soft
    edge), so a faint shadow edge touching the digit does not join it. Specks are too small to
    be a digit. Components that touch the border count only when nothing inside is left (a
    tightly cropped digit), and then only if large and not thin lines (the rim of a page edge or
    a shadow). Of the rest, the digit is the strongest component and the pieces near it.
    """
    sample = ratio[::4, ::4]  # plenty for two medians
    noise = 1.4826 * float(np.median(np.abs(sample - np.median(sample))))
    low = max(4 * noise, 0.06)
    h, w = ratio.shape
    square = np.ones((3, 3), bool)
    regions, n = ndi.label(ratio > 2 * low, structure=square)
    contact = np.bincount(_border(regions), minlength=n + 1)
    contact[0] = 0
    # Dropped with a margin of a fiftieth of the picture: its rim, where the paper's estimate
    # (made on a smaller copy) cannot follow the sharp edge, goes with it.
    clutter = ndi.maximum_filter((contact > min(h, w) / 2)[regions], size=2 * (max(h, w) // 100) + 1)
    ratio = np.where(clutter, 0, ratio)
    high = max(2 * low, 0.5 * float(ratio.max()))
    strong = ratio > high
    if not strong.any():
        return None
    labels, n = ndi.label((ratio > low) & ndi.maximum_filter(strong, size=7), structure=square)
    has_strong = np.zeros(n + 1, dtype=bool)
    has_strong[np.unique(labels[strong])] = True
    touches = np.zeros(n + 1, dtype=bool)
    touches[np.unique(_border(labels))] = True
    boxes = ndi.find_objects(labels)
    sides = np.array([[0, 0]] + [sorted((b[0].stop - b[0].start, b[1].stop - b[1].start)) for b in boxes])
    big = sides[:, 1] >= max(h, w) / 25  # a dot, never a digit
    stout = sides[:, 1] <= 12 * sides[:, 0]  # not a line
    candidates = has_strong & big & ~touches
    if not candidates[1:].any():  # a tightly cropped digit: then it fills much of the picture
        candidates = has_strong & stout & (sides[:, 1] >= min(h, w) / 4)
    if not candidates[1:].any():
        return None
    mass = np.bincount(labels.ravel(), ratio.ravel(), minlength=n + 1)[1:]
    keep = np.concatenate([[False], _nearby_group(candidates[1:], mass, boxes)])
    stroke = keep[labels]
    full = float(np.percentile(ratio[stroke & strong], 90))
    return np.where(stroke, np.clip((ratio - low) / max(full - low, 1e-3), 0, 1), 0).astype(np.float32)


def _nearby_group(candidates: np.ndarray, mass: np.ndarray, boxes: list) -> np.ndarray:
    """The strongest component, and every candidate of some weight close enough to join it.

    A digit may come in pieces (a '5' whose top bar is apart, a broken pencil line), so pieces
    within a quarter of the digit's size are added one by one, each growing the digit's box.
    """
    keep = np.zeros_like(candidates)
    main = int(np.argmax(np.where(candidates, mass, -1)))
    keep[main] = True
    (y0, y1), (x0, x1) = (boxes[main][0].start, boxes[main][0].stop), (boxes[main][1].start, boxes[main][1].stop)
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
                y0, y1, x0, x1 = min(y0, b[0].start), max(y1, b[0].stop), min(x0, b[1].start), max(x1, b[1].stop)
    return keep


# --- The app's entry points --------------------------------------------------------------------

def preview(image: Image.Image) -> np.ndarray:
    """The picture as (h, w, 3) uint8, at most PREVIEW_SIDE px long; transparency over a contrasting backdrop."""
    image = bounded(image, PREVIEW_SIDE)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(image, dtype=np.float32)
        a = (a - a.min()) / max(float(a.max() - a.min()), 1e-6)
        return np.repeat((a * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    alpha = rgba[..., 3:]
    # Dark ink over white, light ink over dark grey: whichever the drawing shows up against.
    ink_light = (_gray(rgba[..., :3]) * alpha[..., 0]).sum() > 0.5 * alpha.sum()
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
    if ink is not None and not _mnist_sized(ink):
        ink = normalise_strokes(ink)
    digit = mnist_style(ink) if ink is not None else None
    if digit is None:
        raise InputError("This image looks blank: no digit was found in it.")
    return Upload(digit, preview(image))


def digit_from_file(path: str | Path) -> np.ndarray:
    """An uploaded image file -> (28, 28) MNIST-style digit; InputError when unusable or blank."""
    return read_upload(path).digit
