"""The drawing/upload -> 28 x 28 path, without a browser."""

import io

import numpy as np
import pytest
from PIL import Image

from dae.preprocess import MAX_PIXELS, InputError, digit_from_file, image_ink, mnist_style, sketch_ink

from .conftest import png_bomb


def save(image: Image.Image, tmp_path, name="digit.png", **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def stroke_canvas(size=320, box=(140, 40, 170, 200)) -> np.ndarray:
    """Alpha of a thick vertical stroke, like a '1' drawn on the sketchpad."""
    alpha = np.zeros((size, size), dtype=np.uint8)
    x0, y0, x1, y1 = box
    alpha[y0:y1, x0:x1] = 255
    return alpha


def sketch_value(alpha: np.ndarray, background_rgb) -> dict:
    h, w = alpha.shape
    layer = np.zeros((h, w, 4), dtype=np.uint8)
    layer[..., :3] = (37, 99, 235)
    layer[..., 3] = alpha
    background = np.zeros((h, w, 4), dtype=np.uint8)
    background[..., :3] = background_rgb
    background[..., 3] = 255
    a = alpha[..., None] / 255.0
    composite = (background * (1 - a) + layer * a).astype(np.uint8)
    composite[..., 3] = 255
    return {"background": background, "layers": [layer], "composite": composite}


def assert_mnist_like(digit: np.ndarray, tall: bool = True):
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert 0 <= digit.min() and digit.max() <= 1
    rows, cols = np.nonzero(digit > 0.05)
    if tall:
        assert 19 <= rows.max() - rows.min() + 1 <= 21  # longest side 20 px (anti-aliasing may touch one more)
    cy = (digit.sum(1) * np.arange(28)).sum() / digit.sum()
    cx = (digit.sum(0) * np.arange(28)).sum() / digit.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1  # centre of mass at the centre


def test_blank_canvas_is_none_not_an_error():
    assert sketch_ink(None) is None
    assert sketch_ink({"background": None, "layers": [], "composite": None}) is None
    value = sketch_value(np.zeros((320, 320), dtype=np.uint8), (255, 255, 255))
    ink = sketch_ink(value)
    assert mnist_style(ink) is None


@pytest.mark.parametrize("background", [(255, 255, 255), (31, 31, 31)], ids=["light-theme", "dark-theme"])
def test_light_and_dark_canvas_give_the_same_digit(background):
    value = sketch_value(stroke_canvas(), background)
    digit = mnist_style(sketch_ink(value))
    reference = mnist_style(stroke_canvas().astype(np.float32) / 255)
    assert_mnist_like(digit)
    assert np.allclose(digit, reference)


def test_composite_only_falls_back_to_difference_from_background():
    value = sketch_value(stroke_canvas(), (31, 31, 31))
    value["layers"] = []
    digit = mnist_style(sketch_ink(value))
    assert_mnist_like(digit)


def test_off_centre_small_digit_is_centred_and_20px_tall(tmp_path):
    image = np.zeros((500, 700), dtype=np.uint8)
    image[400:440, 600:615] = 255  # a small bar in the bottom-right corner
    digit = digit_from_file(save(Image.fromarray(image), tmp_path))
    assert_mnist_like(digit)


def test_dark_on_light_upload_is_inverted(tmp_path):
    image = np.full((100, 100), 255, dtype=np.uint8)
    image[20:80, 45:55] = 0  # black ink on white paper
    digit = digit_from_file(save(Image.fromarray(image), tmp_path))
    assert_mnist_like(digit)
    assert digit[0, 0] == 0 and digit.max() > 0.9  # white digit on black


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "CMYK", "I;16", "I", "F", "1", "RGB"])
def test_every_image_mode(mode, tmp_path):
    base = Image.fromarray(stroke_canvas(64, (28, 8, 36, 56)))
    if mode == "RGBA":
        image = Image.new("RGBA", base.size, (0, 0, 0, 0))
        image.putalpha(base)  # transparent background: the alpha is the ink
    elif mode == "I;16":
        image = Image.fromarray((np.asarray(base).astype(np.uint16) * 257), mode="I;16")
    elif mode == "F":
        image = base.convert("F")
    else:
        image = base.convert(mode)
    fmt = {"CMYK": "jpeg", "F": "tiff", "I": "png", "I;16": "png"}.get(mode, "png")
    path = save(image, tmp_path, f"digit.{fmt}", format=fmt)
    assert_mnist_like(digit_from_file(path))


def test_tiny_and_blank_images(tmp_path):
    with pytest.raises(InputError, match="blank"):
        digit_from_file(save(Image.new("L", (1, 1), 255), tmp_path, "one.png"))
    for colour in (0, 255):
        with pytest.raises(InputError, match="blank"):
            digit_from_file(save(Image.new("RGB", (50, 50), (colour,) * 3), tmp_path, f"c{colour}.png"))


def test_a_one_pixel_digit_still_works(tmp_path):
    image = np.zeros((9, 9), dtype=np.uint8)
    image[4, 4] = 255
    digit = digit_from_file(save(Image.fromarray(image), tmp_path))
    assert digit.shape == (28, 28) and digit.max() > 0


def test_very_large_image(tmp_path):
    image = Image.new("L", (6000, 6000), 0)
    image.paste(255, (2000, 1000, 2600, 5000))
    digit = digit_from_file(save(image, tmp_path, "big.png"))
    assert_mnist_like(digit)


def test_too_many_pixels_is_refused_before_decoding(tmp_path):
    path = save(Image.new("1", (10_000, 10_000), 0), tmp_path, "huge.png")
    assert 10_000 * 10_000 > MAX_PIXELS
    with pytest.raises(InputError, match="too large"):
        digit_from_file(path)


def test_decompression_bomb(tmp_path):
    """A tiny PNG whose header claims 100,000 x 100,000 pixels."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb())
    with pytest.raises(InputError, match="too large|too many pixels"):
        digit_from_file(path)


def test_not_an_image_and_truncated(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("this is not an image")
    with pytest.raises(InputError, match="not an image"):
        digit_from_file(fake)
    buf = io.BytesIO()
    Image.fromarray(stroke_canvas(200, (90, 20, 110, 180))).save(buf, format="png")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        digit_from_file(truncated)


def test_animated_gif_uses_the_first_frame(tmp_path):
    frames = [Image.fromarray(stroke_canvas(64, (28, 8, 36, 56))), Image.new("L", (64, 64), 0)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert_mnist_like(digit_from_file(path))


def test_exif_rotation_is_applied(tmp_path):
    image = np.zeros((60, 100), dtype=np.uint8)
    image[25:35, 10:90] = 255  # a horizontal bar...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...stored with "rotate 90° clockwise" in its EXIF
    path = save(Image.fromarray(image), tmp_path, "rotated.jpg", format="jpeg", exif=exif.tobytes(), quality=95)
    digit = digit_from_file(path)
    rows, cols = np.nonzero(digit > 0.3)
    assert rows.max() - rows.min() > cols.max() - cols.min()  # shown upright: now a vertical bar


def test_image_ink_of_single_colour_is_none():
    assert image_ink(Image.new("RGB", (30, 30), (120, 50, 200))) is None
