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


class MapPoint(TypedDict, total=False):
    model: str  # whose code map was clicked ("dae", "dae-code2")
    at: list[float]  # [x, y], fractions of the map's width and height from its top left


class RenderRequest(TypedDict, total=False):
    session: str  # the page's own random id (8-64 letters, digits, - or _): each session has its turn
    source: Source
    noise: str  # a kind of noise (dae.noise.CORRUPTIONS): "gaussian", "mask", "salt_pepper", or an unseen one
    strength: float  # from 0 to the kind's maximum
    seed: int | str  # the noise's seed, 0 to 2**31 - 1 (the seed box's text, as typed)
    compare: str | None  # the name of a model to show beside the DAE ("unet", "plain-ae", ...), or none
    views: list[str]  # ids of the open views to fill in: "curve", "layers", "kinds", "latent-map", ...
    map_at: MapPoint | None  # the code map's clicked point
    live: bool  # the pen is moving: the results only, no views
    final: bool  # a live frame that ends a change (the pen lifted): served in a final request's turn


class RenderAnswer(TypedDict, total=False):
    busy: bool  # not computed now: ask again after `wait` ms
    wait: int
    superseded: bool  # a newer request of the same page took this one's place: nothing to show
    # image id ("clean", "noisy", "recon", "error", "compare-recon", "compare-error") -> PNG data URL
    images: dict[str, str]
    guesses: dict[str, str]  # image id -> the classifier's reading, "7 · 98 %" ("7? · 38 %" when unsure)
    unsure: list[str]  # image ids whose reading is under 50 % (more often wrong than right)
    wrong: list[str]  # image ids whose sure reading is not the input's sure reading
    views: dict[str, str]  # view id -> its HTML
    status: str  # HTML under the results: the metrics table, a hint, or what went wrong
    metrics: dict  # the numbers behind the table, as the API returns them
    digit: str  # the input digit as a 28 x 28 PNG data URL (the page sends it back as a "digit" source)
    pixels: str  # the same digit for a link: its pixels deflated, in base64url (links.py reads it back)
    sample: int | None  # the bundled sample shown, if any
    test_index: int | None  # its number in the MNIST test set
    caption: str  # what the digit is ("MNIST test digit #6517, a 3")
    compare: str | None  # the model beside the DAE in this answer, if any
    compare_title: str  # how the page names it
    compare_note: str  # one line on what it is there to show


class Update(dict):
    """A handler's result for a Gradio component: new properties rather than a new value (page.py hands it to
    gr.update)."""
