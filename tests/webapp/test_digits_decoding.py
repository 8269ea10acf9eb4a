"""Decoding what reaches the server (webapp.digits.decoding): canvas drawings, digits sent back, uploaded
files, each bounded before its pixels are decoded; every unusable input an InputError that says why."""

import io
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.support import (
    ROOT,
    assert_mnist_like,
    drawing_png,
    middle_row_width,
    png_bomb,
    save,
    stroke_canvas,
)
from webapp.digits.decoding import (
    MAX_PIXELS,
    WORK_SIDE,
    decode_data_url,
    digit_from_drawing,
    digit_from_png,
    drawing_ink,
    limit_decoding,
    open_image,
)
from webapp.digits.mnist_format import MNIST_STROKE, mnist_style
from webapp.digits.upload import read_upload
from webapp.errors import InputError


def digit_of(path) -> np.ndarray:
    """An uploaded file's digit, as the app reads it."""
    return read_upload(path).digit


# --- Drawings --------------------------------------------------------------------------------------


def test_blank_canvas_is_none_not_an_error():
    png = drawing_png(np.zeros((320, 320), dtype=np.uint8))
    assert not drawing_ink(png).any() and mnist_style(drawing_ink(png)) is None
    assert digit_from_drawing(png) is None


@pytest.mark.parametrize(
    "ink, under",
    [((37, 99, 235), (0, 0, 0)), ((240, 240, 240), (255, 255, 255)), ((0, 0, 0), (31, 31, 31))],
    ids=["blue-pen", "white-pen", "black-pen"],
)
def test_the_ink_is_the_alpha_whatever_its_colour(ink, under):
    """The stroke of `stroke_canvas` (160 x 30 px) is the large rectangle of test_digits_mnist_format: scaled
    by 20/160 to 20 x 3.75, i.e. 20 x 4 px of full ink, at rows 4-23 and columns 12-15, whatever the pen's
    colour (the page's theme) or the colour under the transparent pixels."""
    digit = mnist_style(drawing_ink(drawing_png(stroke_canvas(), ink, under)))
    expected = np.zeros((28, 28), dtype=np.float32)
    expected[4:24, 12:16] = 1
    assert np.allclose(digit, expected, atol=1e-4)


def drawn_seven(height: int, width: int, brush: int) -> bytes:
    """A '7' drawn on the canvas: a top bar and a vertical stroke down its right end, `brush` px wide."""
    alpha = np.zeros((320, 320), dtype=np.uint8)
    alpha[10 : 10 + brush, 10 : 10 + width] = 255
    alpha[10 : 10 + height, 10 + width - brush : 10 + width] = 255
    return drawing_png(alpha)


@pytest.mark.parametrize(
    "height, width, brush, fat",
    [(60, 40, 24, True), (300, 200, 4, False)],
    ids=["small-digit-fat-brush", "tall-digit-thin-brush"],
)
def test_drawn_strokes_get_mnist_like_width(height, width, brush, fat):
    """Scaled to 20 px as drawn, the vertical stroke would be brush * 20 / height px wide: 8 px
    (a blob) or 0.27 px (a hairline); MNIST's digits are 1.25-4.7 px (1st-99th percentile)."""
    png = drawn_seven(height, width, brush)
    as_drawn = middle_row_width(mnist_style(drawing_ink(png)))
    assert as_drawn == pytest.approx(brush * 20 / height, rel=0.25)  # resampling rings a little at a hairline
    digit = digit_from_drawing(png)
    assert MNIST_STROKE[0] <= middle_row_width(digit) <= MNIST_STROKE[2]
    assert digit.max() > 0.9
    rows, _ = np.nonzero(digit > 0.05)
    assert 19 <= rows.max() - rows.min() + 1 <= 21


def test_drawn_strokes_of_mnist_width_are_left_alone():
    """A '1' 200 px tall with the 24 px brush: 24 * 20 / 200 = 2.4 px, an ordinary MNIST width."""
    png = drawing_png(stroke_canvas(box=(140, 40, 164, 240)))
    assert np.array_equal(digit_from_drawing(png), mnist_style(drawing_ink(png)))


