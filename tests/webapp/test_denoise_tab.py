"""The Denoise tab's handlers (webapp.denoise_tab): one render request per change, an upload, the noise kind.

Called directly with the committed checkpoints: no browser, no Gradio. The views in an answer
are tested per view (test_views_*.py), the answer's shape against the contract in test_contract.py.
"""

import dataclasses
import html
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

import webapp.denoise_tab
from dae.checkpoint import load_model
from dae.noise import CORRUPTIONS, add_noise
from tests.support import ROOT, data_url, decoded, drawing, png_bomb, request, uint8
from webapp.denoise_tab import (
    BLANK_HINT,
    CANVAS,
    DRAW_HINT,
    digit_from_link,
    link_pixels,
    render,
    upload,
)
from webapp.markup import controls_html
from webapp.pictures import colormap_lut


def test_a_sample_request_shows_it_its_results_guesses_and_name(served, denoiser):
    r = render(served, request({"kind": "sample", "index": 42}, "salt_pepper", 0.2, 9))
    expected = denoiser(served.samples[42], "salt_pepper", 0.2, 9)
    assert np.array_equal(decoded(r["images"]["clean"]), (served.samples[42] * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(decoded(r["images"]["noisy"]), (expected.noisy * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(
        decoded(r["images"]["recon"]), (expected.outputs["dae"] * 255 + 0.5).astype(np.uint8)
    )
    assert decoded(r["images"]["error"]).shape == (28, 28, 3)
    assert not {"compare-recon", "compare-error"} & set(r["images"]) and r["compare"] is None
    label = int(served.labels[42])
    assert r["caption"] == f"MNIST test digit #{int(served.test_indices[42])}, a {label}"
    assert r["sample"] == 42 and r["digit"] == r["images"]["clean"]
    assert r["guesses"]["clean"].startswith(f"{label} · ")  # the classifier reads a clean test digit right
    assert r["metrics"]["input"]["label"] == label and 0 <= r["metrics"]["dae"]["confidence"] <= 1
    assert "DAE" in r["status"] and "U-Net" not in r["status"]


def test_a_drawing_becomes_a_centred_digit(served):
    r = render(served, request(drawing(), strength=0.3))
    digit = decoded(r["images"]["clean"]).astype(float)
    # a vertical bar in the middle columns
    assert digit.shape == (28, 28) and digit[:, 12:17].sum() > 0.9 * digit.sum()
    assert all(name in r["images"] for name in ("noisy", "recon", "error")) and "caption" not in r
    assert r["sample"] is None
    # the page's next request
    again = render(served, request({"kind": "digit", "png": r["digit"]}, strength=0.3))
    assert again["images"] == r["images"]


def test_an_empty_canvas_or_no_input_shows_a_hint(served):
    empty = {"kind": "strokes", "side": CANVAS, "strokes": []}
    assert render(served, request(empty)) == {"images": {}, "status": DRAW_HINT}
    eraser = drawing(width=100)["strokes"][0] | {"tool": "eraser"}
    erased = drawing() | {"strokes": drawing()["strokes"] + [eraser]}
    assert render(served, request(erased))["images"] == {}
    assert render(served, request({"kind": "none"})) == {"images": {}, "status": BLANK_HINT}


@pytest.mark.parametrize(
    "source, message",
    [
        (drawing() | {"side": CANVAS * 100}, "canvas size"),
        (drawing() | {"strokes": "a 1"}, "list of at most"),
        (drawing() | {"strokes": [{"tool": "brush", "width": 22, "points": [[1, 1]]}]}, "pen or eraser"),
        (drawing(top=-(10**6)), "points must be"),
        ({"kind": "sample", "index": 100}, "no sample 100"),
        ({"kind": "sample", "index": True}, "no sample"),
        ({"kind": "digit", "png": data_url(np.zeros((29, 28), dtype=np.uint8))}, "28 × 28"),
        ({"kind": "webcam"}, "Unknown input"),
        (None, "names no input"),
    ],
)
def test_bad_sources_get_one_message_and_no_results(served, source, message):
    r = render(served, request(source))
    assert r["images"] == {} and r["status"].startswith("⚠️") and r["status"].count("⚠️") == 1
    assert message in r["status"], r["status"]


def test_a_request_that_is_not_an_object_gets_a_message(served):
    for bad in (None, [], "render", 5):
        r = render(served, bad)
        assert r["status"].startswith("⚠️") and "images" not in r


def test_a_drawing_with_too_many_points_is_refused_before_it_is_drawn(served, monkeypatch):
    monkeypatch.setattr(webapp.denoise_tab, "digit_from_strokes", lambda strokes: pytest.fail("drawn"))
    many = [{"tool": "pen", "width": 22, "points": [[1, 1]] * 10_000}] * 3
    r = render(served, request({"kind": "strokes", "side": CANVAS, "strokes": many}))
    assert "more than" in r["status"] and "points" in r["status"]


@pytest.mark.parametrize(
    "seed, message", [(-1, "whole number"), (None, "whole number"), (2.5, "whole number")]
)
def test_an_unusable_seed_keeps_the_input_and_says_why(served, seed, message):
    r = render(served, request({"kind": "sample", "index": 3}, seed=seed))
    assert list(r["images"]) == ["clean"]  # the digit stays on screen, no result of another seed
    assert r["status"].startswith("⚠️") and message in r["status"]


def test_a_message_is_escaped_html(served):
    r = render(served, request({"kind": "sample", "index": 3}, noise="<b>x</b>"))
    assert "<b>x</b>" not in r["status"] and "&lt;b&gt;" in r["status"]


# The models a lesson puts beside the DAE (webapp.served.LESSONS): checkpoint folder name -> how the page
# names it.
LESSONS = {
    "unet": "U-Net (stronger, for comparison)",
    "plain-ae": "plain autoencoder, never saw noise",
    "dae-sigma05": "DAE trained at σ 0.5 only",
    "dae-code2": "DAE with a 2-number code",
    "dae-code16": "DAE with a 16-number code",
}


@pytest.mark.parametrize("name", list(LESSONS))
def test_compare_puts_that_models_own_reconstruction_beside_the_dae(served, name):
    on = render(served, request({"kind": "sample", "index": 7}, "mask", 0.5, 1, compare=name))
    assert on["compare"] == name and on["compare_title"] == LESSONS[name] and on["compare_note"]
    # the model run here straight from its checkpoint folder, on the same noisy digit
    model = load_model(ROOT / "checkpoints" / name)[0].eval()
    noisy = add_noise(torch.from_numpy(served.samples[7]).view(1, 1, 28, 28), "mask", 0.5, 1)
    with torch.inference_mode():
        expected = model(noisy)[0, 0].numpy()
    assert np.abs(decoded(on["images"]["compare-recon"]).astype(int) - uint8(expected)).max() <= 1
    # its error map: |its reconstruction − the clean digit| on the page's fixed colour scale (the colour bar)
    clean = served.samples[7]
    index = (np.clip(np.abs(expected - clean), 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(decoded(on["images"]["compare-error"]), colormap_lut()[index])
    assert "compare-recon" in on["guesses"] and html.escape(LESSONS[name]) in on["status"]
    assert set(on["metrics"]) == {"input", "noisy", "dae", name}
    off = render(served, request({"kind": "sample", "index": 7}, "mask", 0.5, 1))
    assert off["compare"] is None and "compare-recon" not in off["images"] and "compare_title" not in off
    assert off["images"]["recon"] == on["images"]["recon"]  # the DAE's own result does not change


@pytest.mark.parametrize("compare", ["resnet", "dae", "", "UNET", True, 1, ["unet"], {"model": "unet"}, None])
def test_an_unknown_or_malformed_compare_shows_no_compare_row(served, compare):
    r = render(served, request({"kind": "sample", "index": 7}, "mask", 0.5, 1, compare=compare))
    assert r["compare"] is None and "compare_title" not in r and "compare_note" not in r
    assert not {"compare-recon", "compare-error"} & set(r["images"]) and "compare-recon" not in r["guesses"]
    assert set(r["metrics"]) == {"input", "noisy", "dae"} and "recon" in r["images"]


class HandSetGuesses:
    """The served denoiser, its classifier's readings replaced by hand-set ones
    (name -> (label, confidence))."""

    def __init__(self, denoiser, guesses: dict[str, tuple[int, float]]) -> None:
        self.denoiser, self.guesses, self.models = denoiser, guesses, denoiser.models

    def __call__(self, *args):
        r = self.denoiser(*args)
        r.guesses = {name: self.guesses[name] for name in ("input", "noisy", *r.outputs)}
        return r


def marked(served, guesses: dict, compare: str | None = "unet") -> dict:
    hand = dataclasses.replace(served, denoiser=HandSetGuesses(served.denoiser, guesses))
    return render(hand, request({"kind": "sample", "index": 7}, "gaussian", 0.5, 0, compare=compare))


def test_unsure_and_wrong_readings_are_marked_from_hand_set_guesses(served):
    # sure of a 3; the noisy input unsure (an 8 at 38 %); the DAE a sure 3; the U-Net a sure 5
    r = marked(served, {"input": (3, 0.9), "noisy": (8, 0.38), "dae": (3, 0.95), "unet": (5, 0.7)})
    assert r["guesses"] == {
        "clean": "3 · 90 %",
        "noisy": "8? · 38 %",
        "recon": "3 · 95 %",
        "compare-recon": "5 · 70 %",
    }
    assert r["unsure"] == ["noisy"] and r["wrong"] == ["compare-recon"]
    # 50 % is sure (and so can be wrong); just under it is unsure (and so never wrong)
    r = marked(served, {"input": (3, 0.5), "noisy": (8, 0.5), "dae": (8, 0.4999), "unet": (3, 0.2)})
    assert r["unsure"] == ["recon", "compare-recon"] and r["wrong"] == ["noisy"]
    assert r["guesses"]["noisy"] == "8 · 50 %" and r["guesses"]["recon"] == "8? · 50 %"
    # an unsure input: nothing can be said to differ from it
    r = marked(served, {"input": (3, 0.45), "noisy": (8, 0.99), "dae": (5, 0.9), "unet": (3, 0.9)})
    assert r["unsure"] == ["clean"] and r["wrong"] == []
    # every reading sure and the same: nothing marked
    r = marked(served, {"input": (1, 0.99), "noisy": (1, 0.6), "dae": (1, 0.97)}, compare=None)
    assert r["unsure"] == [] and r["wrong"] == [] and set(r["guesses"]) == {"clean", "noisy", "recon"}
    # every reading sure, all but the input another digit
    r = marked(served, {"input": (1, 0.99), "noisy": (7, 0.6), "dae": (4, 0.97), "unet": (7, 1.0)})
    assert r["wrong"] == ["noisy", "recon", "compare-recon"] and r["unsure"] == []


def test_the_marks_follow_the_classifiers_own_readings(served):
    r = render(served, request({"kind": "sample", "index": 7}, "gaussian", 1.0, 0, compare="unet"))
    reading = {name: (m["label"], m["confidence"]) for name, m in r["metrics"].items()}
    image = {"input": "clean", "noisy": "noisy", "dae": "recon", "unet": "compare-recon"}
    assert r["unsure"] == [image[n] for n, (_, p) in reading.items() if p < 0.5]
    input_label, input_p = reading["input"]
    assert r["wrong"] == [
        image[n]
        for n, (label, p) in reading.items()
        if n != "input" and input_p >= 0.5 and p >= 0.5 and label != input_label
    ]


def test_no_noise_means_no_gain_to_speak_of(served):
    r = render(served, request({"kind": "sample", "index": 7}, "gaussian", 0.0))
    assert r["metrics"]["dae"]["psnr_gain_db"] is None and "no noise to remove" in r["status"]


def test_the_views_come_with_the_results_when_open_and_not_while_the_pen_moves(served):
    r = render(served, request({"kind": "sample", "index": 7}, views=["curve"]))
    assert r["views"]["curve"].count("<svg") == 2 and "polyline" in r["views"]["curve"]  # two panels
    live = render(served, request({"kind": "sample", "index": 7}, views=["curve"]) | {"live": True})
    assert live["views"] == {} and "recon" in live["images"]  # while the pen moves, only the results


def test_each_noise_kind_s_radio_carries_its_own_strength_range():
    """The page sets the slider from the radio it picks: its range and default are the noise's own."""
    page = controls_html(list(CORRUPTIONS.values()), [])
    for name, kind in CORRUPTIONS.items():
        radio = re.search(rf'<input type="radio" name="dae-kind" value="{name}"[^>]*>', page).group(0)
        assert (
            f'data-max="{kind.max_strength:g}"' in radio
            and f'data-default="{kind.default_strength:g}"' in radio
        )
    assert len(re.findall('name="dae-kind"', page)) == len(CORRUPTIONS)


def test_an_upload_gives_the_page_its_digit():
    picture = np.full((90, 60, 3), 250, dtype=np.uint8)
    picture[20:70, 27:33] = (20, 30, 120)  # a dark-blue "1" on white paper
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="png")
    r = upload(buf.getvalue())
    preview = decoded(r["preview"])
    # the upright picture, in colour
    assert preview.shape[2] == 3 and preview.shape[0] > preview.shape[1]
    digit = decoded(r["digit"]).astype(float)
    assert digit.shape == (28, 28) and digit[:, 12:17].sum() > 0.9 * digit.sum()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not an image", "not an image"),
        (png_bomb(), "too large|too many pixels"),
        (b"", "not an image|empty"),
    ],
)
def test_a_bad_upload_says_why(content, message):
    r = upload(content)
    assert set(r) == {"error"} and re.search(message, r["error"]) and "\n" not in r["error"]


def test_a_digit_travels_in_a_link_and_comes_back_the_same():
    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 13:15] = 1.0
    digit[10, 3] = 0.5  # 0.5 is stored as 128/255
    text = link_pixels(digit)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", text) and len(text) < 400
    back = digit_from_link(text)
    assert np.array_equal((back * 255).round(), (digit * 255 + 0.5).astype(np.uint8))


@pytest.mark.parametrize("text", [None, "", "!!!", "x" * 3000, "AAAA", 12])
def test_a_link_without_a_digit_gives_none(text):
    assert digit_from_link(text) is None


def test_a_link_that_inflates_beyond_one_digit_gives_none():
    import base64
    import zlib

    bomb = base64.urlsafe_b64encode(zlib.compress(bytes(1_000_000), 9)).decode().rstrip("=")
    assert len(bomb) <= 2_000 and digit_from_link(bomb) is None
