"""Links that restore a view: the address's query names the digit, the noise and the open views.

    ?tab=samples&sample=34&noise=mask&strength=0.5&seed=7&compare=1&views=layers

The page's controller rewrites the address after every answer; on load, `from_link` turns the
address back into the controls' values and what the controller starts with.
"""

from __future__ import annotations

import json
import math

from dae.noise import NOISE_KINDS

from .contract import Update
from .denoise_tab import strength_slider
from .engine import MAX_SEED
from .served import Served
from .views import VIEWS


def from_link(served: Served, request=None) -> dict:
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
    out["compare"] = query.get("compare") == "1" and "unet" in served.denoiser.models
    linked = {}
    tab = query.get("tab")
    if tab in ("draw", "samples", "upload"):
        linked["tab"] = tab
        out["input_tabs"] = Update(selected=tab)
    try:
        sample = int(query["sample"])
        if 0 <= sample < len(served.samples):
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
