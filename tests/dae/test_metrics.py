import math

import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dae import metrics


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(8, 1, 28, 28, generator=g)
    b = (a + 0.2 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    b[0] = a[0]  # identical pair
    b[1] = 0  # black prediction
    return a, b


def test_psnr_matches_skimage(pair):
    a, b = pair
    ours = metrics.psnr(a, b)
    assert ours[0] == metrics.MAX_PSNR  # perfect reconstruction: capped, not inf
    for i in range(1, len(a)):
        assert ours[i].item() == pytest.approx(
            peak_signal_noise_ratio(a[i, 0].numpy(), b[i, 0].numpy(), data_range=1), abs=1e-4
        )


def test_ssim_matches_skimage(pair):
    a, b = pair
    ours = metrics.ssim(a, b)
    for i in range(len(a)):
        assert ours[i].item() == pytest.approx(
            structural_similarity(a[i, 0].numpy(), b[i, 0].numpy(), data_range=1), abs=1e-5
        )


def test_mse_on_hand_made_images():
    a = torch.zeros(3, 1, 28, 28)
    b = torch.zeros(3, 1, 28, 28)
    b[0] = 0.5  # every pixel off by 0.5: 0.25
    b[1, 0, 3, 4] = 1.0  # one pixel off by 1 out of 784
    b[2, 0, :14] = 1.0  # half the image off by 1: 0.5
    assert metrics.mse(a, b).tolist() == pytest.approx([0.25, 1 / 784, 0.5], abs=1e-7)
    assert metrics.mse(b, a).tolist() == pytest.approx([0.25, 1 / 784, 0.5], abs=1e-7)  # symmetric
    # and the PSNR built on it: 10·log10(1 / 0.25) = 6.0206 dB
    assert metrics.psnr(a, b)[0].item() == pytest.approx(10 * math.log10(4), abs=1e-4)
