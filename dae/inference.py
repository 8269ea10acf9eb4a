"""The inference engine, as plain functions: noise a digit, run the models, judge, score and render the results.

`dae.ui` builds each event of the app from these, and `app.py` only lays the page out. Inputs
that a person (or an API client) can get wrong raise `InputError` with a message meant for them.
"""

from __future__ import annotations

import base64
import copy
import html
import io
import math
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from . import metrics
from .checkpoint import load_model
from .evaluate import median3
from .noise import NOISE_KINDS, add_noise
from .preprocess import InputError

SCALE = 8  # 28 px -> 224 px, nearest neighbour: every model pixel stays a crisp square
CURVE_STEPS = 21  # strengths on the quality-against-noise curve, 0 to the slider's maximum
CURVE_CACHE = 64  # curves kept (a few kB each): the latest digits, noise kinds and seeds on screen
MAX_SEED = 2**63 - 1


# ---- rendering ---------------------------------------------------------------------------------


def upscale(image: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """(28, 28) float in [0, 1] -> (28*scale, 28*scale) uint8, nearest neighbour."""
    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1)


@lru_cache(maxsize=1)
def colormap_lut() -> np.ndarray:
    """The error map's colormap (inferno: perceptually uniform, dark = no error) as a 256 x 3 LUT."""
    from matplotlib import colormaps

    return (colormaps["inferno"](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def error_image(error: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """|reconstruction − clean| in [0, 1] -> (28*scale, 28*scale, 3) uint8 colour map, fixed scale 0..1."""
    index = (np.clip(error, 0, 1) * 255 + 0.5).astype(np.uint8)
    return colormap_lut()[index].repeat(scale, axis=0).repeat(scale, axis=1)


def colorbar_html() -> str:
    """A visible scale for the error map: the same LUT as a CSS gradient, labelled 0 to 1."""
    lut = colormap_lut()
    stops = ", ".join(f"rgb({r},{g},{b}) {100 * i / 10:.0f}%" for i, (r, g, b) in enumerate(lut[np.linspace(0, 255, 11).astype(int)]))
    return (
        '<div class="dae-colorbar"><div class="dae-colorbar-bar" style="background: linear-gradient(to right, '
        f'{stops});"></div><div class="dae-colorbar-labels"><span>0</span><span>0.25</span><span>0.5</span>'
        "<span>0.75</span><span>1</span></div><div class=\"dae-colorbar-title\">error map: |reconstruction − clean| per pixel</div></div>"
    )


# ---- the denoiser --------------------------------------------------------------------------------

_flushing = threading.local()


@contextmanager
def subnormals_flushed():
    """Run the models with subnormal floats read and written as zero (the CPU's flush-to-zero mode).

    The committed DAE and U-Net hold subnormal weights (|w| < 1.2e-38: 40,153 of the DAE's, 67,364
    of the U-Net's), and a dead unit of the DAE's `l2` outputs subnormals; on this project's CPU
    every multiply with one is some 100 times slower. Flushed, 21 digits take 2.4 ms through the DAE
    instead of 17 ms and 12 ms through the U-Net instead of 100, and every output stays bit for bit
    the same (tests/test_inference.py checks it): a product below 1.2e-38 is lost in any sum it joins.
    The mode belongs to the calling thread and is switched off again on the way out.
    """
    depth = getattr(_flushing, "depth", 0)
    if depth == 0:
        torch.set_flush_denormal(True)
    _flushing.depth = depth + 1
    try:
        yield
    finally:
        _flushing.depth = depth
        if depth == 0:
            torch.set_flush_denormal(False)


def check_controls(kind: str, strength: float, seed: float | int) -> tuple[str, float, int]:
    """Validate what the sliders (or an API client) sent; raise InputError with a readable message."""
    if kind not in NOISE_KINDS:
        raise InputError(f"Unknown noise kind {kind!r}: choose one of {', '.join(NOISE_KINDS)}.")
    top = NOISE_KINDS[kind].max_strength
    try:
        strength = float(strength)
    except (TypeError, ValueError):
        raise InputError(f"The strength must be a number between 0 and {top}, not {strength!r}.") from None
    if not (math.isfinite(strength) and 0 <= strength <= top):
        raise InputError(f"The {kind} strength must be between 0 and {top} (got {strength}).")
    try:
        seed_f = float(seed)
    except (TypeError, ValueError):
        raise InputError(f"The seed must be a whole number, not {seed!r}.") from None
    if not (math.isfinite(seed_f) and seed_f == int(seed_f) and 0 <= int(seed_f) <= MAX_SEED):
        raise InputError(f"The seed must be a whole number between 0 and {MAX_SEED} (got {seed}).")
    return kind, strength, int(seed_f)


def score(clean: Tensor, noisy: Tensor, outputs: dict[str, Tensor]) -> dict[str, dict[str, float]]:
    """MSE and PSNR of the noisy input and of each model's output against the clean digit.

    Each model also gets `psnr_gain_db`, its PSNR minus the noisy input's: what denoising bought.
    Computed here once, so the page's table and the API's JSON cannot disagree.
    """
    def mse_psnr(y: Tensor) -> dict[str, float]:
        return {"mse": metrics.mse(y, clean).item(), "psnr": metrics.psnr(y, clean).item()}

    scores = {"noisy": mse_psnr(noisy)}
    unchanged = bool(torch.equal(noisy, clean))  # strength 0: there is no noise to remove, so no gain to speak of
    for name, y in outputs.items():
        s = mse_psnr(y)
        scores[name] = s | {"psnr_gain_db": None if unchanged else s["psnr"] - scores["noisy"]["psnr"]}
    return scores


@dataclass
class Result:
    clean: np.ndarray  # (28, 28) floats in [0, 1]
    noisy: np.ndarray
    outputs: dict[str, np.ndarray]  # model name -> reconstruction
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # see score()
    guesses: dict[str, tuple[int, float]] = field(default_factory=dict)  # "input", "noisy", model -> (label, confidence)


class Denoiser:
    """The models the app serves, loaded once; calling it denoises one digit."""

    def __init__(self, models: dict[str, nn.Module], classifier: nn.Module | None = None) -> None:
        self.models = {name: model.eval() for name, model in models.items()}
        self.classifier = classifier.eval() if classifier is not None else None
        self._curves: OrderedDict[tuple, dict] = OrderedDict()  # the latest CURVE_CACHE curves, oldest first
        self._curves_lock = threading.Lock()
        # What the teaching views need of the DAE's training run (app.load_denoiser reads them beside the checkpoint):
        self.snapshots: list[tuple[dict, nn.Module]] = []  # [(info, model)]: the weights at a few steps of its training
        self.code_map = None  # dae.code_map.CodeMap of its test-set codes
        self.training: dict | None = None  # its metrics.json (the loss curve)

    @torch.inference_mode()
    @subnormals_flushed()
    def probabilities(self, images: Tensor) -> Tensor | None:
        """The classifier's (m, 10) class probabilities for (m, 1, 28, 28) images, or None without a classifier."""
        return None if self.classifier is None else torch.softmax(self.classifier(images), dim=1)

    @classmethod
    def from_checkpoints(cls, folders: dict[str, str | Path]) -> Denoiser:
        return cls({name: load_model(folder)[0] for name, folder in folders.items()})

    @torch.inference_mode()
    @subnormals_flushed()
    def __call__(self, clean: np.ndarray, kind: str, strength: float, seed: int, models: tuple[str, ...] | None = None) -> Result:
        kind, strength, seed = check_controls(kind, strength, seed)
        x = torch.from_numpy(np.asarray(clean, dtype=np.float32)).view(1, 1, 28, 28)
        noisy = add_noise(x, kind, strength, seed)
        names = self.models if models is None else models
        outputs = {name: self.models[name](noisy) for name in names}
        guesses = {}
        p = self.probabilities(torch.cat([x, noisy, *outputs.values()]))
        if p is not None:  # one batch: the input, the noisy input, each reconstruction
            confidence, label = p.max(dim=1)
            guesses = {name: (int(label[i]), float(confidence[i])) for i, name in enumerate(["input", "noisy", *outputs])}
        return Result(clean=x[0, 0].numpy(), noisy=noisy[0, 0].numpy(), outputs={k: v[0, 0].numpy() for k, v in outputs.items()},
                      scores=score(x, noisy, outputs), guesses=guesses)

    def curve(self, clean: np.ndarray, kind: str, seed: int, models: tuple[str, ...] | None = None, steps: int = CURVE_STEPS) -> dict:
        """Quality against noise for one digit: PSNR and the classifier's probability of the input's label,
        at `steps` strengths over the kind's whole range, for the noisy input, every model and the median filter.

        The same seed at every strength, in one batch, so the curve is what the slider would show. It
        does not depend on the slider's strength, so the latest CURVE_CACHE curves are kept: moving the
        slider only moves the view's marker. Each call returns its own copy.
        """
        kind, _, seed = check_controls(kind, 0.0, seed)
        digit = np.ascontiguousarray(clean, dtype=np.float32).reshape(28, 28)
        names = tuple(self.models if models is None else models)
        key = (digit.tobytes(), kind, seed, steps, tuple((name, id(self.models[name])) for name in names), id(self.classifier))
        with self._curves_lock:
            curve = self._curves.get(key)
            if curve is not None:
                self._curves.move_to_end(key)
        if curve is None:
            curve = self._curve(digit, kind, seed, names, steps)
            with self._curves_lock:
                self._curves[key] = curve
                while len(self._curves) > CURVE_CACHE:
                    self._curves.popitem(last=False)
        return copy.deepcopy(curve)

    @torch.inference_mode()
    @subnormals_flushed()
    def _curve(self, digit: np.ndarray, kind: str, seed: int, names: tuple[str, ...], steps: int) -> dict:
        """`curve` computed: one batch per model, one through the median filter and one through the classifier."""
        strengths = np.linspace(0.0, NOISE_KINDS[kind].max_strength, steps)
        x = torch.from_numpy(digit).view(1, 1, 28, 28)
        noisy = torch.cat([add_noise(x, kind, float(s), seed) for s in strengths])
        images = {"noisy": noisy, **{name: self.models[name](noisy) for name in names}, "median3": median3(noisy)}
        batch = torch.cat(list(images.values()))
        psnr = metrics.psnr(batch, x.expand_as(batch)).view(len(images), steps)
        curve = {"strengths": strengths.tolist(), "psnr": {k: psnr[i].tolist() for i, k in enumerate(images)}}
        if self.classifier is not None:  # the digit itself first: its label is the one the curve follows
            p = torch.softmax(self.classifier(torch.cat([x, batch])), dim=1)
            label = int(p[0].argmax())
            p = p[1:, label].view(len(images), steps)
            curve |= {"label": label, "probability": {k: p[i].tolist() for i, k in enumerate(images)}}
        return curve

    @torch.inference_mode()
    @subnormals_flushed()
    def interpolate(self, a: np.ndarray, b: np.ndarray, t: list[float] | np.ndarray, model: str = "dae") -> np.ndarray:
        """Decode the points (1 − t)·z_a + t·z_b on the straight line between the codes of a and b."""
        net = self.models[model]
        codes = net.encode(torch.from_numpy(np.stack([a, b]).astype(np.float32)).unsqueeze(1))
        t = torch.as_tensor(np.asarray(t, dtype=np.float32)).unsqueeze(1)
        return net.decode((1 - t) * codes[0] + t * codes[1])[:, 0].numpy()


def output_images(result: Result, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The upscaled reconstruction of model `name` and its error map, as the app shows them."""
    out = result.outputs[name]
    return upscale(out), error_image(np.abs(out - result.clean))


def png_data_uri(image: np.ndarray) -> str:
    """(28, 28) float in [0, 1] -> an inline PNG (a few hundred bytes; the browser scales it up)."""
    return png_rgb_data_uri((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))


def path_html(images: np.ndarray, caption: str, marked: int | None = None, kind: str = "decoded") -> str:
    """The points of a latent walk as a row of digits that wraps on narrow screens; step `marked` is outlined (the slider's)."""
    steps = len(images)
    now = ' class="dae-step-now"'
    tiles = "".join(
        f'<img src="{png_data_uri(img)}" alt="step {i + 1} of {steps}" title="t = {i / max(steps - 1, 1):.2f}"{now if i == marked else ""}>'
        for i, img in enumerate(images)
    )
    return (f'<figure class="dae-path dae-path-{kind}"><figcaption>{html.escape(caption)}</figcaption>'
            f'<div class="dae-path-steps">{tiles}</div></figure>')


METRICS_LEGEND = (  # one line per column of the metrics table
    "<b>MSE</b>: the mean squared difference to the clean digit, per pixel (0 = identical).",
    "<b>PSNR</b>: the same in decibels, 10·log₁₀(1 / MSE); higher is better, +3 dB halves the MSE.",
    "<b>gain</b>: the reconstruction's PSNR minus the noisy input's, what denoising bought (at strength 0 there is no noise to remove).",
)


def metrics_html(result: Result, names: dict[str, str] | None = None) -> str:
    """MSE and PSNR of the noisy input and of each reconstruction, the dB gained, and what each column means."""
    names = names or {}
    noisy = result.scores["noisy"]
    rows = [f"<tr><td>noisy input</td><td>{noisy['mse']:.4f}</td><td>{_db(noisy['psnr'])}</td><td></td></tr>"]
    for name, s in result.scores.items():
        if name != "noisy":
            gain = "no noise to remove" if s["psnr_gain_db"] is None else f"<b>{s['psnr_gain_db']:+.2f} dB</b>"
            rows.append(f"<tr><td>{html.escape(names.get(name, name))}</td><td>{s['mse']:.4f}</td><td>{_db(s['psnr'])}</td><td>{gain}</td></tr>")
    return (
        '<table class="dae-metrics"><thead><tr><th></th><th>MSE</th><th>PSNR</th><th>gain</th></tr></thead><tbody>'
        + "".join(rows) + "</tbody></table>"
        f'<p class="dae-legend">{"<br>".join(METRICS_LEGEND)}</p>'
    )


def _db(value: float) -> str:
    return "∞ (identical)" if value >= metrics.MAX_PSNR else f"{value:.2f} dB"


def result_json(result: Result) -> dict:
    """The metrics as the API returns them: plain numbers, PSNR in dB, and the classifier's guess for
    the input, the noisy input and each model (`label` 0-9, `confidence` 0-1)."""
    out = {name: {k: None if v is None else round(v, 6) for k, v in s.items()} for name, s in result.scores.items()}
    for name, (label, confidence) in result.guesses.items():
        out.setdefault(name, {}).update(label=label, confidence=round(confidence, 6))
    return out


def guess_text(result: Result, name: str) -> str:
    """The classifier's guess as the page shows it under an image: "7 · 98 %"."""
    if name not in result.guesses:
        return ""
    return guess_of(*result.guesses[name])


def guess_of(label: int, confidence: float) -> str:
    """A label and its probability as the page writes them: "7 · 98 %"."""
    return f"{label} · {100 * confidence:.0f} %"


def png_rgb_data_uri(image: np.ndarray) -> str:
    """(h, w) grey or (h, w, 3) RGB uint8 -> an inline PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
