"""The Denoise tab: one `render` call per change answers with everything the tab shows.

The page's controller (static/controller.js) sends where the digit comes from, the controls and
the open views (contract.RenderRequest); the answer (contract.RenderAnswer) carries the images
inline, the classifier's guesses, the metrics and the open views. Nothing here imports Gradio,
so the tests call the handlers directly.

Mistakes a person can make (an unreadable upload, a seed typed as -1) never raise here: the
answer's status line says what is wrong, in one place, replaced by the next answer.
"""

from __future__ import annotations

import base64
import io
import zlib

import numpy as np

from .captions import SURE, guess_of, metrics_html
from .contract import RenderAnswer
from .digits.decoding import decode_data_url, digit_from_png
from .digits.strokes import digit_from_strokes, parse_strokes
from .digits.upload import read_upload
from .engine import result_json
from .errors import InputError, shown, warning
from .pictures import error_image, png_data_uri, png_rgb_data_uri
from .served import Served
from .views import open_views

MAX_DIGIT_CHARS = 4_000  # a 28 x 28 greyscale PNG is a few hundred bytes
# side of the drawing canvas; its PNG has this size whatever the device pixel ratio (measured at 1 and 3)
CANVAS = 320
BLANK_HINT = "✏️ Draw a digit on the canvas, pick an MNIST sample, or upload an image."
DRAW_HINT = "✏️ Draw a digit on the canvas."


def source_digit(served: Served, source: object) -> tuple[np.ndarray | None, int | None, str]:
    """The digit a request names: (digit or None, sample index or None, hint when there is none)."""
    if not isinstance(source, dict):
        raise InputError("The request names no input.")
    kind = source.get("kind")
    if kind == "sample":
        index = source.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(served.samples):
            raise InputError(
                f"There is no sample {shown(index)}: the samples are numbered 0 to {len(served.samples) - 1}."
            )
        return served.samples[index], index, ""
    if kind == "strokes":
        return digit_from_strokes(parse_strokes(source.get("strokes"), source.get("side"))), None, DRAW_HINT
    if kind == "digit":
        return digit_from_png(decode_data_url(source.get("png"), MAX_DIGIT_CHARS, "digit")), None, ""
    if kind == "none":
        return None, None, BLANK_HINT
    raise InputError(f"Unknown input kind {shown(kind)}.")


def render(served: Served, request: dict) -> RenderAnswer:
    """Everything the Denoise tab shows for one request (contract.RenderRequest -> contract.RenderAnswer)."""
    if not isinstance(request, dict):
        return {"status": warning(InputError("Bad request."))}
    served = served.for_session(request.get("session"))
    try:
        digit, sample, hint = source_digit(served, request.get("source"))
    except InputError as e:
        return {"images": {}, "status": warning(e)}
    if digit is None:
        return {"images": {}, "status": hint}
    beside = request.get("compare")
    beside = beside if isinstance(beside, str) and beside in served.models and beside != "dae" else None
    names = ("dae", beside) if beside else ("dae",)
    shown = {
        "images": {"clean": png_data_uri(digit)},
        "digit": png_data_uri(digit),
        "pixels": link_pixels(digit),
        "sample": sample,
        "test_index": None if sample is None else int(served.test_indices[sample]),
        "compare": beside,
    }
    if beside:
        shown |= {"compare_title": served.models[beside].title, "compare_note": served.models[beside].note}
    if sample is not None:
        shown["caption"] = (
            f"MNIST test digit #{int(served.test_indices[sample])}, a {int(served.labels[sample])}"
        )
    try:
        r = served.denoiser(digit, request.get("noise"), request.get("strength"), request.get("seed"), names)
    except InputError as e:
        return shown | {"status": warning(e)}
    images = shown["images"] | {"noisy": png_data_uri(r.noisy)}
    shown_as = {
        "input": "clean",
        "noisy": "noisy",
        "dae": "recon",
        beside: "compare-recon",
    }  # result -> image id
    for name, prefix in (("dae", ""), (beside, "compare-")):
        if name in r.outputs:
            images[prefix + "recon"] = png_data_uri(r.outputs[name])
            images[prefix + "error"] = png_rgb_data_uri(
                error_image(np.abs(r.outputs[name] - r.clean), scale=1)
            )
    guesses = {shown_as[name]: guess_of(*guess) for name, guess in r.guesses.items()}
    unsure = [shown_as[name] for name, (_, confidence) in r.guesses.items() if confidence < SURE]
    reading = r.guesses.get("input")
    wrong = []  # a sure reading of another digit than the input's sure reading
    if reading is not None and reading[1] >= SURE:
        wrong = [
            shown_as[name]
            for name, (label, confidence) in r.guesses.items()
            if name != "input" and confidence >= SURE and label != reading[0]
        ]
    views = {} if request.get("live") else open_views(served, request, digit, r, names)
    titles = {name: model.title for name, model in served.models.items()}
    return shown | {
        "images": images,
        "guesses": guesses,
        "unsure": unsure,
        "wrong": wrong,
        "views": views,
        "status": metrics_html(r, titles),
        "metrics": result_json(r),
    }


def upload(data: bytes) -> dict:
    """POST /dae/upload: a picture's bytes -> the digit it shows as a 28 x 28 PNG, and a small preview of it;
    or the reason it shows none, in the page's words."""
    try:
        found = read_upload(io.BytesIO(data))
    except InputError as e:
        return {"error": str(e)}
    return {"digit": png_data_uri(found.digit), "preview": png_rgb_data_uri(found.preview)}


def link_pixels(digit: np.ndarray) -> str:
    """A digit for a link: its 28 x 28 pixels, deflated and in base64url (a few hundred characters)."""
    pixels = (np.clip(digit, 0, 1) * 255 + 0.5).astype(np.uint8).tobytes()
    return base64.urlsafe_b64encode(zlib.compress(pixels, 9)).decode("ascii").rstrip("=")


def digit_from_link(text: object) -> np.ndarray | None:
    """The digit of a link's `pixels` (link_pixels' form), or None when it is not one."""
    if not isinstance(text, str) or not 0 < len(text) <= 2_000:
        return None
    try:
        pixels = zlib.decompressobj().decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), 785)
    except (ValueError, zlib.error):
        return None
    if len(pixels) != 784:
        return None
    return np.frombuffer(pixels, np.uint8).reshape(28, 28).astype(np.float32) / 255
