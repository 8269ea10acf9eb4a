"""Layer by layer: the noisy digit through every stage of the model, as the next stage receives it.

The activations are read with forward hooks on the real modules, so what the view shows is what
the model computed, not a second copy of its forward pass. Each stage is shown after its
activation function: ReLU after conv1..conv5 and l2, none after l1 (the code), the sigmoid after
conv6 (the output). Maps after a ReLU are black (0) to white (the stage's largest value); signed
ones (the code) blue-white-red around 0.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..pictures import png_rgb_data_uri


@dataclass(frozen=True)
class Stage:
    """One stage of a model as the view labels it."""

    name: str  # the module's name in the model ("conv1", "l1", ...)
    title: str  # what the view calls it
    definition: str  # the layer definition, as the model's table gives it
    does: str  # one line on what the stage does
    activation: str = "relu"  # applied to the module's output: "relu", "none" or "sigmoid"


# The DAE, in the order data flows through it (dae/model.py; the specification's table).
DAE_STAGES = (
    Stage(
        "conv1",
        "conv1",
        "Conv2d(1, 16, kernel 3, stride 2, padding 2) + ReLU",
        "16 filters look for small strokes and edges; stride 2 halves the picture (28 → 15).",
    ),
    Stage(
        "conv2",
        "conv2",
        "Conv2d(16, 32, kernel 3, stride 2, padding 1) + ReLU",
        "Combines strokes into parts of digits (curves, corners) on a coarser 8 × 8 grid.",
    ),
    Stage(
        "conv3",
        "conv3",
        "Conv2d(32, 64, kernel 3, stride 2, padding 1) + ReLU",
        "64 detectors of larger shapes, each on a 4 × 4 grid: where is each part, roughly.",
    ),
    Stage(
        "l1",
        "code (l1)",
        "Linear(1024, 256), no activation",
        "The bottleneck: the whole digit squeezed into 256 numbers. Everything the decoder knows is here.",
        activation="none",
    ),
    Stage(
        "l2",
        "l2",
        "Linear(256, 1024) + ReLU, reshaped to 64 × 4 × 4",
        "The decoder starts: the code is turned back into 64 coarse maps, like conv3's.",
    ),
    Stage(
        "conv4",
        "conv4",
        "ConvTranspose2d(64, 32, kernel 3, stride 3, padding 2) + ReLU",
        "Upsamples to 8 × 8, painting parts of a digit from the coarse maps.",
    ),
    Stage(
        "conv5",
        "conv5",
        "ConvTranspose2d(32, 16, kernel 3, stride 3, padding 4) + ReLU",
        "Upsamples to 16 × 16: strokes take shape.",
    ),
    Stage(
        "conv6",
        "output (conv6)",
        "ConvTranspose2d(16, 1, kernel 3, stride 2, padding 3, output padding 1) + sigmoid",
        "The reconstruction, 28 × 28, each pixel in (0, 1).",
        activation="sigmoid",
    ),
)

# The U-Net: encoder levels, its bottleneck and global context, decoder levels (dae/model.py, UNet).
UNET_STAGES = (
    Stage(
        "enc1",
        "enc1",
        "2 × (conv 3×3 + ReLU), 16 channels",
        "Edges and strokes at full size; sent across to dec1 (skip).",
    ),
    Stage(
        "enc2",
        "enc2",
        "conv 3×3 stride 2 + conv 3×3, 32 channels",
        "Parts of digits at 14 × 14; sent across to dec2 (skip).",
    ),
    Stage(
        "enc3",
        "enc3",
        "conv 3×3 stride 2 + conv 3×3, 64 channels",
        "Larger shapes at 7 × 7; sent across to dec3 (skip).",
    ),
    Stage(
        "mid",
        "bottom (mid)",
        "conv 3×3 stride 2 + conv 3×3, 128 channels",
        "The coarsest level, 4 × 4: what is where, roughly.",
    ),
    Stage(
        "context.l1",
        "global context code",
        "1×1 conv → 32 ch, Linear(512, 256) + ReLU",
        "The U-Net's own 256-number view of the whole digit, added back to the bottom level. "
        "Where all 256 are 0 (after the ReLU), the block adds the same constant to every digit.",
    ),
    Stage(
        "dec3",
        "dec3",
        "up to 7 × 7, concat enc3 (skip), conv 3×3, 64 channels",
        "Decoding starts, with enc3's maps handed across.",
    ),
    Stage(
        "dec2",
        "dec2",
        "up to 14 × 14, concat enc2 (skip), conv 3×3, 32 channels",
        "Finer detail, from enc2's maps.",
    ),
    Stage(
        "dec1",
        "dec1",
        "up to 28 × 28, concat enc1 (skip), conv 3×3, 16 channels",
        "Full size again, with enc1's strokes.",
    ),
    Stage(
        "out",
        "correction (out)",
        "conv 1×1 → 1 channel; output = clamp(noisy + correction, 0, 1)",
        "What the U-Net adds to the noisy pixels (negative: removes), not a redrawn digit.",
        activation="none",
    ),
)

ACTIVATIONS = {"relu": F.relu, "none": lambda t: t, "sigmoid": torch.sigmoid}


@torch.inference_mode()
def activations(model: nn.Module, x: Tensor, stages: tuple[Stage, ...]) -> dict[str, Tensor]:
    """{stage name: its activation for the one image x (1, 1, 28, 28)}, without the batch axis.

    l2's output is reshaped to (64, 4, 4) as the decoder does; every other stage keeps its module's shape.
    """
    modules = dict(model.named_modules())
    seen: dict[str, Tensor] = {}
    hooks = [
        modules[s.name].register_forward_hook(
            lambda m, i, out, s=s: seen.__setitem__(s.name, ACTIVATIONS[s.activation](out))
        )
        for s in stages
    ]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    out = {name: seen[name][0] for name in (s.name for s in stages)}
    if "l2" in out:
        out["l2"] = out["l2"].view(64, 4, 4)
    return out


def shape_text(t: Tensor) -> str:
    """(16, 15, 15) -> "16 × 15 × 15"; (256,) -> "256"."""
    return " × ".join(str(n) for n in t.shape)


@lru_cache(maxsize=1)
def diverging_lut() -> np.ndarray:
    """Blue (negative) – white (0) – red (positive), 256 x 3: for the code and the U-Net's correction."""
    from matplotlib import colormaps

    return (colormaps["RdBu_r"](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def mosaic(maps: np.ndarray, columns: int, signed: bool = False) -> tuple[np.ndarray, float, float]:
    """(n, h, w) maps -> one picture of them in a grid with 1-pixel gaps (grey, or RGB when signed), and its
    value range.

    Unsigned maps (after a ReLU) go from black (0) to white (the layer's largest value), one scale
    for all of a layer's maps so that they compare; signed ones use the diverging scale,
    symmetric about 0 (white).
    """
    n, h, w = maps.shape
    rows = -(-n // columns)
    lo, hi = float(maps.min()), float(maps.max())
    if signed:
        top = max(abs(lo), abs(hi), 1e-8)
        index = np.clip((maps / top + 1) / 2 * 255 + 0.5, 0, 255).astype(np.uint8)
        tiles = diverging_lut()[index]
    else:
        tiles = np.clip(maps / max(hi, 1e-8) * 255 + 0.5, 0, 255).astype(
            np.uint8
        )  # greyscale: a third of the bytes
    picture = np.full(
        (rows * (h + 1) - 1, columns * (w + 1) - 1, *tiles.shape[3:]), 96, dtype=np.uint8
    )  # grey gaps
    for i in range(n):
        r, c = divmod(i, columns)
        picture[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tiles[i]
    return picture, lo, hi


def _columns(n: int) -> int:
    """A near-square grid, wider than tall: 16 -> 4, 32 -> 8, 64 -> 8, 128 -> 16."""
    return 2 ** math.ceil(math.log2(n) / 2) if n > 1 else 1


def stage_html(stage, value, signed: bool) -> str:
    """One stage of the layers view: its maps, name, true shape, definition and what it does."""
    maps = value.numpy()
    shape = shape_text(value)
    if maps.ndim == 1:  # a code: 256 numbers as 16 x 16, 16 as 4 x 4, 2 as a row of two
        side = int(math.isqrt(len(maps)))
        maps = maps.reshape(1, side, side) if side * side == len(maps) else maps.reshape(1, 1, -1)
    elif maps.ndim == 2:
        maps = maps[None]
    picture, lo, hi = mosaic(maps, _columns(len(maps)), signed)
    scale = (
        f"blue {lo:+.2f} · white 0 · red {hi:+.2f}"
        if signed
        else f"black 0 · white {hi:.2f}"
        if hi > 1e-6
        else "every value 0 for this digit"
    )
    count = (
        f"{maps.shape[0]} maps of {maps.shape[1]} × {maps.shape[2]}"
        if maps.shape[0] > 1
        else (f"{shape} numbers, shown {maps.shape[1]} × {maps.shape[2]}" if value.ndim == 1 else shape)
    )
    return (
        f'<figure class="dae-layer"><img src="{png_rgb_data_uri(picture)}" '
        f'alt="{html.escape(stage.title)}: {count}">'
        f'<figcaption><b>{html.escape(stage.title)}</b> <span class="dae-shape">{shape}</span>'
        f"<br><code>{html.escape(stage.definition)}</code><br>{html.escape(stage.does)}"
        f'<br><span class="dae-scale">{count}; {scale}</span></figcaption></figure>'
    )


def layers_html(model_stages: list[tuple[str, tuple, dict]]) -> str:
    """The "Layer by layer" view: for each model, (title, its stages, {stage name: activation}) in data
    order."""
    parts = []
    for title, stages, values in model_stages:
        figures = "".join(stage_html(s, values[s.name], signed=s.activation == "none") for s in stages)
        parts.append(
            f'<h4 class="dae-layers-title">{html.escape(title)}</h4><div class="dae-layers">{figures}</div>'
        )
    return "".join(parts)


INPUT_STAGE = Stage(
    "input", "noisy input", "what the model is given", "The noisy digit on screen, pixels in [0, 1]."
)


def dae_stages(code_size: int) -> tuple[Stage, ...]:
    """The DAE's stages with its code size (256 in the specification; the lesson models have 2 or 16)."""
    if code_size == 256:
        return DAE_STAGES
    changed = {
        "l1": Stage(
            "l1",
            "code (l1)",
            f"Linear(1024, {code_size}), no activation",
            f"The bottleneck: the whole digit squeezed into {code_size} numbers. Everything the decoder "
            "knows is here.",
            activation="none",
        ),
        "l2": Stage(
            "l2",
            "l2",
            f"Linear({code_size}, 1024) + ReLU, reshaped to 64 × 4 × 4",
            "The decoder starts: the code is turned back into 64 coarse maps, like conv3's.",
        ),
    }
    return tuple(changed.get(s.name, s) for s in DAE_STAGES)


def layers_view(served, noisy: torch.Tensor, names: tuple[str, ...]) -> str:
    """The view for the models `names` on screen (the DAE first), from the noisy digit (1, 1, 28, 28)."""
    shown = []
    for name in names:
        model = served.models[name]
        if model.code_size is None:  # the U-Net
            title = (
                f"{model.title}: encoder levels, bottom with global context, "
                "decoder levels fed by the skip paths"
            )
            stages = UNET_STAGES
        else:
            title = f"{model.title}: encoder → {model.code_size}-number code → decoder"
            stages = dae_stages(model.code_size)
        values = {"input": noisy[0]} | activations(served.denoiser.models[name], noisy, stages)
        shown.append((title, (INPUT_STAGE, *stages), values))
    return layers_html(shown)
