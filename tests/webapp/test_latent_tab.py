"""The Latent space tab's handlers (webapp.latent_tab): the walk between two digits' codes beside a pixel
cross-fade."""

import re

import numpy as np
import torch

from tests.support import data_url, drawing, pictures, request
from webapp.denoise_tab import render
from webapp.latent_tab import LATENT_STEPS, NO_SELECTION, end_at, latent, latent_point, pick_start, start_from
from webapp.pictures import upscale


def test_latent_view_shows_both_ends_and_every_step(served, denoiser):
    a, b = served.samples[3], served.samples[96]
    r = latent(served, a, b, 1.0)
    assert np.array_equal(r["start_image"], upscale(a)) and np.array_equal(r["end_image"], upscale(b))
    decoded_part, faded_part = r["path"].split('class="dae-path dae-path-faded"')
    steps, faded = pictures(decoded_part), pictures(faded_part)
    assert len(steps) == len(faded) == LATENT_STEPS == 11
    for i, s in enumerate(
        np.linspace(0, 1, LATENT_STEPS)
    ):  # the cross-fade is the pixels' own blend, no model
        assert np.abs(faded[i].astype(int) - ((1 - s) * a + s * b) * 255).max() <= 1
    assert r["path"].count('class="dae-step-now"') == 2
    assert decoded_part.rfind("dae-step-now") > decoded_part.rfind("<img")
    with torch.inference_mode():
        end = denoiser.models["dae"](torch.from_numpy(b).view(1, 1, 28, 28))[0, 0].numpy()
    # t = 1 is b's reconstruction
    assert np.abs(steps[-1].astype(int) - (end * 255 + 0.5).astype(int)).max() <= 1
    # the slider at 1 shows the last step
    assert np.abs(r["point"][::8, ::8].astype(int) - steps[-1]).max() <= 1
    assert r["latent_status"].startswith(
        f"From **MNIST test digit #{served.test_indices[3]}, a 0** "
        f"to **MNIST test digit #{served.test_indices[96]}, a 9**."
    )
    assert "the cross-fade as a **9**" in r["latent_status"]  # at t = 1 the cross-fade is the clean 9 itself


def test_the_slider_marks_its_step_and_an_unusable_t_is_the_middle(served):
    a, b = served.samples[3], served.samples[96]

    def marked(r: dict) -> list[int]:
        """The index of the marked step on each path (decoded, then the cross-fade)."""
        paths = r["path"].split('class="dae-path dae-path-faded"')
        return [
            [i for i, tag in enumerate(re.findall(r"<img [^>]*>", p)) if "dae-step-now" in tag] for p in paths
        ]

    assert marked(latent_point(served, a, b, 0.3)) == [[3], [3]]  # t = 0.3 of 10 steps: the 4th step on both
    assert marked(latent_point(served, a, b, 0.0)) == [[0], [0]]
    middle = latent_point(served, a, b, 0.5)
    for bad in (float("nan"), None, float("inf")):
        assert latent_point(served, a, b, bad)["path"] == middle["path"]


def test_picking_a_start_thumbnail_takes_that_sample(served):
    r = pick_start(served, 25, served.samples[99], 0.5)
    assert np.array_equal(r["start"], served.samples[25])
    assert np.array_equal(r["start_image"], upscale(served.samples[25]))


def test_end_at_the_denoise_digit_moves_the_end_picker(served):
    start, end = served.samples[0], served.samples[99]
    r = end_at(served, data_url((served.samples[57] * 255 + 0.5).astype(np.uint8)), start, end, 0.5)
    assert np.array_equal(r["end"], served.samples[57]) and r["end_pick"] == {"selected_index": 57}
    drawn = render(served, request(drawing()))["digit"]
    r = start_from(served, drawn, start, end, 0.5)
    # not a sample: no thumbnail may stay highlighted
    assert r["start_pick"] == {"selected_index": NO_SELECTION}
    assert "the digit from the Denoise tab" in r["latent_status"]


def test_using_an_empty_denoise_tab_changes_nothing_and_says_so(served):
    for use in (start_from, end_at):
        for digit in (None, "", "data:image/png;base64,!!!"):
            r = use(served, digit, served.samples[0], served.samples[99], 0.5)
            assert list(r) == ["latent_status"] and "no digit" in r["latent_status"]