def test_a_drawn_blob_is_not_eroded_away():
    """Strokes run together into a filled disc: its width cannot be made MNIST's, but it must not vanish."""
    yy, xx = np.mgrid[0:320, 0:320]
    alpha = ((np.hypot(yy - 60, xx - 60) <= 30) * 255).astype(np.uint8)
    digit = digit_from_drawing(drawing_png(alpha))
    assert digit is not None and digit.max() > 0.9


def test_a_drawing_larger_than_the_canvas_is_refused():
    png = drawing_png(np.zeros((2000, 600), dtype=np.uint8))
    with pytest.raises(InputError, match="larger than the canvas"):
        drawing_ink(png, max_side=1280)
    with pytest.raises(InputError, match="larger than the canvas"):
        digit_from_drawing(png, max_side=320)
    assert digit_from_drawing(drawing_png(stroke_canvas()), max_side=320) is not None


def test_a_drawing_is_refused_from_its_header_before_its_pixels_are_decoded(monkeypatch):
    """PNGs that claim 6,000 x 6,000 and 12,000 x 12,000 pixels (their data is far too short for that): the
    first is refused by its size, the second already by PIL's bound once the app has set it
    (limit_decoding)."""
    with pytest.raises(InputError, match="larger than the canvas"):
        drawing_ink(png_header(6_000, 6_000))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # put back after the test
    limit_decoding()
    with pytest.raises(InputError, match="larger than the canvas"):
        drawing_ink(png_header(12_000, 12_000))


def test_data_urls_are_checked_before_they_are_decoded():
    assert decode_data_url("data:image/png;base64,QUJD", 100) == b"ABC"
    with pytest.raises(InputError, match="more than the canvas can make"):
        decode_data_url("data:image/png;base64," + "A" * 100, 50)
    for bad, message in (
        (None, "PNG data URL"),
        ("data:image/jpeg;base64,QUJD", "PNG data URL"),
        ("data:image/png;base64,Q", "not valid base64"),
    ):
        with pytest.raises(InputError, match=message):
            decode_data_url(bad, 100)


def test_a_digit_sent_back_is_read_as_it_was_sent():
    digit = np.arange(784, dtype=np.uint8).reshape(28, 28)
    png = io.BytesIO()
    Image.fromarray(digit).save(png, format="png")
    assert np.array_equal(digit_from_png(png.getvalue()), digit / np.float32(255))
    with pytest.raises(InputError, match="not a PNG"):
        digit_from_png(b"not a png")


# --- Uploaded files --------------------------------------------------------------------------------


def test_very_large_image(tmp_path):
    image = Image.new("L", (6000, 6000), 0)
    image.paste(255, (2000, 1000, 2600, 5000))
    digit = digit_of(save(image, tmp_path, "big.png"))
    assert_mnist_like(digit)


@pytest.mark.parametrize("mode", ["1", "P", "RGBA", "I;16"])
def test_large_images_are_reduced_by_averaging_in_every_mode(mode, tmp_path):
    """A 4000 px picture of a 2 px wide stroke is reduced 4x: averaged, the stroke stays a faint
    line; sampled every 4th pixel (as palette indices and 1-bit pixels are resized), it is lost."""
    base = Image.new("L", (4000, 4000), 0)
    base.paste(255, (2004, 500, 2006, 3500))
    image = {
        "1": lambda: base.convert("1"),
        "P": lambda: base.convert("P"),
        "I;16": lambda: base.convert("I;16"),
        "RGBA": lambda: Image.merge("RGBA", [base] * 3 + [Image.new("L", base.size, 255)]),
    }[mode]()
    digit = digit_of(save(image, tmp_path, "big.png"))
    assert_mnist_like(digit)


def test_too_many_pixels_is_refused_before_decoding(tmp_path):
    path = save(Image.new("1", (10_000, 10_000), 0), tmp_path, "huge.png")
    assert 10_000 * 10_000 > MAX_PIXELS
    with pytest.raises(InputError, match="too large"):
        digit_of(path)


