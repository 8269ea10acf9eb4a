"""Links that restore a view: the address names the digit, the controls and the open views.

    ?tab=samples&digit=6862&noise=mask&strength=0.5&seed=7&compare=plain-ae&views=curve,layers&present=1
    ?pixels=eNpjYBgF...&noise=gaussian&strength=0.3&seed=0&views=curve      (a drawn or uploaded digit)

`digit` names a bundled MNIST test digit by its test-set number; `pixels` carries any other digit's
28 x 28 pixels (denoise_tab.link_pixels: a few hundred characters). `views` lists the open views
(empty: all closed; absent: the default, the quality curve open). The page's controller rewrites
the address after every change; on load, `from_link` turns it back into what the controller starts
with. Links made before `digit` existed use `sample=<the picker's index>` and `compare=1` (the
U-Net): both still work. Values that cannot be used are left at their defaults: a link never
breaks the page.
"""

from __future__ import annotations

import math

from dae.noise import CORRUPTIONS

from .denoise_tab import digit_from_link
from .engine import MAX_SEED, whole_number
from .pictures import png_data_uri
from .served import Served
from .views import VIEWS

TABS = ("draw", "samples", "upload")


def from_link(served: Served, request=None) -> dict:
    """What the address asks for: {"tab", "controls": {noise, strength, seed, compare}, "sample" or "digit",
    "views", "present"}; "tab" is None when the link names none (the tab on screen stays)."""
    query = dict(getattr(request, "query_params", None) or {})
    kind = query.get("noise") if query.get("noise") in CORRUPTIONS else next(iter(CORRUPTIONS))
    top = CORRUPTIONS[kind]
    strength = top.default_strength
    try:
        given = float(query["strength"])
        if math.isfinite(given) and 0 <= given <= top.max_strength:
            strength = given
    except (KeyError, ValueError):
        pass
    seed = whole_number(query.get("seed", "0"))
    beside = "unet" if query.get("compare") == "1" else query.get("compare")
    controls = {
        "noise": kind,
        "strength": strength,
        "seed": str(min(seed, MAX_SEED) if seed is not None else 0),
        "compare": beside if beside in served.models and beside != "dae" else None,
    }
    out = {"tab": query.get("tab") if query.get("tab") in TABS else None, "controls": controls}
    sample = linked_sample(served, query)
    if sample is not None:
        out["sample"] = sample
        out["tab"] = out["tab"] or "samples"
    else:
        digit = digit_from_link(query.get("pixels"))
        if digit is not None:
            out["digit"] = png_data_uri(digit)
            out["tab"] = out["tab"] if out["tab"] in ("draw", "upload") else "draw"
    if "views" in query:
        out["views"] = [v for v in query["views"].split(",") if v in VIEWS]
    out["present"] = query.get("present") == "1"
    return out


def linked_sample(served: Served, query: dict) -> int | None:
    """The bundled sample a link names: `digit=<test-set number>`, or the older `sample=<picker index>`."""
    number = whole_number(query.get("digit", ""))
    if number is not None:
        found = [i for i, n in enumerate(served.test_indices) if int(n) == number]
        return found[0] if found else None
    index = whole_number(query.get("sample", ""))
    return index if index is not None and index < len(served.samples) else None
