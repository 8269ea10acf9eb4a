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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .demo import MAX_SEED, Denoiser, metrics_markdown, output_images, path_html, result_json, upscale
from .noise import NOISE_KINDS, NoiseKind
from .preprocess import InputError, digit_from_sketch, read_upload

BLANK_HINT = "✏️ Draw a digit on the canvas, pick an MNIST sample, or upload an image."
PICK_HINT = "👆 Pick one of the digits above, or press **Random digit**."
NO_DENOISE_DIGIT = "⚠️ There is no digit in the Denoise tab yet: draw, pick or upload one there first."
EXPIRED = "This upload is no longer on the server (uploads are kept for an hour)."
MODEL_TITLES = {"dae": "DAE (specified model)", "unet": "U-Net (stronger, for comparison)"}
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
    return f"⚠️ {error}"


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
    rng: np.random.Generator = field(default_factory=np.random.default_rng)

    # ---- the Denoise tab ---------------------------------------------------------------------------
    # Each input tab holds its own input (the drawing, the picked sample, the uploaded picture); the
    # digit on screen is the one of the tab in view, and every result is recomputed when it changes.

    def results(self, digit: np.ndarray | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """The noisy input, each reconstruction and error map, and the metrics table (or a hint, or what is wrong)."""
        if digit is None:
            return blank(BLANK_HINT)
        names = ("dae", "unet") if compare and "unet" in self.denoiser.models else ("dae",)
        try:
            r = self.denoiser(digit, kind, strength, seed, names)
        except InputError as e:
            return blank(warning(e))
        recon, error = output_images(r, "dae")
        unet_recon, unet_error = output_images(r, "unet") if "unet" in r.outputs else (None, None)
        return {"noisy": upscale(r.noisy), "recon": recon, "error": error, "unet_recon": unet_recon, "unet_error": unet_error,
                "status": metrics_markdown(r, MODEL_TITLES)}

    def show(self, digit: np.ndarray | None, kind: str, strength: float, seed: float, compare: bool, hint: str = BLANK_HINT) -> dict:
        """A new digit on screen (None: none): it, as the model sees it (28 x 28), and its results."""
        shown = {"digit": digit, "clean": None if digit is None else upscale(digit)}
        return shown | (blank(hint) if digit is None else self.results(digit, kind, strength, seed, compare))

    def refused(self, error: InputError) -> dict:
        """An input that cannot be used: nothing of the previous digit stays on screen."""
        return {"digit": None, "clean": None} | blank(warning(error))

    def drawn(self, sketch: dict | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """The canvas changed (a stroke, an undo, "Clear canvas"), or its tab came into view."""
        try:
            digit = digit_from_sketch(sketch, max_side=CANVAS)
        except InputError as e:
            return self.refused(e)
        return self.show(digit, kind, strength, seed, compare)

    def picked(self, index: int | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """A sample was clicked (or its tab came into view): show it and highlight it in the gallery."""
        if index is None or not 0 <= int(index) < len(self.samples):
            return {"sample": None, "gallery": selection(None)} | self.show(None, kind, strength, seed, compare, hint=PICK_HINT)
        index = int(index)
        return {"sample": index, "gallery": selection(index)} | self.show(self.samples[index], kind, strength, seed, compare)

    def random_pick(self, current: int | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """"Random digit": any sample but the one on screen, highlighted in the gallery like a click."""
        index = int(self.rng.integers(len(self.samples) - 1))
        if current is not None and index >= int(current):
            index += 1
        return self.picked(index, kind, strength, seed, compare)

    def uploaded(self, path: str | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """A file was uploaded (or removed, or its tab came into view): the picture itself and the digit it became."""
        if path is None:
            return {"preview": None} | self.show(None, kind, strength, seed, compare)
        if not Path(path).is_file():  # the server's cache deletes uploads after a while (app.CACHE_CLEANUP)
            return {"preview": None} | self.refused(InputError(f"{EXPIRED} Upload it again, please."))
        try:
            upload = read_upload(path)
        except InputError as e:
            return {"preview": None} | self.refused(e)
        return {"preview": upload.preview} | self.show(upload.digit, kind, strength, seed, compare)

    def kind_changed(self, digit: np.ndarray | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """Another noise kind: the slider takes its range (keeping the value where it fits), then new results."""
        if kind not in NOISE_KINDS:
            return self.results(digit, kind, strength, seed, compare)  # says which kinds exist
        slider = strength_slider(NOISE_KINDS[kind], strength)
        return {"strength": slider} | self.results(digit, kind, slider["value"], seed, compare)

    def new_noise(self, digit: np.ndarray | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """"New noise": the next seed, and the results with it."""
        seed = next_seed(seed)
        return {"seed": seed} | self.results(digit, kind, strength, seed, compare)

    def compare_changed(self, digit: np.ndarray | None, kind: str, strength: float, seed: float, compare: bool) -> dict:
        """The U-Net comparison on or off: its row appears or goes, and the metrics table follows."""
        return {"unet_row": Update(visible=bool(compare))} | self.results(digit, kind, strength, seed, compare)

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
        return f"a {self.labels[index]} (MNIST sample {index + 1})"

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

    def start_from(self, digit: np.ndarray | None, start: np.ndarray, end: np.ndarray, t: float) -> dict:
        """"Start from the digit in the Denoise tab": it becomes the start, and the start picker highlights it (if a sample)."""
        if digit is None:
            return {"latent_status": NO_DENOISE_DIGIT}
        return {"start": digit, "start_pick": selection(self.sample_index(digit))} | self.latent(digit, end, t)

    def end_at(self, digit: np.ndarray | None, start: np.ndarray, end: np.ndarray, t: float) -> dict:
        """"End at the digit in the Denoise tab": the same for the end."""
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
