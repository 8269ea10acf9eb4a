"""What Save figure draws (webapp.figure): the results row as the page shows it (the same pixels, captions
and guesses), the caption's words, and the curve under them; read from the matplotlib figure itself, caught
as figure_png closes it. test_figure.py checks the PNG's size."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

import webapp.figure
from tests.support import decoded, request
from webapp.denoise_tab import render
from webapp.errors import InputError
from webapp.figure import caption, figure_png

ROW = ["input", "noisy input", "DAE", "DAE error"]  # the results row, left to right
RED = "#dc2626"


@pytest.fixture
def drawn(monkeypatch):
    """Every matplotlib figure figure_png closes, kept for a look."""
    figures = []
    real = plt.close

    def close(fig=None):
        figures.append(fig)
        real(fig)

    monkeypatch.setattr(webapp.figure.plt, "close", close)
    return figures


def draw(served, drawn, req):
    png = figure_png(served, req)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return drawn[-1], render(served, req)


def test_the_row_shows_the_page_s_pictures_with_their_captions_and_guesses(served, drawn):
    fig, answer = draw(served, drawn, request({"kind": "sample", "index": 42}, "mask", 0.5, 7))
    row = fig.axes[:4]
    assert len(fig.axes) == 4  # no view open: the row alone
    assert [ax.get_title() for ax in row] == ROW
    for ax, key in zip(row, ("clean", "noisy", "recon", "error")):
        shown = np.asarray(ax.images[0].get_array())
        assert np.array_equal(shown, decoded(answer["images"][key])), key
        assert ax.get_xlabel() == answer["guesses"].get(key, "")
    assert row[0].get_xlabel() and not row[3].get_xlabel()  # the judge reads digits, not error maps


def test_a_compared_model_adds_its_picture_and_error_under_its_own_title(served, drawn):
    fig, answer = draw(
        served, drawn, request({"kind": "sample", "index": 42}, "mask", 0.5, 7, compare="unet")
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ROW + [answer["compare_title"], "its error"] and "U-Net" in answer["compare_title"]
    shown = np.asarray(fig.axes[4].images[0].get_array())
    assert np.array_equal(shown, decoded(answer["images"]["compare-recon"]))


def test_a_wrong_sure_guess_is_written_in_red(served, drawn):
    """Sample 0 (a 0) moved 8 px: the judge reads another digit, sure of it, in the noisy digit."""
    fig, answer = draw(served, drawn, request({"kind": "sample", "index": 0}, "shift", 8, 1))
    assert answer["wrong"], "this case no longer has a wrong guess: pick another"
    colours = {
        key: to_hex(ax.xaxis.label.get_color())
        for key, ax in zip(("clean", "noisy", "recon", "error"), fig.axes)
    }
    assert {k for k, c in colours.items() if c == RED} == set(answer["wrong"])
    assert all(c == "#000000" for k, c in colours.items() if k not in answer["wrong"])


def test_the_title_names_the_digit_the_noise_its_strength_and_the_seed(served, drawn):
    fig, _ = draw(served, drawn, request({"kind": "sample", "index": 42}, "rotate", 30, 12))
    title = fig._suptitle.get_text()
    assert title.startswith("MNIST test digit #") and " · Rotation θ 30.00, seed 12 · PSNR: noisy " in title


def test_the_curve_is_drawn_against_the_kind_s_strength_with_the_setting_marked(served, drawn):
    fig, _ = draw(served, drawn, request({"kind": "sample", "index": 42}, "block", 0.3, 2, views=["curve"]))
    curve = fig.axes[4]
    assert curve.get_xlabel() == "strength s" and curve.get_ylim() == (0, 41)
    labels = [line.get_label() for line in curve.get_lines()]
    assert "DAE" in labels and "noisy input" in labels
    marker = [line for line in curve.get_lines() if list(line.get_xdata()) == [0.3, 0.3]]
    assert len(marker) == 1  # the slider's strength, a dashed vertical line
    for line in curve.get_lines():
        if line is not marker[0]:
            assert np.max(line.get_ydata()) <= 40  # cut at 40 dB


def test_the_layers_view_adds_its_stages_without_axes(served, drawn):
    fig, _ = draw(served, drawn, request({"kind": "sample", "index": 42}, views=["layers"]))
    stages = fig.axes[4:]
    assert len(stages) >= 2 and all(not ax.axison and ax.get_title() for ax in stages)


@pytest.mark.parametrize("seed", [7.0, " 7 ", "007"])
def test_a_seed_the_page_accepts_in_any_of_its_forms_draws_the_same_figure(served, drawn, seed):
    """The render takes 7.0, " 7 " and "007" as seed 7; the figure must too, curve and caption included."""
    fig, _ = draw(served, drawn, request({"kind": "sample", "index": 42}, "mask", 0.5, seed, views=["curve"]))
    assert ", seed 7 · " in fig._suptitle.get_text()


def test_the_render_s_own_reason_comes_back_as_plain_text(served):
    with pytest.raises(InputError) as e:
        figure_png(served, request({"kind": "sample", "index": 42}, "speckle", 0.5, 7))
    message = str(e.value)
    assert message.startswith("Unknown noise kind 'speckle'") and "&#" not in message and "⚠" not in message


# ---- the caption, from hand-made answers --------------------------------------------------------------


def test_a_caption_without_a_sample_or_scores():
    text = caption({"noise": "gaussian", "strength": 0.5, "seed": 3}, {})
    assert text == "a digit drawn or uploaded · Gaussian σ 0.50, seed 3 · PSNR: "


def test_a_caption_names_each_psnr_with_the_model_s_title():
    answer = {
        "caption": "MNIST test digit #12, a 9",
        "compare": "unet",
        "compare_title": "U-Net",
        "metrics": {
            "noisy": {"psnr": 9.44},
            "dae": {"psnr": 19.26},
            "unet": {"psnr": 21.04},
            "input": {"label": 9},  # the judge's reading: no PSNR, left out
        },
    }
    text = caption({"noise": "salt_pepper", "strength": "0.2", "seed": 0}, answer)
    assert text == (
        "MNIST test digit #12, a 9 · Salt and pepper a 0.20, seed 0 · "
        "PSNR: noisy 9.4 dB, DAE 19.3 dB, U-Net 21.0 dB"
    )


@pytest.mark.parametrize(
    "noise, strength, words",
    [("shift", 4, "Shift d 4.00"), ("blur", 1.5, "Blur σ 1.50"), ("block", 0.3, "Block s 0.30")],
)
def test_a_caption_names_an_unseen_kind_by_its_label_and_strength(noise, strength, words):
    assert f" · {words}, seed 5 · " in caption({"noise": noise, "strength": strength, "seed": 5}, {})
