"""A drawing as the page's strokes -> a 28 x 28 digit, drawn in Python the way MNIST's digits were made.

The page sends what the pointer did: each stroke's tool (pen or eraser), width and points, in the
canvas's pixels. Drawn here, directly at the size they are going to (MNIST's 20 px box, four times
over-sampled for soft edges), the strokes cost far less than decoding a picture of the canvas,
and their width is known instead of measured: a digit drawn so small that the pen is fatter than
any MNIST stroke, or so large that it is thinner, is drawn at MNIST's median stroke width instead,
as `mnist_format.normalise_strokes` does for pictures. The result then takes MNIST's last step,
`mnist_style` (centre of mass at (14, 14)). The width is decided from the pen's strokes; what an
eraser takes away is then scaled like any ink (a digit cut in half by the eraser comes out fatter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..errors import InputError, shown
from .mnist_format import BOX, MNIST_STROKE, mnist_style

MAX_STROKES = 500
MAX_POINTS = 20_000  # in all strokes together: minutes of drawing
MAX_WIDTH = 200.0
OVERSAMPLE = 4
TOOLS = ("pen", "eraser")


@dataclass(frozen=True)
class Stroke:
    tool: str  # "pen" or "eraser"
    width: float  # in canvas pixels
    points: np.ndarray  # (n, 2) x, y in canvas pixels, n >= 1


def round_polyline(draw: ImageDraw.ImageDraw, xy: np.ndarray, width: float, fill: int) -> None:
    """A line through the points with round joins and caps, as a canvas draws a pen's stroke: a disc at each
    point and a quadrilateral along each segment (PIL's own wide lines leave gaps between short segments).
    PIL fills every pixel a shape's edge touches, half a pixel more on each side: the radius allows for it."""
    r = max(width / 2 - 0.5, 0.5)
    for x, y in xy.tolist():
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    if len(xy) < 2:
        return
    d = np.diff(xy, axis=0)
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 1e-9
    normal = np.stack([-d[keep, 1], d[keep, 0]], axis=1) / length[keep, None] * r  # (k, 2) half-width across
    a, b = xy[:-1][keep], xy[1:][keep]
    for quad in np.stack([a + normal, b + normal, b - normal, a - normal], axis=1).tolist():
        draw.polygon([tuple(p) for p in quad], fill=fill)


def parse_strokes(value: object, side: object) -> list[Stroke]:
    """The strokes of a request ([{tool, width, points: [[x, y], ...]}, ...] on a side x side canvas),
    checked.

    Anything malformed is an InputError; points may lie a little outside the canvas (a stroke that
    leaves it), but not far.
    """
    if not isinstance(side, (int, float)) or isinstance(side, bool) or not 16 <= side <= 4096:
        raise InputError(f"The drawing's canvas size must be a number from 16 to 4096 (got {shown(side)}).")
    if not isinstance(value, list) or len(value) > MAX_STROKES:
        raise InputError(f"The drawing must be a list of at most {MAX_STROKES} strokes.")
    strokes, total = [], 0
    for s in value:
        if not isinstance(s, dict) or s.get("tool") not in TOOLS:
            raise InputError("Each stroke must name its tool: pen or eraser.")
        width, points = s.get("width"), s.get("points")
        if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0.5 <= width <= MAX_WIDTH:
            raise InputError(
                f"A stroke's width must be a number from 0.5 to {MAX_WIDTH:g} (got {shown(width)})."
            )
        if not isinstance(points, list) or not points:
            raise InputError("Each stroke must have a list of points.")
        total += len(points)
        if total > MAX_POINTS:
            raise InputError(f"The drawing has more than {MAX_POINTS:,} points.")
        if not all(
            isinstance(p, list)
            and len(p) == 2
            and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and -side <= c <= 2 * side for c in p
            )
            for p in points
        ):
            raise InputError("A stroke's points must be [x, y] pairs of numbers on or near the canvas.")
        strokes.append(Stroke(s["tool"], float(width), np.asarray(points, dtype=np.float64)))
    return strokes


def digit_from_strokes(strokes: list[Stroke]) -> np.ndarray | None:
    """(28, 28) float32 MNIST-style digit drawn from the strokes, or None when nothing is left drawn."""
    pens = [s for s in strokes if s.tool == "pen"]
    if not pens:
        return None
    points = np.concatenate([s.points for s in pens])
    low, high = points.min(0), points.max(0)
    extent = float((high - low).max())  # of the pen's path; the ink is a pen's width longer
    pen = max(s.width for s in pens)
    factor = 1.0
    if extent > 0:
        width_in_box = pen * BOX / (extent + pen)  # the stroke width once the ink fills MNIST's 20 px box
        if not MNIST_STROKE[0] <= width_in_box <= MNIST_STROKE[2]:
            target = MNIST_STROKE[1]
            factor = target * extent / (BOX - target) / pen  # solves w * BOX / (extent + w) = target for w
    scale = OVERSAMPLE * BOX / (extent + pen * factor)  # picture pixels per canvas pixel
    margin = pen * factor / 2 + 1 / scale
    size = np.ceil((high - low + 2 * margin) * scale).astype(int) + 1
    picture = Image.new("L", (int(size[0]), int(size[1])), 0)
    draw = ImageDraw.Draw(picture)
    for s in strokes:
        xy = (s.points - low + margin) * scale  # (n, 2) picture pixels
        round_polyline(draw, xy, s.width * factor * scale, 255 if s.tool == "pen" else 0)
    small = picture.reduce(OVERSAMPLE)  # block means: soft edges, the ink about 20 px long
    ink = np.asarray(small, dtype=np.float32) / 255.0
    if not ink.any():
        return None
    # In whole 1/255 steps, as a PNG holds it: the digit the page is sent back is this very digit.
    return np.round(mnist_style(ink) * 255) / np.float32(255)
