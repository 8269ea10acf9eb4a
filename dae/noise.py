"""Corruptions, one module for training, evaluation, the app and the tests.

Every function takes a batch `x` of shape (m, 1, 28, 28) (any shape whose first dimension is
the batch works) with pixels in [0, 1], a strength that is either a scalar or one value per
sample, and a `torch.Generator` or an integer seed, so that the same seed gives the same noise
on the same device. A strength of 0 returns the input unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

Strength = float | Tensor
Seed = torch.Generator | int | None


@dataclass(frozen=True)
class NoiseKind:
    """A corruption with the range of strengths the app offers (and blind training draws from, for
    NOISE_KINDS)."""

    name: str
    label: str  # how the app names it
    strength_name: str  # what the strength means, for slider labels
    max_strength: float
    default_strength: float
    seen: bool = True  # one of the noises the models were trained on (blind noise)


NOISE_KINDS: dict[str, NoiseKind] = {
    k.name: k
    for k in (
        NoiseKind("gaussian", "Gaussian", "σ (standard deviation)", 1.0, 0.5),
        NoiseKind("mask", "Mask (dropped pixels)", "p (fraction of pixels set to 0)", 0.9, 0.5),
        NoiseKind("salt_pepper", "Salt and pepper", "a (fraction of pixels set to 0 or 1)", 0.5, 0.2),
    )
}


# Corruptions no model here was trained on: the app offers them to show where a DAE fails.
UNSEEN_KINDS: dict[str, NoiseKind] = {
    k.name: k
    for k in (
        NoiseKind("blur", "Blur", "σ (px of Gaussian blur)", 3.0, 1.5, seen=False),
        NoiseKind(
            "shift", "Shift", "d (pixels moved, in a direction drawn from the seed)", 8.0, 4.0, seen=False
        ),
        NoiseKind("rotate", "Rotation", "θ (degrees, turned either way by the seed)", 90.0, 30.0, seen=False),
        NoiseKind("block", "Block", "s (side of a hidden square, a fraction of 28 px)", 0.6, 0.3, seen=False),
    )
}
CORRUPTIONS: dict[str, NoiseKind] = NOISE_KINDS | UNSEEN_KINDS


def make_generator(seed: Seed, device: torch.device | str = "cpu") -> torch.Generator | None:
    """An integer becomes a fresh generator on `device`; a generator (or None) passes through."""
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def _per_sample(strength: Strength, x: Tensor) -> Tensor | float:
    """Broadcast a scalar or an (m,) strength against x's (m, ...) shape.

    A Python number stays a number: turning it into a tensor on a GPU would be a host-to-device
    copy (a synchronisation) on every training step, and a CUDA graph cannot capture one.
    """
    if isinstance(strength, (int, float)):
        return float(strength)
    s = torch.as_tensor(strength, dtype=x.dtype, device=x.device)
    if s.ndim == 0:
        return s
    if s.shape != (x.shape[0],):
        raise ValueError(f"strength must be a scalar or have shape ({x.shape[0]},), got {tuple(s.shape)}")
    return s.view(-1, *([1] * (x.ndim - 1)))


# Each corruption is written once, as a function of its randomness: `n` standard normal, `u`
# uniform in [0, 1), both shaped like x. The public functions below draw that randomness;
# `blind_noise` draws it once for the whole batch and picks a corruption per sample.
def _gaussian(x: Tensor, s: Tensor | float, n: Tensor) -> Tensor:
    return (x + s * n).clamp_(0.0, 1.0)


def _mask(x: Tensor, s: Tensor | float, u: Tensor) -> Tensor:
    return x.masked_fill(u < s, 0.0)


def _salt_pepper(x: Tensor, s: Tensor | float, u: Tensor) -> Tensor:
    # u < s/2 -> pepper (0), s/2 <= u < s -> salt (1): one draw decides both.
    return x.masked_fill(u < s, 0.0).masked_fill((u >= s / 2) & (u < s), 1.0)


def _randn(x: Tensor, g: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)


def _rand(x: Tensor, g: torch.Generator | None) -> Tensor:
    return torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype)


def gaussian(x: Tensor, sigma: Strength, generator: Seed = None) -> Tensor:
    """x + σ·N(0, 1), clipped back to the valid pixel range [0, 1]."""
    return _gaussian(x, _per_sample(sigma, x), _randn(x, make_generator(generator, x.device)))


def mask(x: Tensor, p: Strength, generator: Seed = None) -> Tensor:
    """Each pixel independently set to 0 with probability p."""
    return _mask(x, _per_sample(p, x), _rand(x, make_generator(generator, x.device)))


def salt_pepper(x: Tensor, amount: Strength, generator: Seed = None) -> Tensor:
    """A fraction `amount` of pixels set to 0 or 1, half each."""
    return _salt_pepper(x, _per_sample(amount, x), _rand(x, make_generator(generator, x.device)))


# ---- the unseen corruptions: one strength for the whole batch, what the app shows ------------------------


def blur(x: Tensor, sigma: float, generator: Seed = None) -> Tensor:
    """A Gaussian blur of σ pixels (separable, the border extended), no randomness."""
    sigma = float(sigma)
    if sigma <= 0:
        return x.clone()
    radius = max(1, round(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    flat = x.reshape(-1, 1, *x.shape[-2:])  # (m, 1, 28, 28)
    flat = torch.nn.functional.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = torch.nn.functional.conv2d(flat, kernel.view(1, 1, 1, -1))
    flat = torch.nn.functional.conv2d(flat, kernel.view(1, 1, -1, 1))
    return flat.reshape(x.shape).clamp(0.0, 1.0)


def _angle(generator: Seed, device) -> float:
    g = make_generator(generator, "cpu")
    return float(torch.rand((), generator=g)) * 2 * math.pi


def shift(x: Tensor, pixels: float, generator: Seed = None) -> Tensor:
    """The digit moved by `pixels` in a direction drawn from the seed (to whole pixels), background coming
    in."""
    angle = _angle(generator, x.device)
    dx, dy = round(float(pixels) * math.cos(angle)), round(float(pixels) * math.sin(angle))
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) < w and abs(dy) < h:
        out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
            ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return out


def rotate(x: Tensor, degrees: float, generator: Seed = None) -> Tensor:
    """The digit turned by `degrees` about the image's centre, clockwise or not as the seed draws
    (bilinear)."""
    if float(degrees) == 0:
        return x.clone()
    sign = 1.0 if _angle(generator, x.device) < math.pi else -1.0
    a = math.radians(sign * float(degrees))
    flat = x.reshape(-1, 1, *x.shape[-2:])
    theta = torch.tensor(
        [[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]], dtype=x.dtype, device=x.device
    ).expand(len(flat), 2, 3)
    grid = torch.nn.functional.affine_grid(theta, list(flat.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(
        flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return out.reshape(x.shape).clamp(0.0, 1.0)


def block(x: Tensor, side: float, generator: Seed = None) -> Tensor:
    """A square of `side` × 28 px hidden (set to the background, 0), placed near the middle as the seed
    draws."""
    h, w = x.shape[-2:]
    n = round(float(side) * w)
    if n <= 0:
        return x.clone()
    g = make_generator(generator, "cpu")
    cy, cx = (14 + 12 * (torch.rand(2, generator=g) - 0.5)).tolist()  # the centre within 6 px of the middle
    top, left = min(max(round(cy - n / 2), 0), h - n), min(max(round(cx - n / 2), 0), w - n)
    out = x.clone()
    out[..., top : top + n, left : left + n] = 0.0
    return out


NOISE_FUNCTIONS = {
    "gaussian": gaussian,
    "mask": mask,
    "salt_pepper": salt_pepper,
    "blur": blur,
    "shift": shift,
    "rotate": rotate,
    "block": block,
}


def add_noise(x: Tensor, kind: str, strength: Strength, generator: Seed = None) -> Tensor:
    """Corrupt x with the named kind (a noise the models were trained on, or an unseen corruption)."""
    if kind not in NOISE_FUNCTIONS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_FUNCTIONS)}")
    return NOISE_FUNCTIONS[kind](x, strength, generator)


def blind_noise(x: Tensor, generator: Seed = None) -> Tensor:
    """Each sample gets a random kind and a strength uniform over that kind's whole range.

    This is the default training corruption: the network never knows which noise it faces or
    how strong it is, so one checkpoint serves every position of the app's sliders.
    """
    g = make_generator(generator, x.device)
    m = x.shape[0]
    gaussian_top, mask_top, salt_pepper_top = (k.max_strength for k in NOISE_KINDS.values())
    kind_index = torch.randint(len(NOISE_KINDS), (m,), generator=g, device=x.device)
    # Each sample's top strength, chosen on the device from Python numbers: no host-to-device copy.
    top = torch.where(kind_index == 0, gaussian_top, torch.where(kind_index == 1, mask_top, salt_pepper_top))
    strength = torch.rand(m, generator=g, device=x.device, dtype=x.dtype) * top
    s = _per_sample(strength, x)
    k = kind_index.view_as(s)
    n, u = _randn(x, g), _rand(x, g)
    return torch.where(k == 0, _gaussian(x, s, n), torch.where(k == 1, _mask(x, s, u), _salt_pepper(x, s, u)))
