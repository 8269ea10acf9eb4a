"""MNIST's own recipe (webapp.digits.mnist_format): the ink scaled into a 20 px box, centred by mass in 28 x
28, strokes re-drawn at MNIST's width when far thinner or fatter; a digit already MNIST-style comes back
unchanged.

Expected values are computed by hand in each test, or are MNIST's own digits."""

import io

import numpy as np
import pytest
from PIL import Image

from dae.samples import load_samples
from tests.support import REAL_MNIST_SKIP, real_mnist_root
from tools.synthetic import agreement, shifted
from webapp.digits.mnist_format import MNIST_STROKE, mnist_style, stroke_width
from webapp.digits.upload import read_upload


def test_a_known_shape_is_placed_by_hand_computed_centre_of_mass():
    """An L of ones, 20 px tall (so not resampled): bar 20 x 2, foot 2 x 8 at the bottom right.

    Its centre of mass, by hand: rows (40 * 9.5 + 16 * 18.5) / 56 = 12.07, columns
    (40 * 0.5 + 16 * 5.5) / 56 = 1.93. Moving it to (14, 14) by whole pixels: down 2, right 12.
    """
    shape = np.zeros((20, 10), dtype=np.float32)
    shape[:, 0:2] = 1
    shape[18:20, 2:10] = 1
    canvas = np.zeros((50, 60), dtype=np.float32)
    canvas[7:27, 33:43] = shape
    expected = np.zeros((28, 28), dtype=np.float32)
    expected[2:22, 12:22] = shape
    assert np.array_equal(mnist_style(canvas), expected)


def test_a_19_px_digit_is_mnist_sized_too():
    """MNIST has digits 19 px long (anti-aliasing left the 20th row empty): one already placed,
    a 19 x 4 block at rows 5-23 (centre 14.0), columns 12-15 (centre 13.5), stays exactly where it is."""
    digit = np.zeros((28, 28), dtype=np.float32)
    digit[5:24, 12:16] = 0.75
    assert np.array_equal(mnist_style(digit), digit)


def test_a_large_rectangle_is_scaled_to_20_px_and_centred():
    """A 160 x 30 block: scaled by 20/160 to 20 x 3.75, i.e. 20 x 4 px of full ink (a uniform area stays
    uniform); its centre (9.5, 1.5) goes to (14, 14) less half a pixel: rows 4-23, columns 12-15."""
    canvas = np.zeros((320, 320), dtype=np.float32)
    canvas[40:200, 140:170] = 1
    expected = np.zeros((28, 28), dtype=np.float32)
    expected[4:24, 12:16] = 1
    assert np.allclose(mnist_style(canvas), expected, atol=1e-4)


def test_mnist_digits_come_back_unchanged():
    """The 100 bundled MNIST test digits, directly and as 28 x 28 PNG uploads: bit for bit."""
    digits, _ = load_samples()
    for digit in digits:
        assert np.array_equal(mnist_style(digit), digit)
        buf = io.BytesIO()
        Image.fromarray((digit * 255).round().astype(np.uint8)).save(buf, format="png")
        assert np.array_equal(read_upload(buf).digit, digit)


def test_a_moved_mnist_digit_is_moved_back():
    """Shifting an MNIST digit inside its frame changes nothing MNIST's recipe looks at: the same digit comes
    back."""
    digits, _ = load_samples()
    # one shift per direction, each small enough to keep its digit whole
    # (digit 25 spans rows 2-21: up by 2 at most)
    for i, (dy, dx) in enumerate([(3, -2), (-2, 4), (2, 3), (-3, -4)]):
        digit = digits[i * 25]
        rows, cols = np.nonzero(digit)
        inside = (
            0 <= rows.min() + dy and rows.max() + dy < 28 and 0 <= cols.min() + dx and cols.max() + dx < 28
        )
        assert inside, (
            f"shifting digit {i * 25} by ({dy}, {dx}) would push ink out of the frame: "
            "not a case of this test"
        )
        assert np.array_equal(mnist_style(shifted(digit, dy, dx)), digit)


def test_an_upscaled_mnist_digit_comes_back_close():
    """A digit blown up 3x (each pixel a 3 x 3 block) is 60 px long: scaled back by exactly 1/3."""
    digits, _ = load_samples()
    for digit in digits[::10]:
        big = np.kron(digit, np.ones((3, 3), dtype=np.float32))
        assert agreement(mnist_style(big), digit, max_shift=0) >= 25


@pytest.mark.skipif(real_mnist_root() is None, reason=REAL_MNIST_SKIP)
def test_the_whole_mnist_test_set_comes_back_unchanged(capsys):
    from dae.data import load_mnist

    images = load_mnist(real_mnist_root(), train=False, download=False)[0].numpy()
    unchanged = within = 0
    for image in images:
        digit = image.astype(np.float32) / 255
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="png")
        result = read_upload(buf).digit
        unchanged += np.array_equal(result, digit) and np.array_equal(mnist_style(digit), digit)
        within += np.abs(result - digit).max() <= 1 / 255
    with capsys.disabled():
        print(
            f"\nMNIST round trip: {unchanged}/{len(images)} test digits unchanged bit for bit, "
            f"{within} within 1/255"
        )
    assert unchanged == len(images)
    # MNIST_STROKE is measured on this set: its 1st, 50th, 99th percentiles.
    widths = [stroke_width(image.astype(np.float32) / 255) for image in images]
    assert np.allclose(np.percentile(widths, [1, 50, 99]), MNIST_STROKE, atol=0.01)
