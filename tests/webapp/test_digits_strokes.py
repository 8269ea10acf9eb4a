"""A drawing's strokes -> a 28 x 28 digit (webapp.digits.strokes): MNIST's box and centre, MNIST-like widths,
the eraser, and every malformed drawing an InputError.

The expected digits are worked out by hand from the geometry: a straight vertical stroke of pen
width w whose points span E canvas pixels is E + w long as ink (round caps), so scaled into MNIST's
20 px box it is 20 px tall and w * 20 / (E + w) px wide.
"""

import numpy as np
import pytest

from tests.support import assert_mnist_like, middle_row_width
from webapp.digits.mnist_format import MNIST_STROKE
from webapp.digits.strokes import MAX_POINTS, digit_from_strokes, parse_strokes
from webapp.errors import InputError


def vertical(x=160.0, top=60.0, bottom=260.0, width=22.0, tool="pen", points=20) -> dict:
    return {
        "tool": tool,
        "width": width,
        "points": [[x, y] for y in np.linspace(top, bottom, points).tolist()],
    }


def digit(*strokes, side=320):
    return digit_from_strokes(parse_strokes(list(strokes), side))


@pytest.mark.parametrize("width", [22.0, 30.0, 40.0])
def test_a_vertical_stroke_fills_the_box_at_its_width(width):
    d = digit(vertical(width=width))  # E = 200
    assert_mnist_like(d)
    expected = width * 20 / (200 + width)  # 1.98, 2.61, 3.33 px: MNIST widths, kept
    assert MNIST_STROKE[0] <= expected <= MNIST_STROKE[2]
    assert middle_row_width(d) == pytest.approx(expected, rel=0.12)


@pytest.mark.parametrize(
    "top, bottom, width", [(150, 180, 22.0), (10, 310, 1.0)], ids=["small-fat", "tall-thin"]
)
def test_a_stroke_no_mnist_digit_is_as_fat_or_thin_as_is_drawn_at_mnist_s_median_width(top, bottom, width):
    """As drawn: 22 * 20 / 52 = 8.5 px (a blob) or 1 * 20 / 301 = 0.07 px (a hairline); drawn instead at
    2.25."""
    as_drawn = width * 20 / (bottom - top + width)
    assert not MNIST_STROKE[0] <= as_drawn <= MNIST_STROKE[2]
    d = digit(vertical(top=top, bottom=bottom, width=width))
    assert_mnist_like(d)
    assert middle_row_width(d) == pytest.approx(MNIST_STROKE[1], rel=0.15)


def test_where_on_the_canvas_it_is_drawn_does_not_matter():
    assert np.allclose(
        digit(vertical(x=40, top=20, bottom=220)), digit(vertical(x=280, top=100, bottom=300)), atol=1e-6
    )


def test_an_l_shape_has_its_corner_where_it_was_drawn():
    d = digit({"tool": "pen", "width": 22, "points": [[100, 60], [100, 260], [220, 260]]})
    assert_mnist_like(d)
    rows, cols = np.nonzero(d > 0.5)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    bottom = (d[rows.max() - 2 : rows.max() + 1] > 0.5).any(0).sum()  # the bar along the bottom
    left = (d[:, cols.min() : cols.min() + 3] > 0.5).any(1).sum()  # the bar down the left side
    assert bottom >= 0.8 * width and left >= 0.8 * height
    assert (
        d[rows.min() : rows.min() + height // 2, cols.max() - width // 2 + 1 :].max() == 0
    )  # the top right is empty


def test_the_eraser_takes_ink_away_and_a_wholly_erased_drawing_is_blank():
    """Erasing from y = 160 down with a 60 px eraser leaves the ink from 49 (the pen's cap) to 130 (the
    eraser's cap): 81 px, which MNIST's recipe stretches to 20 px, so the 22 px stroke becomes
    22 * 20 / 81 = 5.4 px wide."""
    half = digit(vertical(), vertical(top=160, bottom=280, width=60, tool="eraser"))
    assert_mnist_like(half)
    assert middle_row_width(half) == pytest.approx(22 * 20 / 81, rel=0.15)
    assert digit(vertical(), vertical(width=80, tool="eraser")) is None
    assert digit(vertical(tool="eraser")) is None and digit() is None


def test_a_dot_is_a_digit_not_an_error():
    d = digit({"tool": "pen", "width": 22, "points": [[160, 160]]})
    assert d is not None and d.max() > 0.9


@pytest.mark.parametrize(
    "strokes, side, message",
    [
        ("strokes", 320, "list of at most"),
        ([{"tool": "brush", "width": 22, "points": [[1, 1]]}], 320, "pen or eraser"),
        ([{"tool": "pen", "width": 0, "points": [[1, 1]]}], 320, "width"),
        ([{"tool": "pen", "width": True, "points": [[1, 1]]}], 320, "width"),
        ([{"tool": "pen", "width": 22, "points": []}], 320, "list of points"),
        ([{"tool": "pen", "width": 22, "points": [[1, "2"]]}], 320, "pairs of numbers"),
        ([{"tool": "pen", "width": 22, "points": [[1, 10**9]]}], 320, "pairs of numbers"),
        ([{"tool": "pen", "width": 22, "points": [[1, 2, 3]]}], 320, "pairs of numbers"),
        ([vertical(points=MAX_POINTS // 2 + 1), vertical(points=MAX_POINTS // 2 + 1)], 320, "more than"),
        ([vertical(points=2)] * 501, 320, "at most 500"),
        ([vertical()], "320", "canvas size"),
        ([vertical()], 10**9, "canvas size"),
    ],
)
def test_a_malformed_drawing_is_one_message(strokes, side, message):
    with pytest.raises(InputError, match=message) as e:
        parse_strokes(strokes, side)
    assert len(str(e.value)) < 200
