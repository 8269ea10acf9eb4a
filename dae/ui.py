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
import torch

from . import metrics
from .activations import DAE_STAGES, UNET_STAGES, Stage, activations
from .inference import (
    MAX_SEED,
    Denoiser,
    check_controls,
    error_image,
    guess_of,
    guess_text,
    metrics_html,
    output_images,
    path_html,
    png_data_uri,
    png_rgb_data_uri,
    result_json,
    subnormals_flushed,
    upscale,
)
from .noise import NOISE_KINDS, NoiseKind
from .preprocess import InputError, decode_data_url, digit_from_drawing, digit_from_png, read_upload
from .views import curve_svg, digit_figure, layers_html, learning_svg, map_frame, map_overlay, map_picture, test_set_means

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

INPUT_STAGE = Stage("input", "noisy input", "what the model is given", "The noisy digit on screen, pixels in [0, 1].")
SNAPSHOT_TITLES = {"untrained": "untrained", "step_300": "after 300 steps", "epoch_1": "after epoch 1"}
VIEWS = ("curve", "layers", "latent-map", "learning")  # the Denoise tab's views (details elements), by id

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

    def __post_init__(self) -> None:
        """The code map's picture is drawn once: it is the same for everyone (the page holds it; answers carry only the marks)."""
        self.map_frame = self.map_picture = None
        code_map = self.denoiser.code_map
        if code_map is not None:
            points = code_map.points.numpy()
            self.map_frame = map_frame(points)
            self.map_picture = map_picture(points, code_map.labels.numpy(), self.map_frame)

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
        views = {} if request.get("live") else self.views(request, digit, r, names)
        return shown | {"images": images, "guesses": guesses, "wrong": wrong, "views": views,
                        "status": metrics_html(r, MODEL_TITLES), "metrics": result_json(r)}

    # ---- the views ---------------------------------------------------------------------------------
    # Each open view (a details element of the results panel) comes back in the same answer as the
    # results, computed from the same noisy digit; a view whose data the checkpoint lacks is left out.

    @subnormals_flushed()
    def views(self, request: dict, digit: np.ndarray, r, names: tuple[str, ...]) -> dict[str, str]:
        wanted = [v for v in (request.get("views") or ()) if v in VIEWS] if isinstance(request.get("views"), list) else []
        kind, strength, seed = check_controls(request.get("noise"), request.get("strength"), request.get("seed"))
        noisy = torch.from_numpy(r.noisy).view(1, 1, 28, 28)
        views = {}
        if "curve" in wanted:
            views["curve"] = curve_svg(self.denoiser.curve(digit, kind, seed, names), kind, strength, test_set_means(EVALUATION))
        if "layers" in wanted:
            views["layers"] = self.layers_view(noisy, names)
        if "latent-map" in wanted and self.map_frame is not None:
            views["latent-map"] = self.map_view(torch.from_numpy(r.clean).view(1, 1, 28, 28), noisy, request.get("map_at"))
        if "learning" in wanted and self.denoiser.training is not None:
            views["learning"] = self.learning_view(r, noisy)
        return views

    def layers_view(self, noisy: torch.Tensor, names: tuple[str, ...]) -> str:
        models = [("DAE: encoder → 256-number code → decoder", DAE_STAGES, "dae")]
        if "unet" in names:
            models.append(("U-Net: encoder levels, bottom with global context, decoder levels fed by the skip paths", UNET_STAGES, "unet"))
        return layers_html([(title, (INPUT_STAGE, *stages), {"input": noisy[0]} | activations(self.denoiser.models[name], noisy, stages))
                            for title, stages, name in models])

    @torch.inference_mode()
    def map_view(self, clean: torch.Tensor, noisy: torch.Tensor, map_at: object) -> str:
        """The marks for this digit on the code map, and the digit decoded at the point last clicked (map_at: fractions of the map)."""
        dae, code_map = self.denoiser.models["dae"], self.denoiser.code_map
        codes = dae.encode(torch.cat([clean, noisy]))
        at = self.map_frame.to_fraction(code_map.project(codes).numpy())
        moved = float((codes[1] - codes[0]).norm())
        picked = None
        side = ('<p class="dae-note">Click anywhere on the map: that point is lifted back to 256 numbers '
                '(the mean code plus the two directions) and decoded.</p>')
        if (isinstance(map_at, list) and len(map_at) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                                 and math.isfinite(v) and 0 <= v <= 1 for v in map_at)):
            picked = np.asarray(map_at, dtype=np.float64)
            position = torch.from_numpy(self.map_frame.to_position(picked[None])).float()
            decoded = dae.decode(code_map.lift(position))
            p = self.denoiser.probabilities(decoded)
            guess = "" if p is None else guess_of(int(p[0].argmax()), float(p[0].max()))
            side = digit_figure("Decoded at the clicked point", decoded[0, 0].numpy(), "The digit decoded at the clicked point of the map",
                                guess, elem_id="map-decoded") + side
        text = (f'<p class="dae-note">● this digit\'s code, ○ the noisy digit\'s code: the noise moved the code by {moved:.2f} '
                f'(distance in 256 dimensions). The map keeps {100 * code_map.explained:.0f} % of the codes\' variance, so '
                'digits far apart in the code can land close together here.</p>')
        return map_overlay(at[0], at[1], picked) + f'<div class="dae-map-side">{side}{text}</div>'

    @torch.inference_mode()
    def learning_view(self, r, noisy: torch.Tensor) -> str:
        """The loss curve of the run, and this noisy digit reconstructed by the weights at each snapshot and at the end
        (the reconstruction already on screen); a guess other than the classifier's reading of the input is marked as on the results."""
        training = self.denoiser.training
        final = f"after epoch {training['epochs']} (served)"
        stages = [(SNAPSHOT_TITLES.get(info["name"], info["name"]), info["step"]) for info, _ in self.denoiser.snapshots]
        steps_per_epoch = math.ceil(training["train_images"] / training.get("batch_size", 64))
        stages.append((final, training["epochs"] * steps_per_epoch))
        served = torch.from_numpy(r.outputs["dae"]).view(1, 1, 28, 28)
        outputs = torch.cat([model(noisy) for _, model in self.denoiser.snapshots] + [served])
        p = self.denoiser.probabilities(outputs)
        psnr = metrics.psnr(outputs, torch.from_numpy(r.clean).view(1, 1, 28, 28).expand_as(outputs))
        input_label = r.guesses["input"][0] if "input" in r.guesses else None
        figures = []
        for i, (title, step) in enumerate(stages):
            label = None if p is None else int(p[i].argmax())
            figures.append(digit_figure(title, outputs[i, 0].numpy(), f"The noisy digit reconstructed {title}",
                                        "" if p is None else guess_of(label, float(p[i].max())),
                                        wrong=input_label is not None and label is not None and label != input_label,
                                        extra=f'<div class="dae-scale">step {step:,} · {float(psnr[i]):.1f} dB</div>'))
        marks = [(step, title.replace("after ", "").replace(" (served)", "")) for title, step in stages]
        return (learning_svg(training, marks, steps_per_epoch) + f'<div class="dae-row">{"".join(figures)}</div>'
                '<p class="dae-note">The same noisy digit through the weights the run kept at these steps, with each one\'s PSNR '
                'against the clean digit and the classifier\'s reading. Most of the loss is gone within the first epoch; '
                'the epochs after it buy the last decibels.</p>')

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
        """The controls an address asks for (?tab=samples&sample=34&noise=mask&strength=0.5&seed=7&compare=1&views=layers).

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
        views = [v for v in (query.get("views") or "").split(",") if v in VIEWS]
        if views:
            linked["views"] = views
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
        """Both clean ends, and everything that follows t (latent_point), with what the ends are."""
        return {"start_image": upscale(start), "end_image": upscale(end)} | self.latent_point(start, end, t)

    def latent_point(self, start: np.ndarray, end: np.ndarray, t: float) -> dict:
        """The walk at t (the slider): the decoded point on the straight line between the two codes and the pixel
        cross-fade of the two digits at the same t, both whole paths with t's step marked, and what the classifier reads."""
        t = float(np.clip(t, 0, 1)) if t is not None and np.isfinite(t) else 0.5
        ts = np.linspace(0, 1, LATENT_STEPS)
        decoded = self.denoiser.interpolate(start, end, [*ts, t])
        faded = np.stack([(1 - s) * start + s * end for s in [*ts, t]]).astype(np.float32)
        mark = int(round(t * (LATENT_STEPS - 1)))
        path = (path_html(decoded[:-1], f"Decoded: the DAE's code walked from start to end in {LATENT_STEPS} steps "
                                        "(t = 0 and t = 1 are the two digits as the DAE redraws them)", mark)
                + path_html(faded[:-1], "Pixel cross-fade: (1 − t) · start + t · end, no model at all", mark, kind="faded"))
        status = f"From **{self.describe(start)}** to **{self.describe(end)}**."
        p = self.denoiser.probabilities(torch.from_numpy(np.stack([decoded[-1], faded[-1]])).unsqueeze(1))
        if p is not None:
            (pd, ld), (pf, lf) = [(float(q.max()), int(q.argmax())) for q in p]
            status += (f" At t = {t:.2f} the classifier reads the decoded point as a **{ld}** ({100 * pd:.0f} %) and the "
                       f"cross-fade as a **{lf}** ({100 * pf:.0f} %). A decoded path that stays one clear digit at a time while "
                       "the cross-fade shows two faint digits on top of each other is the code space doing more than blending pixels; "
                       "where both look alike, it is not.")
        return {"point": upscale(decoded[-1]), "crossfade": upscale(faded[-1]), "path": path, "latent_status": status}

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
