"""The app's handler functions, called directly."""

import math

import numpy as np
import pytest

from dae.demo import Denoiser, check_controls, colorbar_html, error_image, metrics_markdown, result_json, strip, upscale
from dae.noise import NOISE_KINDS
from dae.preprocess import InputError
from dae.samples import load_samples

from .conftest import ROOT


@pytest.fixture(scope="module")
def denoiser():
    """The committed checkpoint: the handlers are tested with the model the app serves."""
    return Denoiser.from_checkpoints({"dae": ROOT / "checkpoints" / "dae"})


@pytest.fixture(scope="module")
def digit():
    return load_samples()[0][7]


def test_bundled_samples():
    images, labels = load_samples()
    assert images.shape == (100, 28, 28) and images.dtype == np.float32
    assert list(np.bincount(labels)) == [10] * 10
    assert 0 <= images.min() and images.max() <= 1 and images.mean() > 0.05


@pytest.mark.parametrize("kind", list(NOISE_KINDS))
def test_each_noise_kind(denoiser, digit, kind):
    r = denoiser(digit, kind, NOISE_KINDS[kind].default_strength, 3)
    assert r.noisy.shape == r.clean.shape == r.outputs["dae"].shape == (28, 28)
    assert not np.array_equal(r.noisy, r.clean)
    assert set(r.scores) == {"noisy", "dae"}
    assert all(math.isfinite(v) for s in r.scores.values() for v in s.values())


def test_seed_reproducibility(denoiser, digit):
    a, b, c = denoiser(digit, "mask", 0.5, 11), denoiser(digit, "mask", 0.5, 11), denoiser(digit, "mask", 0.5, 12)
    assert np.array_equal(a.noisy, b.noisy) and np.array_equal(a.outputs["dae"], b.outputs["dae"])
    assert not np.array_equal(a.noisy, c.noisy)


def test_zero_strength_leaves_the_input(denoiser, digit):
    r = denoiser(digit, "gaussian", 0.0, 0)
    assert np.array_equal(r.noisy, r.clean)
    assert "∞" in metrics_markdown(r)


@pytest.mark.parametrize(
    "kind, strength, seed, message",
    [
        ("speckle", 0.1, 0, "Unknown noise kind"),
        ("gaussian", float("nan"), 0, "between 0 and 1.0"),
        ("gaussian", float("inf"), 0, "between 0 and 1.0"),
        ("mask", 0.95, 0, "between 0 and 0.9"),
        ("mask", -0.1, 0, "between 0 and 0.9"),
        ("mask", "lots", 0, "must be a number"),
        ("gaussian", 0.3, float("nan"), "whole number"),
        ("gaussian", 0.3, -1, "whole number"),
        ("gaussian", 0.3, 1.5, "whole number"),
        ("gaussian", 0.3, 2**70, "whole number"),
        ("gaussian", 0.3, None, "whole number"),
    ],
)
def test_bad_controls_are_input_errors(kind, strength, seed, message):
    with pytest.raises(InputError, match=message):
        check_controls(kind, strength, seed)


def test_rendering(denoiser, digit):
    big = upscale(digit)
    assert big.shape == (224, 224) and big.dtype == np.uint8
    assert np.array_equal(big[::8, ::8], (digit * 255 + 0.5).astype(np.uint8))  # nearest neighbour
    err = error_image(np.linspace(0, 1, 784).reshape(28, 28))
    assert err.shape == (224, 224, 3) and err.dtype == np.uint8
    assert err[0, 0].sum() < 60 and err[-1, -1].sum() > 600  # dark for no error, bright for full error
    assert "linear-gradient" in colorbar_html()


def test_metrics_text_and_json(denoiser, digit):
    r = denoiser(digit, "gaussian", 0.5, 0)
    text = metrics_markdown(r, {"dae": "DAE"})
    assert "noisy input" in text and "DAE" in text and "dB" in text
    j = result_json(r)
    assert j["dae"]["psnr_gain_db"] == pytest.approx(j["dae"]["psnr"] - j["noisy"]["psnr"], abs=1e-5)


def test_interpolation_ends_at_the_two_reconstructions(denoiser):
    import torch

    images, _ = load_samples()
    path = denoiser.interpolate(images[0], images[95], np.linspace(0, 1, 5))
    assert path.shape == (5, 28, 28)
    with torch.inference_mode():
        ends = denoiser.models["dae"](torch.from_numpy(images[[0, 95]]).unsqueeze(1))[:, 0].numpy()
    assert np.allclose(path[0], ends[0], atol=1e-5) and np.allclose(path[-1], ends[1], atol=1e-5)
    assert not np.allclose(path[2], path[0], atol=1e-2)


def test_strip():
    row = strip(np.zeros((11, 28, 28)), scale=4, gap=2)
    assert row.shape == (112, 11 * 112 + 10 * 2) and row.dtype == np.uint8
