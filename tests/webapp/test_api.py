"""The API's handler (webapp.api.denoise), called directly; through Gradio's client:
tests/e2e/test_api_client.py."""

import numpy as np
import pytest
from PIL import Image

from webapp.api import denoise
from webapp.errors import InputError


@pytest.fixture
def digit_png(served, tmp_path):
    path = tmp_path / "d.png"
    Image.fromarray((served.samples[7] * 255).round().astype(np.uint8)).save(path)
    return path


def test_api_errors_raise_for_the_client(served, digit_png):
    with pytest.raises(InputError, match="Send an image"):
        denoise(served, None, "gaussian", 0.5, 0)
    with pytest.raises(InputError, match="Unknown model 'resnet'"):
        denoise(served, str(digit_png), "gaussian", 0.5, 0, "resnet")
    with pytest.raises(InputError, match="Unknown noise kind"):
        denoise(served, str(digit_png), "speckle", 0.5, 0)


@pytest.mark.parametrize("model", ["dae", "unet"])
def test_the_results_are_the_models_own_shown_8x(served, denoiser, digit_png, model):
    out = denoise(served, str(digit_png), "mask", 0.5, 3, model)
    expected = denoiser(served.samples[7], "mask", 0.5, 3, (model,))  # an MNIST PNG is read back unchanged
    assert set(out) == {"noisy", "reconstruction", "error_map", "metrics"}
    assert out["noisy"].shape == out["reconstruction"].shape == (224, 224)
    assert out["error_map"].shape == (224, 224, 3)
    assert np.array_equal(out["noisy"][::8, ::8], (expected.noisy * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(
        out["reconstruction"][::8, ::8], (expected.outputs[model] * 255 + 0.5).astype(np.uint8)
    )
    assert set(out["metrics"]) == {"input", "noisy", model}
