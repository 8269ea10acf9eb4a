"""The teaching views under the Denoise tab's results, one module each, drawn on the server as inline
SVG/HTML.

Each open view (a <details> of the page, by id) comes back in the same answer as the results,
computed from the same noisy digit; a view whose data the served checkpoint lacks is left out.
"""

from __future__ import annotations

import numpy as np
import torch

from ..engine import Result, check_controls, subnormals_flushed
from .code_space import map_view
from .curve import curve_svg
from .kinds import kinds_view
from .layers import layers_view
from .learning import learning_view

VIEWS = ("curve", "layers", "kinds", "latent-map", "learning")  # the ids of the views' <details> on the page


@subnormals_flushed()
def open_views(served, request: dict, digit: np.ndarray, r: Result, names: tuple[str, ...]) -> dict[str, str]:
    """{view id: its HTML} for the views the request names as open."""
    wanted = (
        [v for v in request.get("views") or () if v in VIEWS]
        if isinstance(request.get("views"), list)
        else []
    )
    kind, strength, seed = check_controls(request.get("noise"), request.get("strength"), request.get("seed"))
    noisy = torch.from_numpy(r.noisy).view(1, 1, 28, 28)
    views = {}
    if "curve" in wanted:
        titles = {name: m.title for name, m in served.models.items()}
        views["curve"] = curve_svg(
            served.denoiser.curve(digit, kind, seed, names), kind, strength, served.means, titles
        )
    if "layers" in wanted:
        views["layers"] = layers_view(served, noisy, names)
    if "kinds" in wanted:
        views["kinds"] = kinds_view(served, digit, kind, strength, seed)
    if "latent-map" in wanted:  # each model on screen that has a code map: "latent-map/<name>"
        clean = torch.from_numpy(r.clean).view(1, 1, 28, 28)
        for name in names:
            if served.models[name].code_map is not None:
                views[f"latent-map/{name}"] = map_view(served, name, clean, noisy, request.get("map_at"))
    if "learning" in wanted and served.training is not None:
        views["learning"] = learning_view(served, r, noisy)
    return views
