"""The Denoise tab: one `render` call per change answers with everything the tab shows.

The page's controller (static/controller.js) sends where the digit comes from, the controls and
the open views (contract.RenderRequest); the answer (contract.RenderAnswer) carries the images
inline, the classifier's guesses, the metrics and the open views. Nothing here imports Gradio,
so the tests call the handlers directly.

Mistakes a person can make (an unreadable upload, a seed typed as -1) never raise here: the
answer's status line says what is wrong, in one place, replaced by the next answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dae.noise import NOISE_KINDS, NoiseKind

from .captions import guess_text, metrics_html
from .contract import RenderAnswer, Update
from .digits.decoding import decode_data_url, digit_from_png
from .digits.strokes import digit_from_strokes, parse_strokes
from .digits.upload import read_upload
from .engine import result_json
from .errors import InputError, shown, warning
from .pictures import error_image, png_data_uri, png_rgb_data_uri
from .served import Served
from .views import open_views

MAX_DIGIT_CHARS = 4_000  # a 28 x 28 greyscale PNG is a few hundred bytes
CANVAS = 320  # side of the drawing canvas; its PNG has this size whatever the device pixel ratio (measured at 1 and 3)
BLANK_HINT = "✏️ Draw a digit on the canvas, pick an MNIST sample, or upload an image."
DRAW_HINT = "✏️ Draw a digit on the canvas."
EXPIRED = "This upload is no longer on the server (uploads are kept for an hour)."
MODEL_TITLES = {"dae": "DAE (the autoencoder)", "unet": "U-Net (stronger, for comparison)"}


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
    try:
        digit, sample, hint = source_digit(served, request.get("source"))
    except InputError as e:
        return {"images": {}, "status": warning(e)}
    if digit is None:
        return {"images": {}, "status": hint}
    compare = bool(request.get("compare")) and "unet" in served.denoiser.models
    names = ("dae", "unet") if compare else ("dae",)
    shown = {
        "images": {"clean": png_data_uri(digit)},
        "digit": png_data_uri(digit),
        "sample": sample,
        "compare": compare,
    }
    if sample is not None:
        shown["caption"] = (
            f"MNIST test digit #{int(served.test_indices[sample])}, a {int(served.labels[sample])}"
        )
    try:
        r = served.denoiser(digit, request.get("noise"), request.get("strength"), request.get("seed"), names)
    except InputError as e:
        return shown | {"status": warning(e)}
    images = shown["images"] | {"noisy": png_data_uri(r.noisy)}
    for name, prefix in (("dae", ""), ("unet", "unet-")):
        if name in r.outputs:
            images[prefix + "recon"] = png_data_uri(r.outputs[name])
            images[prefix + "error"] = png_rgb_data_uri(
                error_image(np.abs(r.outputs[name] - r.clean), scale=1)
            )
    guesses = {
        "clean": guess_text(r, "input"),
        "noisy": guess_text(r, "noisy"),
        "recon": guess_text(r, "dae"),
    }
    if "unet" in r.outputs:
        guesses["unet-recon"] = guess_text(r, "unet")
    wrong = [
        key
        for key, name in (("noisy", "noisy"), ("recon", "dae"), ("unet-recon", "unet"))
        if name in r.guesses and "input" in r.guesses and r.guesses[name][0] != r.guesses["input"][0]
    ]
    views = {} if request.get("live") else open_views(served, request, digit, r, names)
    return shown | {
        "images": images,
        "guesses": guesses,
        "wrong": wrong,
        "views": views,
        "status": metrics_html(r, MODEL_TITLES),
        "metrics": result_json(r),
    }


def uploaded(path: str | None) -> dict:
    """A file was uploaded (or removed): the picture itself, and the digit it became as a 28 x 28 PNG for the page."""
    if path is None:
        return {"preview": None, "upload_digit": json.dumps({"none": True})}
    if not Path(path).is_file():  # the server's cache deletes uploads after a while (app.CACHE_CLEANUP)
        return {
            "preview": None,
            "upload_digit": json.dumps({"error": warning(InputError(f"{EXPIRED} Upload it again, please."))}),
        }
    try:
        upload = read_upload(path)
    except InputError as e:
        return {"preview": None, "upload_digit": json.dumps({"error": warning(e)})}
    return {"preview": upload.preview, "upload_digit": json.dumps({"digit": png_data_uri(upload.digit)})}


def kind_slider(kind: str, strength: float) -> dict:
    """Another noise kind: the slider takes its range and meaning (the value kept where it fits)."""
    if kind not in NOISE_KINDS:
        return {}
    return {"strength": strength_slider(NOISE_KINDS[kind], strength)}


def strength_slider(kind: NoiseKind, strength: float) -> Update:
    """The strength slider for `kind`: its range, its meaning, and the value kept within the range."""
    return Update(
        maximum=kind.max_strength,
        value=min(float(strength), kind.max_strength),
        label=f"Strength: {kind.strength_name}",
    )
