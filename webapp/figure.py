"""Save figure: the results on screen, drawn as one PNG with their caption, for slides and worksheets.

The figure is drawn from the same answer the page shows (denoise_tab.render), so it cannot
disagree with the page: the digit, the noisy digit, each reconstruction and error map with the
judge's readings, and a caption naming the digit, the noise, its strength and seed and each PSNR;
under them the quality curve, and the stages of "Layer by layer", when those views are open.
"""

from __future__ import annotations

import base64
import html
import io
import re

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from dae.noise import CORRUPTIONS  # noqa: E402

from . import denoise_tab  # noqa: E402
from .engine import whole_number  # noqa: E402
from .errors import InputError  # noqa: E402
from .served import Served  # noqa: E402

CAPTIONS = {
    "clean": "input",
    "noisy": "noisy input",
    "recon": "DAE",
    "error": "DAE error",
    "compare-recon": "",
    "compare-error": "its error",
}


def pixels(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def figure_png(served: Served, request: dict) -> bytes:
    """The PNG of what `request` shows; InputError when it shows no digit (there is nothing to draw)."""
    answer = denoise_tab.render(served, dict(request, live=False))
    images = answer.get("images") or {}
    if "recon" not in images:
        status = answer.get("status") or ""
        if status.startswith("⚠️"):  # the render's own reason (a bad seed, ...), as plain text
            raise InputError(html.unescape(re.sub(r"<[^>]+>", " ", status)).removeprefix("⚠️").strip())
        raise InputError("There is no result to save yet: draw, pick or upload a digit first.")
    request = dict(request, seed=whole_number(request.get("seed")))  # the seed the render used: 7.0 -> 7
    shown = [k for k in CAPTIONS if k in images]
    captions = dict(CAPTIONS, **{"compare-recon": answer.get("compare_title") or "compared"})
    curve = "curve" in (answer.get("views") or {})
    layers = re.findall(
        r'<img src="(data:image/png;base64,[^"]+)" alt="([^":]+)', answer["views"].get("layers", "")
    )
    rows = 1 + curve + (1 if layers else 0)
    fig = plt.figure(figsize=(2.1 * len(shown), 2.9 + 2.8 * curve + 2.6 * bool(layers)), dpi=120)
    grid = fig.add_gridspec(rows, len(shown), height_ratios=[1.15] + [1.0] * curve + [0.9] * bool(layers))
    for i, key in enumerate(shown):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(pixels(images[key]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(captions[key], fontsize=10)
        guess = (answer.get("guesses") or {}).get(key, "")
        ax.set_xlabel(guess, fontsize=10, color="#dc2626" if key in (answer.get("wrong") or []) else "black")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(caption(request, answer), fontsize=10)
    if curve:
        ax = fig.add_subplot(grid[1, :])
        data = served.for_session(request.get("session")).denoiser.curve(
            pixels(images["clean"]).astype(np.float32) / 255,
            request["noise"],
            int(str(request.get("seed", 0)).strip() or 0),
            tuple(n for n in ("dae", answer.get("compare")) if n),
        )
        for name, values in data["psnr"].items():
            ax.plot(
                data["strengths"],
                np.minimum(values, 40),
                label=captions.get(name, name) if name != "dae" else "DAE",
                lw=1.8 if name not in ("noisy", "median3") else 1.0,
            )
        ax.axvline(float(request["strength"]), color="0.3", ls="--", lw=0.8)
        ax.set(
            xlabel=f"strength {CORRUPTIONS[request['noise']].strength_name.split()[0]}",
            ylabel="PSNR (dB, cut at 40)",
            ylim=(0, 41),
        )
        ax.legend(fontsize=8, ncol=4)
        ax.grid(alpha=0.3)
    if layers:
        sub = grid[rows - 1, :].subgridspec(1, len(layers))
        for j, (uri, title) in enumerate(layers):
            ax = fig.add_subplot(sub[0, j])
            ax.imshow(pixels(uri), cmap="gray", interpolation="nearest")
            ax.set_title(title, fontsize=7)
            ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def caption(request: dict, answer: dict) -> str:
    """ "MNIST test digit #6862, a 3 · Gaussian σ 0.50, seed 7 · PSNR: noisy 9.4 dB, DAE 19.2 dB"."""
    kind = CORRUPTIONS[request["noise"]]

    def title(name: str) -> str:
        if name == "dae":
            return "DAE"
        return (answer.get("compare_title") or name) if name == answer.get("compare") else name

    scores = (answer.get("metrics") or {}).items()
    psnr = ", ".join(f"{title(name)} {s['psnr']:.1f} dB" for name, s in scores if "psnr" in s)
    what = answer.get("caption") or "a digit drawn or uploaded"
    return (
        f"{what} · {kind.label} {kind.strength_name.split()[0]} {float(request['strength']):.2f}, "
        f"seed {request.get('seed')} · PSNR: {psnr}"
    )
