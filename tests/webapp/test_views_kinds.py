"""Every kind of noise at once (webapp.views.kinds): the digit under each corruption, at the slider's share
of each one's range, with the DAE's reconstruction."""

import re

import numpy as np
import torch

from dae.noise import CORRUPTIONS, add_noise
from tests.support import pictures
from webapp.views.kinds import kinds_view


def test_one_row_per_corruption_at_the_same_share_of_its_range(served):
    digit = served.samples[7]
    page = kinds_view(served, digit, "gaussian", 0.5, 3)  # σ 0.5 is half of Gaussian's range
    rows = re.findall(r'<div class="dae-kind-row[^"]*"><div class="dae-kind-name">([^<]+)', page)
    assert len(rows) == len(CORRUPTIONS) == 7
    for name, kind in zip(rows, CORRUPTIONS.values()):
        assert name.startswith(kind.label) and f"{kind.max_strength / 2:.2g}" in name, name
    assert page.count("never seen in training") == sum(not k.seen for k in CORRUPTIONS.values()) == 4


def test_each_row_shows_that_corruption_of_the_digit(served):
    digit = served.samples[7]
    images = pictures(kinds_view(served, digit, "mask", 0.45, 3))  # half of mask's 0.9
    x = torch.from_numpy(digit).view(1, 1, 28, 28)
    noisy = images[0::2]  # each row: the noisy digit, then the DAE's reconstruction
    assert len(noisy) == 7
    for image, kind in zip(noisy, CORRUPTIONS.values()):
        expected = add_noise(x, kind.name, kind.max_strength / 2, 3)[0, 0].numpy()
        assert np.abs(image.astype(float) / 255 - expected).max() <= 1 / 255 + 1e-6, kind.name
