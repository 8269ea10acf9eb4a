"""Save figure (webapp.figure): the results row, and any open curve or layers, as one PNG for slides."""

import io
import re

import pytest
import torch
from PIL import Image

from dae import metrics
from dae.noise import add_noise
from tests.support import request
from webapp.denoise_tab import render
from webapp.errors import InputError
from webapp.figure import caption, figure_png


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data)).size


def test_a_figure_is_a_png_and_grows_with_the_open_views(served):
    results = figure_png(served, request({"kind": "sample", "index": 42}, views=[]))
    with_curve = figure_png(served, request({"kind": "sample", "index": 42}, views=["curve"]))
    with_both = figure_png(served, request({"kind": "sample", "index": 42}, views=["curve", "layers"]))
    (w1, h1), (_, h2), (_, h3) = png_size(results), png_size(with_curve), png_size(with_both)
    assert w1 > 4 * 120 and h1 < h2 < h3  # four results side by side, then a row per open view


def test_a_compared_model_adds_its_column(served):
    alone = png_size(figure_png(served, request({"kind": "sample", "index": 3})))[0]
    beside = png_size(figure_png(served, request({"kind": "sample", "index": 3}, compare="unet")))[0]
    assert beside > alone * 1.2


def test_no_digit_no_figure(served):
    with pytest.raises(InputError, match="no result to save"):
        figure_png(served, request({"kind": "none"}))


def test_the_caption_names_the_digit_the_noise_the_seed_and_the_psnr(served):
    r = request({"kind": "sample", "index": 42}, "mask", 0.5, 7)
    text = caption(r, render(served, r))
    clean = torch.from_numpy(served.samples[42]).view(1, 1, 28, 28)
    noisy_db = metrics.psnr(add_noise(clean, "mask", 0.5, 7), clean).item()
    number, label = int(served.test_indices[42]), int(served.labels[42])
    assert text.startswith(
        f"MNIST test digit #{number}, a {label} · Mask (dropped pixels) p 0.50, seed 7 · PSNR: "
    )
    found = dict(re.findall(r"(noisy|DAE) ([\d.]+) dB", text))
    assert abs(float(found["noisy"]) - noisy_db) < 0.051
