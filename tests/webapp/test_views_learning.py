"""The "How it learned" view (webapp.views.learning): the run's loss curve and the noisy digit through the
weights kept on the way, ending with the served model's own reconstruction."""

import re

import numpy as np

from tests.support import pictures, request, uint8
from webapp.denoise_tab import render


def test_how_it_learned_ends_with_the_served_reconstruction(served, denoiser):
    r = render(served, request({"kind": "sample", "index": 20}, "gaussian", 0.5, 4, views=["learning"]))
    view = r["views"]["learning"]
    titles = re.findall(r'<figure class="dae-figure"><figcaption>([^<]+)</figcaption>', view)
    epochs = served.training["epochs"]
    assert titles == ["untrained", "after 300 steps", "after epoch 1", f"after epoch {epochs} (served)"]
    images = pictures(view)
    expected = denoiser(served.samples[20], "gaussian", 0.5, 4).outputs["dae"]
    assert np.array_equal(images[-1], uint8(expected))  # the last weights are the ones the app serves
    assert (
        np.abs(images[0].astype(int) - images[-1].astype(int)).mean() > 20
    )  # the untrained model draws something else
    label = int(served.labels[20])  # a clean test digit: the classifier reads the input as its label
    for classes, guess in re.findall(
        r'<div class="dae-guess([^"]*)">(\d) · ', view
    ):  # a wrong guess is marked, as on the results
        assert (classes == " dae-wrong") == (int(guess) != label)
    assert ' dae-wrong">' in view  # the untrained model does not draw this digit
    steps = [int(s.replace(",", "")) for s in re.findall(r"step ([\d,]+) · ", view)]
    assert steps[:2] == [0, 300] and steps == sorted(steps) and "<polyline" in view
