"""What each event of the app shows, as plain functions of plain values.

Every handler takes what the page sends (numpy arrays, numbers, strings, file paths) and returns
a dict keyed by output name, which `app.py` maps onto its components. Nothing here imports
Gradio, so the tests call the handlers directly. A name left out of a result leaves that output
as it is; a result always names every output that would otherwise show something that no longer
belongs to the input on screen.

Mistakes a person can make (an unreadable upload, a seed typed as -1) never raise here: the
outputs are cleared and the status line, where the metrics were, says what is wrong: one message,
in one place, replaced by the next result. Only the API raises `InputError` (the API client gets
it as an error).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .inference import (
    MAX_SEED,
    Denoiser,
    check_controls,
    error_image,
    guess_text,
    metrics_html,
    output_images,
    path_html,
    png_data_uri,
    png_rgb_data_uri,
    result_json,
    upscale,
)
from .noise import NOISE_KINDS, NoiseKind
from .preprocess import InputError, decode_data_url, digit_from_drawing, digit_from_png, read_upload
from .views import curve_svg, test_set_means

EVALUATION = Path(__file__).resolve().parents[1] / "checkpoints" / "dae" / "evaluation.json"  # the test-set means the curve shows
MAX_DRAWING_CHARS = 600_000  # a 320 x 320 canvas PNG is 5-40 kB; nothing larger is decoded
MAX_DIGIT_CHARS = 4_000  # a 28 x 28 greyscale PNG is a few hundred bytes

BLANK_HINT = "✏️ Draw a digit on the canvas, pick an MNIST sample, or upload an image."
DRAW_HINT = "✏️ Draw a digit on the canvas."
PICK_HINT = "👆 Pick one of the digits above, or press **Random digit**."
NO_DENOISE_DIGIT = "⚠️ There is no digit in the Denoise tab yet: draw, pick or upload one there first."
EXPIRED = "This upload is no longer on the server (uploads are kept for an hour)."
MODEL_TITLES = {"dae": "DAE (the autoencoder)", "unet": "U-Net (stronger, for comparison)"}
LATENT_STEPS = 11
CANVAS = 320  # side of the drawing canvas; its layers arrive at this size whatever the device pixel ratio (measured at 1 and 3)
NO_SELECTION = -1  # a gallery's selected_index that highlights no thumbnail (Gradio ignores None in an update)

# What the models show for a digit: every Denoise-tab output that depends on the noise.
RESULTS = ("noisy", "recon", "error", "unet_recon", "unet_error", "status")


class Update(dict):
    """New properties for a component rather than a new value (app.py hands them to gr.update)."""


def selection(index: int | None) -> Update:
    """A gallery's highlighted thumbnail: the sample `index`, or none."""
    return Update(selected_index=NO_SELECTION if index is None else int(index))


def strength_slider(kind: NoiseKind, strength: float) -> Update:
    """The strength slider for `kind`: its range, its meaning, and the value kept within the range."""
    return Update(maximum=kind.max_strength, value=min(float(strength), kind.max_strength), label=f"Strength: {kind.strength_name}")


def blank(status: str) -> dict:
    """No results: every result output cleared, and `status` (a hint, or what went wrong) in the status line."""
    return {name: None for name in RESULTS} | {"status": status}


def warning(error: InputError) -> str:
    """What went wrong, as the status line shows it (HTML: the message is escaped)."""
    return f"⚠️ {html.escape(str(error))}"


def next_seed(seed: float | int | None) -> int:
    """The seed after `seed` ("New noise"); 0 when the box holds no usable seed."""
    try:
        seed = int(seed)
    except (TypeError, ValueError, OverflowError):
        return 0
    return seed + 1 if 0 <= seed < MAX_SEED else 0


