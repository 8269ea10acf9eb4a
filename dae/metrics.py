"""Image quality metrics, batched in torch: one implementation for training, evaluation and the app.

All take (m, 1, H, W) tensors with pixels in [0, 1] and return one value per image, so that
"mean PSNR" is the mean of per-image PSNRs (the usual convention, and what skimage computes
image by image).
"""

from __future__ import annotations

import torch
from torch import Tensor

# PSNR is infinite for a perfect reconstruction; cap it so means stay finite.
MAX_PSNR = 100.0
# Which SSIM: there are several in use, and they differ by a few hundredths on these small images.
SSIM_DEFINITION = (
    "scikit-image's default: 7×7 uniform window, sample covariances, K1 0.01, K2 0.03 "
    "(not Wang et al.'s 11×11 Gaussian window)"
)


def mse(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).pow(2).flatten(1).mean(1)


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB with peak 1, capped at MAX_PSNR."""
    return (-10.0 * torch.log10(mse(a, b))).clamp(max=MAX_PSNR)


def _window_mean(t: Tensor, win_size: int) -> Tensor:
    """Mean over every win_size x win_size window lying wholly inside the image ('valid').

    Written as band-matrix products, B @ t @ Bᵀ, which BLAS runs several times faster than
    avg_pool2d for small images.
    """

    def band(n: int) -> Tensor:  # row i averages columns i .. i + win_size - 1
        d = torch.arange(n, device=t.device) - torch.arange(n - win_size + 1, device=t.device)[:, None]
        return ((d >= 0) & (d < win_size)).to(t.dtype) / win_size

    bh, bw = band(t.shape[-2]), band(t.shape[-1])
    return bh @ t @ bw.T


def ssim(a: Tensor, b: Tensor, win_size: int = 7) -> Tensor:
    """Structural similarity, equal (to 1e-5) to skimage.metrics.structural_similarity(data_range=1).

    skimage's defaults: a uniform 7x7 window, K1 = 0.01, K2 = 0.03, sample covariances, and the
    mean taken over the pixels whose window lies wholly inside the image.
    """
    c1, c2 = 0.01**2, 0.03**2
    a, b = a.float(), b.float()
    n = win_size * win_size
    cov_norm = n / (n - 1)
    ux, uy, xx, yy, xy = _window_mean(torch.stack([a, b, a * a, b * b, a * b]), win_size).unbind(0)
    vx = cov_norm * (xx - ux * ux)
    vy = cov_norm * (yy - uy * uy)
    vxy = cov_norm * (xy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)
