"""The Latent space tab: the straight line between two digits' codes, decoded step by step, beside a pixel
cross-fade."""

from __future__ import annotations

import numpy as np
import torch

from .contract import Update
from .denoise_tab import MAX_DIGIT_CHARS
from .digits.decoding import decode_data_url, digit_from_png
from .errors import InputError
from .pictures import path_html, upscale
from .served import Served

LATENT_STEPS = 11
NO_DENOISE_DIGIT = "⚠️ There is no digit in the Denoise tab yet: draw, pick or upload one there first."
NO_SELECTION = (
    -1
)  # a gallery's selected_index that highlights no thumbnail (Gradio ignores None in an update)


def selection(index: int | None) -> Update:
    """A gallery's highlighted thumbnail: the sample `index`, or none."""
    return Update(selected_index=NO_SELECTION if index is None else int(index))


def sample_index(served: Served, digit: np.ndarray | None) -> int | None:
    """Which bundled sample `digit` is (None for a drawing or an upload)."""
    if digit is None:
        return None
    same = (served.samples == np.asarray(digit, dtype=served.samples.dtype)[None]).all(axis=(1, 2))
    return int(np.argmax(same)) if same.any() else None


def describe(served: Served, digit: np.ndarray) -> str:
    index = sample_index(served, digit)
    if index is None:
        return "the digit from the Denoise tab"
    return f"MNIST test digit #{int(served.test_indices[index])}, a {served.labels[index]}"


def latent(served: Served, start: np.ndarray, end: np.ndarray, t: float) -> dict:
    """Both clean ends, and everything that follows t (latent_point), with what the ends are."""
    return {"start_image": upscale(start), "end_image": upscale(end)} | latent_point(served, start, end, t)


def latent_point(served: Served, start: np.ndarray, end: np.ndarray, t: float) -> dict:
    """The walk at t (the slider): the decoded point on the straight line between the two codes and the pixel
    cross-fade of the two digits at the same t, both whole paths with t's step marked, and what the classifier
    reads."""
    t = float(np.clip(t, 0, 1)) if t is not None and np.isfinite(t) else 0.5
    ts = np.linspace(0, 1, LATENT_STEPS)
    decoded = served.denoiser.interpolate(start, end, [*ts, t])
    faded = np.stack([(1 - s) * start + s * end for s in [*ts, t]]).astype(np.float32)
    mark = int(round(t * (LATENT_STEPS - 1)))
    path = path_html(
        decoded[:-1],
        f"Decoded: the DAE's code walked from start to end in {LATENT_STEPS} steps "
        "(t = 0 and t = 1 are the two digits as the DAE redraws them)",
        mark,
    ) + path_html(
        faded[:-1], "Pixel cross-fade: (1 − t) · start + t · end, no model at all", mark, kind="faded"
    )
    status = f"From **{describe(served, start)}** to **{describe(served, end)}**."
    p = served.denoiser.probabilities(torch.from_numpy(np.stack([decoded[-1], faded[-1]])).unsqueeze(1))
    if p is not None:
        (pd, ld), (pf, lf) = [(float(q.max()), int(q.argmax())) for q in p]
        status += (
            f" At t = {t:.2f} the classifier reads the decoded point as a **{ld}** ({100 * pd:.0f} %) and "
            f"the cross-fade as a **{lf}** ({100 * pf:.0f} %). A decoded path that stays one clear digit at "
            "a time while the cross-fade shows two faint digits on top of each other is the code space doing "
            "more than blending pixels; where both look alike, it is not."
        )
    return {
        "point": upscale(decoded[-1]),
        "crossfade": upscale(faded[-1]),
        "path": path,
        "latent_status": status,
    }


def pick_start(served: Served, index: int, end: np.ndarray, t: float) -> dict:
    start = served.samples[int(index)]
    return {"start": start} | latent(served, start, end, t)


def pick_end(served: Served, index: int, start: np.ndarray, t: float) -> dict:
    end = served.samples[int(index)]
    return {"end": end} | latent(served, start, end, t)


def denoise_digit(served: Served, png: str | None) -> np.ndarray | None:
    """The Denoise tab's digit as the page holds it (a 28 x 28 PNG data URL), or None."""
    try:
        return digit_from_png(decode_data_url(png, MAX_DIGIT_CHARS, "digit")) if png else None
    except InputError:
        return None


def start_from(served: Served, png: str | None, start: np.ndarray, end: np.ndarray, t: float) -> dict:
    """ "Start from the digit in the Denoise tab": it becomes the start, and the start picker highlights it
    (if a sample)."""
    digit = denoise_digit(served, png)
    if digit is None:
        return {"latent_status": NO_DENOISE_DIGIT}
    return {"start": digit, "start_pick": selection(sample_index(served, digit))} | latent(
        served, digit, end, t
    )


def end_at(served: Served, png: str | None, start: np.ndarray, end: np.ndarray, t: float) -> dict:
    """ "End at the digit in the Denoise tab": the same for the end."""
    digit = denoise_digit(served, png)
    if digit is None:
        return {"latent_status": NO_DENOISE_DIGIT}
    return {"end": digit, "end_pick": selection(sample_index(served, digit))} | latent(
        served, start, digit, t
    )