@dataclass
class DemoUI:
    """The app's event handlers around one Denoiser and the bundled MNIST samples."""

    denoiser: Denoiser
    samples: np.ndarray  # (n, 28, 28) floats in [0, 1]: the digits the pickers offer
    labels: np.ndarray  # (n,) their classes
    test_indices: np.ndarray  # (n,) their places in the MNIST test set

    # ---- the Denoise tab ---------------------------------------------------------------------------
    # The page sends one request per update (`render`): where the digit comes from, the controls and
    # the views in sight; everything the tab shows comes back in that one answer, images inline.

    def source_digit(self, source: object) -> tuple[np.ndarray | None, int | None, str]:
        """The digit a request names: (digit or None, sample index or None, hint when there is none)."""
        if not isinstance(source, dict):
            raise InputError("The request names no input.")
        kind = source.get("kind")
        if kind == "sample":
            index = source.get("index")
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.samples):
                raise InputError(f"There is no sample {index!r}: the samples are numbered 0 to {len(self.samples) - 1}.")
            return self.samples[index], index, ""
        if kind == "drawing":
            digit = digit_from_drawing(decode_data_url(source.get("png"), MAX_DRAWING_CHARS))
            return digit, None, DRAW_HINT
        if kind == "digit":
            return digit_from_png(decode_data_url(source.get("png"), MAX_DIGIT_CHARS, "digit")), None, ""
        if kind == "none":
            return None, None, BLANK_HINT
        raise InputError(f"Unknown input kind {kind!r}.")

    def render(self, request: dict) -> dict:
        """Everything the Denoise tab shows for one request (see app.py's page script for its fields)."""
        if not isinstance(request, dict):
            return {"status": warning(InputError("Bad request."))}
        try:
            digit, sample, hint = self.source_digit(request.get("source"))
        except InputError as e:
            return {"images": {}, "status": warning(e)}
        if digit is None:
            return {"images": {}, "status": hint}
        compare = bool(request.get("compare")) and "unet" in self.denoiser.models
        names = ("dae", "unet") if compare else ("dae",)
        shown = {"images": {"clean": png_data_uri(digit)}, "digit": png_data_uri(digit), "sample": sample, "compare": compare}
        if sample is not None:
            shown["caption"] = f"MNIST test digit #{int(self.test_indices[sample])}, a {int(self.labels[sample])}"
        try:
            r = self.denoiser(digit, request.get("noise"), request.get("strength"), request.get("seed"), names)
        except InputError as e:
            return shown | {"status": warning(e)}
        images = shown["images"] | {"noisy": png_data_uri(r.noisy)}
        for name, prefix in (("dae", ""), ("unet", "unet-")):
            if name in r.outputs:
                images[prefix + "recon"] = png_data_uri(r.outputs[name])
                images[prefix + "error"] = png_rgb_data_uri(error_image(np.abs(r.outputs[name] - r.clean), scale=1))
        guesses = {"clean": guess_text(r, "input"), "noisy": guess_text(r, "noisy"), "recon": guess_text(r, "dae")}
        if "unet" in r.outputs:
            guesses["unet-recon"] = guess_text(r, "unet")
        wrong = [key for key, name in (("noisy", "noisy"), ("recon", "dae"), ("unet-recon", "unet"))
                 if name in r.guesses and "input" in r.guesses and r.guesses[name][0] != r.guesses["input"][0]]
        views = {}
        if "curve" in (request.get("views") or ()) and not request.get("live"):
            kind, strength, seed = check_controls(request.get("noise"), request.get("strength"), request.get("seed"))
            views["curve"] = curve_svg(self.denoiser.curve(digit, kind, seed, names), kind, strength, test_set_means(EVALUATION))
        return shown | {"images": images, "guesses": guesses, "wrong": wrong, "views": views,
                        "status": metrics_html(r, MODEL_TITLES), "metrics": result_json(r)}

    def uploaded(self, path: str | None) -> dict:
        """A file was uploaded (or removed): the picture itself, and the digit it became as a 28 x 28 PNG for the page."""
        if path is None:
            return {"preview": None, "upload_digit": json.dumps({"none": True})}
        if not Path(path).is_file():  # the server's cache deletes uploads after a while (app.CACHE_CLEANUP)
            return {"preview": None, "upload_digit": json.dumps({"error": warning(InputError(f"{EXPIRED} Upload it again, please."))})}
        try:
            upload = read_upload(path)
        except InputError as e:
            return {"preview": None, "upload_digit": json.dumps({"error": warning(e)})}
        return {"preview": upload.preview, "upload_digit": json.dumps({"digit": png_data_uri(upload.digit)})}

    def kind_slider(self, kind: str, strength: float) -> dict:
        """Another noise kind: the slider takes its range and meaning (the value kept where it fits)."""
        if kind not in NOISE_KINDS:
            return {}
        return {"strength": strength_slider(NOISE_KINDS[kind], strength)}

    def from_link(self, request=None) -> dict:
        """The controls an address asks for (?tab=samples&sample=34&noise=mask&strength=0.5&seed=7&compare=1).

        Values that cannot be used are left at their defaults: a link never breaks the page.
        """
        query = dict(getattr(request, "query_params", None) or {})
        kind = query.get("noise") if query.get("noise") in NOISE_KINDS else next(iter(NOISE_KINDS))
        top = NOISE_KINDS[kind]
        out = {"kind": kind, "strength": strength_slider(top, top.default_strength)}
        try:
            strength = float(query["strength"])
            if math.isfinite(strength) and 0 <= strength <= top.max_strength:
                out["strength"] = strength_slider(top, strength)
        except (KeyError, ValueError):
            pass
        try:
            out["seed"] = min(max(int(query["seed"]), 0), MAX_SEED)
        except (KeyError, ValueError):
            out["seed"] = 0
        out["compare"] = query.get("compare") == "1" and "unet" in self.denoiser.models
        linked = {}
        tab = query.get("tab")
        if tab in ("draw", "samples", "upload"):
            linked["tab"] = tab
            out["input_tabs"] = Update(selected=tab)
        try:
            sample = int(query["sample"])
            if 0 <= sample < len(self.samples):
                linked["sample"] = sample
                if tab is None:
                    linked["tab"] = "samples"
                    out["input_tabs"] = Update(selected="samples")
        except (KeyError, ValueError):
            pass
        out.setdefault("input_tabs", Update())  # no tab in the link: the tab on screen stays
        return out | {"linked": json.dumps(linked)}

    # ---- the Latent space tab -----------------------------------------------------------------------

    def sample_index(self, digit: np.ndarray | None) -> int | None:
        """Which bundled sample `digit` is (None for a drawing or an upload)."""
        if digit is None:
            return None
        same = (self.samples == np.asarray(digit, dtype=self.samples.dtype)[None]).all(axis=(1, 2))
        return int(np.argmax(same)) if same.any() else None

    def describe(self, digit: np.ndarray) -> str:
        index = self.sample_index(digit)
        if index is None:
            return "the digit from the Denoise tab"
        return f"MNIST test digit #{int(self.test_indices[index])}, a {self.labels[index]}"

    def latent(self, start: np.ndarray, end: np.ndarray, t: float) -> dict:
        """Both ends, the decoded point at t, the whole path in LATENT_STEPS decoded steps, and what the ends are."""
        path = self.denoiser.interpolate(start, end, np.linspace(0, 1, LATENT_STEPS))
        return {"start_image": upscale(start), "end_image": upscale(end), "path": path_html(path, f"The path in {LATENT_STEPS} steps (decoded)"),
                "latent_status": f"From **{self.describe(start)}** to **{self.describe(end)}**."} | self.latent_point(start, end, t)

    def latent_point(self, start: np.ndarray, end: np.ndarray, t: float) -> dict:
        """The decoded point at t on the straight line between the two codes (the slider)."""
        t = float(np.clip(t, 0, 1)) if t is not None and np.isfinite(t) else 0.5
        return {"point": upscale(self.denoiser.interpolate(start, end, [t])[0])}

    def pick_start(self, index: int, end: np.ndarray, t: float) -> dict:
        start = self.samples[int(index)]
        return {"start": start} | self.latent(start, end, t)

    def pick_end(self, index: int, start: np.ndarray, t: float) -> dict:
        end = self.samples[int(index)]
        return {"end": end} | self.latent(start, end, t)

    def denoise_digit(self, png: str | None) -> np.ndarray | None:
        """The Denoise tab's digit as the page holds it (a 28 x 28 PNG data URL), or None."""
        try:
            return digit_from_png(decode_data_url(png, MAX_DIGIT_CHARS, "digit")) if png else None
        except InputError:
            return None

    def start_from(self, png: str | None, start: np.ndarray, end: np.ndarray, t: float) -> dict:
        """"Start from the digit in the Denoise tab": it becomes the start, and the start picker highlights it (if a sample)."""
        digit = self.denoise_digit(png)
        if digit is None:
            return {"latent_status": NO_DENOISE_DIGIT}
        return {"start": digit, "start_pick": selection(self.sample_index(digit))} | self.latent(digit, end, t)

    def end_at(self, png: str | None, start: np.ndarray, end: np.ndarray, t: float) -> dict:
        """"End at the digit in the Denoise tab": the same for the end."""
        digit = self.denoise_digit(png)
        if digit is None:
            return {"latent_status": NO_DENOISE_DIGIT}
        return {"end": digit, "end_pick": selection(self.sample_index(digit))} | self.latent(start, digit, t)

    # ---- the API ------------------------------------------------------------------------------------

    def denoise_api(self, image: str | None, noise: str, strength: float, seed: float, model: str = "dae") -> dict:
        """Denoise an image file: the noisy input, the reconstruction and the error map (224 x 224 PNGs), and the metrics."""
        if image is None:
            raise InputError("Send an image file.")
        if model not in self.denoiser.models:
            raise InputError(f"Unknown model {model!r}: choose one of {', '.join(self.denoiser.models)}.")
        r = self.denoiser(read_upload(image).digit, noise, strength, seed, (model,))
        reconstruction, error_map = output_images(r, model)
        return {"noisy": upscale(r.noisy), "reconstruction": reconstruction, "error_map": error_map, "metrics": result_json(r)}
