"""Decoding what reaches the server from outside, bounded: digits sent back by the page, uploaded files.

Anything sent to the server may be hostile: sizes are read from headers before pixels are
decoded, a data URL's length is checked before its base64, JPEGs are decoded at a reduced scale
and everything else reduced in its own 8/16-bit mode before any float array exists. Every way an
input can be unusable becomes an InputError with a message for the person who sent it.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from .mnist_format import SIZE

MAX_PIXELS = 40_000_000  # the largest picture decoded at all (a PNG is decoded at full size first)
WORK_SIDE = 1024  # pictures are analysed at most this large: plenty for a digit, cheap to filter


def limit_decoding() -> None:
    """Make every PIL decode in this process refuse pictures larger than MAX_PIXELS.

    Gradio decodes some images itself (the Latent tab's, an upload through `/denoise`'s client),
    before the app sees them; PIL's own bomb check is the only bound there. PIL refuses above twice
    MAX_IMAGE_PIXELS (and only warns above it), so half of MAX_PIXELS makes that refusal fall
    exactly at the largest picture the app decodes anywhere (a PNG upload, decoded at full size);
    PIL's default refuses only above 179 megapixels, which is gigabytes of RGBA.
    """
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2


def decode_data_url(url: object, max_chars: int, what: str = "digit") -> bytes:
    """The PNG bytes of a `data:image/png;base64,...` URL, its length checked before anything is decoded."""
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise InputError(f"The {what} must be sent as a PNG data URL.")
    if len(url) > max_chars:
        raise InputError(
            f"This {what} is {len(url):,} characters long, "
            f"more than the canvas can make ({max_chars:,} at most)."
        )
    try:
        return base64.b64decode(url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"The {what} is not valid base64.") from None


def digit_from_png(png: bytes) -> np.ndarray:
    """A 28 x 28 greyscale PNG (a digit the server made, sent back by the page) -> (28, 28) floats in
    [0, 1]."""
    try:
        image = Image.open(io.BytesIO(png))
        if image.size != (SIZE, SIZE):
            raise InputError(
                f"A digit must be {SIZE} × {SIZE} pixels, not {image.size[0]} × {image.size[1]}."
            )
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except InputError:
        raise
    except Image.DecompressionBombError:  # PIL's own bound (limit_decoding), from the header alone
        raise InputError(
            f"A digit must be {SIZE} × {SIZE} pixels; this one claims to be far larger."
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise InputError("The digit is not a PNG that can be read.") from None


# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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
            raise InputError(
                f"This image is too large ({w:,} × {h:,} pixels); "
                f"the limit is {MAX_PIXELS // 1_000_000} megapixels."
            )
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
        # PIL refuses before we can read the size: once limit_decoding() has run, a genuinely huge picture
        # lands here too.
        raise InputError(
            f"This image is too large to be decoded safely: it has (or claims to have) more than "
            f"{MAX_PIXELS // 1_000_000} megapixels."
        ) from None
    except UnidentifiedImageError:
        raise InputError(
            "This file is not an image that can be read (PNG, JPEG, GIF, BMP, TIFF, WebP...)."
        ) from None
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
    if image.mode in (
        "LA",
        "RGBA",
    ):  # PIL would premultiply a full-size copy first; band by band costs one band
        return Image.merge(image.mode, [image.getchannel(band).reduce(factor) for band in image.getbands()])
    if image.mode in ("L", "RGB", "CMYK", "I", "F"):
        return image.reduce(factor)  # integer-factor block means: the cheapest full-size pass
    return image.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.BOX)
