"""The API: one named endpoint, `/denoise` (docs/api.md): an image file in, the noisy input, the
reconstruction, the error map and the metrics out."""

from __future__ import annotations

import numpy as np

from .digits.upload import read_upload
from .engine import Result, result_json
from .errors import InputError, shown
from .pictures import error_image, upscale
from .served import Served


def denoise(
    served: Served, image: str | None, noise: str, strength: float, seed: float, model: str = "dae"
) -> dict:
    """Denoise an image file: the noisy input, the reconstruction and the error map (224 x 224 PNGs), and the
    metrics."""
    if image is None:
        raise InputError("Send an image file.")
    if not isinstance(model, str) or model not in served.denoiser.models:
        raise InputError(f"Unknown model {shown(model)}: choose one of {', '.join(served.denoiser.models)}.")
    r = served.denoiser(read_upload(image).digit, noise, strength, seed, (model,))
    reconstruction, error_map = output_images(r, model)
    return {
        "noisy": upscale(r.noisy),
        "reconstruction": reconstruction,
        "error_map": error_map,
        "metrics": result_json(r),
    }


def output_images(result: Result, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The upscaled reconstruction of model `name` and its error map, as the app shows them."""
    out = result.outputs[name]
    return upscale(out), error_image(np.abs(out - result.clean))
