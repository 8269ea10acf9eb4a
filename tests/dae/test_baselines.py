"""The classical baselines the models are compared with (dae.baselines)."""

import itertools

import torch

from dae.baselines import BASELINES, gaussian_blur, median3, median9


def test_classical_filters_shapes_and_effect():
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, 5, 5] = 1  # an isolated "salt" pixel
    assert median3(x).abs().max() == 0  # the median removes it
    assert gaussian_blur(x).shape == x.shape and gaussian_blur(x).max() < 0.5


def test_the_median_filter_is_the_median_of_each_3x3_neighbourhood():
    # The 0-1 principle: a network of min/max pairs picks the median of any 9 numbers if it does of all 2**9
    # sets of 0s and 1s.
    bits = torch.tensor(list(itertools.product((0.0, 1.0), repeat=9)))  # (512, 9)
    assert torch.equal(median9(list(bits.T)), bits.median(dim=1).values)
    x = torch.rand(3, 1, 28, 28).mul(4).round().div(4)  # five grey levels: many ties
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    patches = torch.nn.functional.unfold(
        padded, 3
    )  # (3, 9, 784): each pixel's neighbourhood, the border replicated
    assert torch.equal(median3(x), patches.median(dim=1).values.view_as(x))


def test_every_baseline_keeps_the_shape_and_smooths_a_noisy_flat_image():
    """A flat grey image with Gaussian noise: each filter's output is nearer the grey than the noise was."""
    g = torch.Generator().manual_seed(0)
    clean = torch.full((2, 1, 28, 28), 0.5)
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    noise_mse = ((noisy - clean) ** 2).mean().item()
    assert set(BASELINES) == {"median3", "gaussian_blur", "nl_means"}
    for name, baseline in BASELINES.items():
        out = baseline(noisy, clean, None)
        assert out.shape == noisy.shape and out.dtype == torch.float32, name
        assert ((out - clean) ** 2).mean().item() < 0.5 * noise_mse, name
