"""The request and answer of `render` (POST /dae/render), the one call the page's controller makes.

Written once here, mirrored field for field in the comment at the top of controller.js; the
handler (denoise_tab.render) returns a RenderAnswer and the tests check every answer against it.
Every field of a request is optional and checked: whatever reaches the server may be hostile.
"""

from __future__ import annotations

from typing import Literal, TypedDict


class Stroke(TypedDict, total=False):
    """One stroke of the pen or the eraser, as the pointer moved, in canvas pixels."""

    tool: Literal["pen", "eraser"]
    width: float
    points: list[list[float]]  # [[x, y], ...]


class Source(TypedDict, total=False):
    """Where the digit comes from."""

    kind: Literal["none", "sample", "strokes", "digit"]
    index: int  # kind "sample": which bundled MNIST test digit (0-99)
    png: str  # kind "digit": a 28 x 28 PNG data URL (a digit the server sent)
    strokes: list[Stroke]  # kind "strokes": every stroke drawn, in order
    side: int  # kind "strokes": the canvas's side in pixels, the unit of the points


class RenderRequest(TypedDict, total=False):
    session: str  # the page's own random id (8-64 letters, digits, - or _): each session has its turn
    source: Source
    noise: str  # a noise kind: "gaussian", "mask" or "salt_pepper"
    strength: float  # from 0 to the kind's maximum
    seed: int  # the noise's seed, 0 to 2**63 - 1
    compare: bool  # the U-Net's results too
    views: list[str]  # ids of the open views to fill in ("curve", "layers", "latent-map", "learning")
    map_at: list[float] | None  # the code map's clicked point, as fractions of its width and height
    live: bool  # the pen is moving: the results only, no views


class RenderAnswer(TypedDict, total=False):
    busy: bool  # not computed now: ask again after `wait` ms
    wait: int
    superseded: bool  # a newer request of the same page took this one's place: nothing to show
    images: dict[
        str, str
    ]  # result image id ("clean", "noisy", "recon", "error", "unet-recon", "unet-error") -> PNG data URL
    guesses: dict[str, str]  # image id -> the classifier's reading, "7 · 98 %"
    wrong: list[str]  # image ids whose reading is not the input's
    views: dict[str, str]  # view id -> its HTML
    status: str  # HTML under the results: the metrics table, a hint, or what went wrong
    metrics: dict  # the numbers behind the table, as the API returns them
    digit: str  # the input digit as a 28 x 28 PNG data URL (the page sends it back as a "digit" source)
    sample: int | None  # the bundled sample shown, if any
    caption: str  # what the digit is ("MNIST test digit #6517, a 3")
    compare: bool  # whether the U-Net's results are in the answer


class Update(dict):
    """A handler's result for a Gradio component: new properties rather than a new value (page.py hands it to gr.update)."""