def test_decompression_bomb(tmp_path):
    """A tiny PNG whose header claims 100,000 x 100,000 pixels."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb())
    with pytest.raises(InputError, match="too large|too many pixels"):
        digit_of(path)


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels (PIL checks the claim on opening, before decoding)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + chunk(b"IEND", b"")
    )


def test_limit_decoding_makes_pil_refuse_what_the_app_refuses(monkeypatch):
    """Gradio opens uploads with plain Image.open: after limit_decoding, anything over
    MAX_PIXELS is refused there too, while a picture at the limit still opens."""
    # PIL's own default (1 GiB of 24-bit pixels / 4): an earlier test or the app import may
    # already have lowered it; monkeypatch puts back whatever was there after the test
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1024 * 1024 * 1024 // 4 // 3)
    over = io.BytesIO(png_header(8000, 6000))  # 48 MP: PIL's default would decode it
    assert 8000 * 6000 > MAX_PIXELS
    Image.open(over).close()
    limit_decoding()
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(png_header(8000, 6000)))
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(io.BytesIO(png_header(6000, 6000))).close()  # 36 MP, under the cap: opens


CHILD = """
import sys
from webapp.digits.upload import read_upload
def kb(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))
open("/proc/self/clear_refs", "w").write("5")  # the peak RSS mark starts again from here
before = kb("VmRSS:")
read_upload(sys.argv[1])
print((kb("VmHWM:") - before) // 1024)
"""


def peak_memory_mb(path) -> int:
    """Extra peak RSS (MB) of reading `path` with read_upload, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


@pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="measures peak RSS through Linux's /proc"
)
def test_a_large_png_costs_bounded_memory(tmp_path):
    """A 6000 x 6000 PNG of tens of KB: decoded whole into float RGBA it cost well over a
    gigabyte; the issue's budget for such a request is 400 MB."""
    image = Image.new("L", (6000, 6000), 0)
    image.paste(255, (2000, 1000, 2600, 5000))
    assert peak_memory_mb(save(image, tmp_path, "big.png")) < 400


@pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="measures peak RSS through Linux's /proc"
)
def test_a_large_jpeg_is_never_decoded_at_full_size(tmp_path):
    """A 35 MP photo takes 140 MB decoded at full size (4 bytes a pixel in PIL); the JPEG
    decoder's reduced scale must make reading it cost less than that."""
    image = Image.new("RGB", (7000, 5000), (235, 235, 230))
    image.paste((30, 40, 110), (3000, 1500, 3300, 3500))
    assert peak_memory_mb(save(image, tmp_path, "big.jpg", format="jpeg")) < 7000 * 5000 * 4 / 2**20


def test_a_jpeg_is_decoded_small(tmp_path):
    path = save(Image.new("RGB", (4000, 3000), "white"), tmp_path, "photo.jpg", format="jpeg")
    image = open_image(path)
    assert max(image.size) <= WORK_SIDE and image.size[0] / image.size[1] == pytest.approx(4 / 3, abs=0.01)


def test_not_an_image_and_truncated(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("this is not an image")
    with pytest.raises(InputError, match="not an image"):
        digit_of(fake)
    buf = io.BytesIO()
    Image.fromarray(stroke_canvas(200, (90, 20, 110, 180))).save(buf, format="png")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        digit_of(truncated)


def test_animated_gif_uses_the_first_frame(tmp_path):
    frames = [Image.fromarray(stroke_canvas(64, (28, 8, 36, 56))), Image.new("L", (64, 64), 0)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert_mnist_like(digit_of(path))


def test_exif_rotation_is_applied(tmp_path):
    image = np.zeros((60, 100), dtype=np.uint8)
    image[25:35, 10:90] = 255  # a horizontal bar...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...stored with "rotate 90° clockwise" in its EXIF
    path = save(
        Image.fromarray(image), tmp_path, "rotated.jpg", format="jpeg", exif=exif.tobytes(), quality=95
    )
    digit = digit_of(path)
    rows, cols = np.nonzero(digit > 0.3)
    assert rows.max() - rows.min() > cols.max() - cols.min()  # shown upright: now a vertical bar
