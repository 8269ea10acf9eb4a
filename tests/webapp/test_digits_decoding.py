"""Decoding what reaches the server (webapp.digits.decoding): digits sent back and uploaded files, each
bounded before its pixels are decoded; every unusable input an InputError that says why."""

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
    png_bomb,
    save,
    stroke_canvas,
)
from webapp.digits.decoding import (
    MAX_PIXELS,
    WORK_SIDE,
    decode_data_url,
    digit_from_png,
    limit_decoding,
    open_image,
)
from webapp.digits.upload import read_upload
from webapp.errors import InputError


def digit_of(path) -> np.ndarray:
    """An uploaded file's digit, as the app reads it."""
    return read_upload(path).digit


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
