"""The inference engine: noise a digit, run the models, judge and score the results.

`Denoiser` holds the served models, loaded once; calling it denoises one digit, and `curve` scores
one digit at every strength (the quality view). Inputs that a person (or an API client) can get
wrong raise `InputError` with a message meant for them.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from dae import metrics
from dae.baselines import median3
from dae.checkpoint import load_model
from dae.noise import CORRUPTIONS, add_noise

from .errors import InputError, shown

CURVE_STEPS = 21  # strengths on the quality-against-noise curve, 0 to the slider's maximum
CURVE_CACHE = 64  # curves kept (a few kB each): the latest digits, noise kinds and seeds on screen
MAX_SEED = 2**31 - 1  # plenty of noises, and a number people can read


# ---- the denoiser --------------------------------------------------------------------------------

_flushing = threading.local()


@contextmanager
def subnormals_flushed():
    """Run the models with subnormal floats read and written as zero (the CPU's flush-to-zero mode).

    The committed DAE and U-Net hold subnormal weights (|w| < 1.2e-38: 40,153 of the DAE's, 67,364
    of the U-Net's), and a dead unit of the DAE's `l2` outputs subnormals; on this project's CPU
    every multiply with one is some 100 times slower. Flushed, 21 digits take 2.4 ms through the DAE
    instead of 17 ms and 12 ms through the U-Net instead of 100, and every output stays bit for bit
    the same (tests/webapp/test_engine.py checks it): a product below 1.2e-38 is lost in any sum it joins.
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


def check_controls(kind: object, strength: object, seed: object) -> tuple[str, float, int]:
    """Validate what the controls (or an API client) sent, whatever its type; InputError with a readable
    message."""
    if not isinstance(kind, str) or kind not in CORRUPTIONS:
        raise InputError(f"Unknown noise kind {shown(kind)}: choose one of {', '.join(CORRUPTIONS)}.")
    top = CORRUPTIONS[kind].max_strength
    value = real_number(strength)
    if value is None or not 0 <= value <= top:
        raise InputError(f"The {kind} strength must be a number from 0 to {top} (got {shown(strength)}).")
    whole = whole_number(seed)
    if whole is None or not 0 <= whole <= MAX_SEED:
        raise InputError(f"The seed must be a whole number from 0 to {MAX_SEED:,} (got {shown(seed)}).")
    return kind, value, whole


def real_number(value: object) -> float | None:
    """A finite number from an int, a float or a numeric string (never a bool); None otherwise."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def whole_number(value: object) -> int | None:
    """A whole number from an int, an integral float or a string of digits (never a bool); None otherwise."""
    if isinstance(value, str):
        text = value.strip()
        return int(text) if re.fullmatch(r"[0-9]{1,40}", text) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def score(clean: Tensor, noisy: Tensor, outputs: dict[str, Tensor]) -> dict[str, dict[str, float]]:
    """MSE and PSNR of the noisy input and of each model's output against the clean digit.

    Each model also gets `psnr_gain_db`, its PSNR minus the noisy input's: what denoising bought.
    Computed here once, so the page's table and the API's JSON cannot disagree.
    """

    def mse_psnr(y: Tensor) -> dict[str, float]:
        return {"mse": metrics.mse(y, clean).item(), "psnr": metrics.psnr(y, clean).item()}

    scores = {"noisy": mse_psnr(noisy)}
    unchanged = bool(
        torch.equal(noisy, clean)
    )  # strength 0: there is no noise to remove, so no gain to speak of
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
    guesses: dict[str, tuple[int, float]] = field(
        default_factory=dict
    )  # "input", "noisy", model -> (label, confidence)


class Denoiser:
    """The models the app serves, loaded once; calling it denoises one digit."""

    def __init__(self, models: dict[str, nn.Module], classifier: nn.Module | None = None) -> None:
        self.models = {name: model.eval() for name, model in models.items()}
        self.classifier = classifier.eval() if classifier is not None else None
        self._curves: OrderedDict[tuple, dict] = OrderedDict()  # the latest CURVE_CACHE curves, oldest first
        self._curves_lock = threading.Lock()

    @torch.inference_mode()
    @subnormals_flushed()
    def probabilities(self, images: Tensor) -> Tensor | None:
        """The classifier's (m, 10) class probabilities for (m, 1, 28, 28) images, or None without a
        classifier."""
        return None if self.classifier is None else torch.softmax(self.classifier(images), dim=1)

    @classmethod
    def from_checkpoints(cls, folders: dict[str, str | Path]) -> Denoiser:
        return cls({name: load_model(folder)[0] for name, folder in folders.items()})

    @torch.inference_mode()
    @subnormals_flushed()
    def __call__(
        self, clean: np.ndarray, kind: str, strength: float, seed: int, models: tuple[str, ...] | None = None
    ) -> Result:
        kind, strength, seed = check_controls(kind, strength, seed)
        x = torch.from_numpy(np.asarray(clean, dtype=np.float32)).view(1, 1, 28, 28)
        noisy = add_noise(x, kind, strength, seed)
        names = self.models if models is None else models
        outputs = {name: self.models[name](noisy) for name in names}
        guesses = {}
        p = self.probabilities(torch.cat([x, noisy, *outputs.values()]))
        if p is not None:  # one batch: the input, the noisy input, each reconstruction
            confidence, label = p.max(dim=1)
            guesses = {
                name: (int(label[i]), float(confidence[i]))
                for i, name in enumerate(["input", "noisy", *outputs])
            }
        return Result(
            clean=x[0, 0].numpy(),
            noisy=noisy[0, 0].numpy(),
            outputs={k: v[0, 0].numpy() for k, v in outputs.items()},
            scores=score(x, noisy, outputs),
            guesses=guesses,
        )

    def curve(
        self,
        clean: np.ndarray,
        kind: str,
        seed: int,
        models: tuple[str, ...] | None = None,
        steps: int = CURVE_STEPS,
    ) -> dict:
        """Quality against noise for one digit: PSNR and the classifier's probability of the input's label,
        at `steps` strengths over the kind's whole range, for the noisy input, every model and the median
        filter.

        The same seed at every strength, in one batch, so the curve is what the slider would show. It
        does not depend on the slider's strength, so the latest CURVE_CACHE curves are kept: moving the
        slider only moves the view's marker. Each call returns its own copy.
        """
        kind, _, seed = check_controls(kind, 0.0, seed)
        digit = np.ascontiguousarray(clean, dtype=np.float32).reshape(28, 28)
        names = tuple(self.models if models is None else models)
        key = (
            digit.tobytes(),
            kind,
            seed,
            steps,
            tuple((name, id(self.models[name])) for name in names),
            id(self.classifier),
        )
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
        """`curve` computed: one batch per model, one through the median filter and one through the
        classifier."""
        strengths = np.linspace(0.0, CORRUPTIONS[kind].max_strength, steps)
        x = torch.from_numpy(digit).view(1, 1, 28, 28)
        noisy = torch.cat([add_noise(x, kind, float(s), seed) for s in strengths])
        images = {
            "noisy": noisy,
            **{name: self.models[name](noisy) for name in names},
            "median3": median3(noisy),
        }
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
    def interpolate(
        self, a: np.ndarray, b: np.ndarray, t: list[float] | np.ndarray, model: str = "dae"
    ) -> np.ndarray:
        """Decode the points (1 − t)·z_a + t·z_b on the straight line between the codes of a and b."""
        net = self.models[model]
        codes = net.encode(torch.from_numpy(np.stack([a, b]).astype(np.float32)).unsqueeze(1))
        t = torch.as_tensor(np.asarray(t, dtype=np.float32)).unsqueeze(1)
        return net.decode((1 - t) * codes[0] + t * codes[1])[:, 0].numpy()


def result_json(result: Result) -> dict:
    """The metrics as the API returns them: plain numbers, PSNR in dB, and the classifier's guess for
    the input, the noisy input and each model (`label` 0-9, `confidence` 0-1)."""
    out = {
        name: {k: None if v is None else round(v, 6) for k, v in s.items()}
        for name, s in result.scores.items()
    }
    for name, (label, confidence) in result.guesses.items():
        out.setdefault(name, {}).update(label=label, confidence=round(confidence, 6))
    return out
