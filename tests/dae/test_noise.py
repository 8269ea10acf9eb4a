import pytest
import torch

from dae.noise import NOISE_KINDS, add_noise, blind_noise, gaussian, mask, salt_pepper


@pytest.fixture
def x():
    return torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_gaussian_statistics_before_clipping():
    flat = torch.full((200, 1, 28, 28), 0.5)
    noisy = gaussian(flat, 0.1, 0)  # 5σ from either edge: clipping never happens
    d = noisy - flat
    assert abs(d.mean().item()) < 2e-3
    assert abs(d.var().item() - 0.01) < 3e-4


def test_gaussian_clips_to_valid_range(x):
    noisy = gaussian(x, 1.0, 0)
    assert noisy.min() == 0 and noisy.max() == 1


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_fraction(p):
    ones = torch.ones(100, 1, 28, 28)
    assert abs((mask(ones, p, 0) == 0).float().mean().item() - p) < 0.01


def test_salt_and_pepper_half_each():
    grey = torch.full((100, 1, 28, 28), 0.5)
    noisy = salt_pepper(grey, 0.4, 0)
    assert abs((noisy == 0).float().mean().item() - 0.2) < 0.01
    assert abs((noisy == 1).float().mean().item() - 0.2) < 0.01
    assert abs((noisy == 0.5).float().mean().item() - 0.6) < 0.01


@pytest.mark.parametrize("kind", list(NOISE_KINDS))
def test_same_seed_same_noise_and_zero_is_identity(kind, x):
    assert torch.equal(add_noise(x, kind, 0.3, 7), add_noise(x, kind, 0.3, 7))
    assert not torch.equal(add_noise(x, kind, 0.3, 7), add_noise(x, kind, 0.3, 8))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(add_noise(x, kind, 0.3, g1), add_noise(x, kind, 0.3, g2))
    assert torch.equal(add_noise(x, kind, 0.0, 7), x)
    out = add_noise(x, kind, NOISE_KINDS[kind].max_strength, 1)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


def test_per_sample_strength(x):
    strength = torch.zeros(len(x))
    strength[1] = 0.9
    out = mask(x, strength, 0)
    assert torch.equal(out[0], x[0]) and torch.equal(out[2:], x[2:])
    assert (out[1] == 0).float().mean() > 0.8
    with pytest.raises(ValueError, match="shape"):
        mask(x, torch.zeros(3), 0)


def test_unknown_kind(x):
    with pytest.raises(ValueError, match="unknown noise kind"):
        add_noise(x, "speckle", 0.1)


def test_blind_noise_mixes_kinds_and_strengths():
    grey = torch.full((3000, 1, 28, 28), 0.5)
    noisy = blind_noise(grey, 0)
    assert torch.equal(noisy, blind_noise(grey, 0))
    zeros = (noisy == 0).flatten(1).float().mean(1)
    ones = (noisy == 1).flatten(1).float().mean(1)
    other = ((noisy != 0) & (noisy != 1) & (noisy != 0.5)).flatten(1).any(1)
    is_gaussian = other
    is_mask = ~other & (zeros > 0) & (ones == 0)
    is_sp = ~other & (ones > 0)
    for kind_share in (is_gaussian, is_mask, is_sp):
        assert 0.25 < kind_share.float().mean() < 0.42  # each kind about a third
    # mask strengths are uniform on [0, 0.9]: the dropped fraction spans the range
    assert zeros[is_mask].max() > 0.8 and zeros[is_mask].min() < 0.1
