"""What the views share: the lines' colours, a polyline, and a digit shown as the results show theirs."""

from __future__ import annotations

import html

import numpy as np

from ..pictures import png_data_uri

SERIES = {  # name -> (legend, colour); colours tell the lines apart in both themes
    "noisy": ("noisy input", "#9ca3af"),
    "dae": ("DAE", "#2563eb"),
    "median3": ("median 3×3 filter", "#16a34a"),
}
BESIDE = "#f97316"  # the model beside the DAE, whichever it is
SECOND = "#db2777"  # a second line of one chart (the test loss beside the training loss)
W, H, LEFT, RIGHT, TOP, GAP, PANEL = (
    560,
    350,
    60,
    12,
    24,
    36,
    125,
)  # room for the phone's larger labels (page.py)


def polyline(points: list[tuple[float, float]], colour: str, extra: str = "") -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" stroke="{colour}" {extra}/>'


def digit_figure(
    caption: str,
    image: np.ndarray,
    alt: str,
    guess: str = "",
    wrong: bool = False,
    extra: str = "",
    elem_id: str | None = None,
) -> str:
    """A digit in a view, as the results show theirs: caption, the 28 x 28 image, the classifier's guess
    (red when wrong)."""
    ident = f' id="{elem_id}"' if elem_id else ""
    return (
        f'<figure{ident} class="dae-figure"><figcaption>{html.escape(caption)}</figcaption>'
        f'<img src="{png_data_uri(image)}" alt="{html.escape(alt)}">'
        f'<div class="dae-guess{" dae-wrong" if wrong else ""}">{guess}</div>{extra}</figure>'
    )
