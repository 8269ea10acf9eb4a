"""The Denoise tab's handlers (webapp.denoise_tab): one render request per change, an upload, the noise kind.

Called directly with the committed checkpoints: no browser, no Gradio. The views in an answer
are tested per view (test_views_*.py), the answer's shape against the contract in test_contract.py.
"""

import json
import re

import numpy as np
import pytest
from PIL import Image

import webapp.denoise_tab
from dae.noise import NOISE_KINDS
from tests.support import data_url, decoded, drawing, png_bomb, request
from webapp.denoise_tab import (
    BLANK_HINT,
    CANVAS,
    DRAW_HINT,
    EXPIRED,
    kind_slider,
    render,
    uploaded,
)


def test_a_sample_request_shows_it_its_results_guesses_and_name(served, denoiser):
    r = render(served, request({"kind": "sample", "index": 42}, "salt_pepper", 0.2, 9))
    expected = denoiser(served.samples[42], "salt_pepper", 0.2, 9)
    assert np.array_equal(decoded(r["images"]["clean"]), (served.samples[42] * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(decoded(r["images"]["noisy"]), (expected.noisy * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(
        decoded(r["images"]["recon"]), (expected.outputs["dae"] * 255 + 0.5).astype(np.uint8)
    )
    assert decoded(r["images"]["error"]).shape == (28, 28, 3) and "unet-recon" not in r["images"]
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
        (drawing(top=-10**6), "points must be"),
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


def test_compare_adds_the_unet_results(served):
    on = render(served, request({"kind": "sample", "index": 7}, "mask", 0.5, 1, compare=True))
    assert on["compare"] and {"unet-recon", "unet-error"} <= set(on["images"]) and "U-Net" in on["status"]
    assert "unet-recon" in on["guesses"]
    off = render(served, request({"kind": "sample", "index": 7}, "mask", 0.5, 1))
    assert not off["compare"] and "unet-recon" not in off["images"]


def test_a_guess_that_differs_from_the_input_is_marked(served):
    r = render(served, request({"kind": "sample", "index": 7}, "gaussian", 1.0, 0, compare=True))
    input_label = r["metrics"]["input"]["label"]
    expected = [
        key
        for key, name in (("noisy", "noisy"), ("recon", "dae"), ("unet-recon", "unet"))
        if r["metrics"][name]["label"] != input_label
    ]
    assert r["wrong"] == expected


def test_no_noise_means_no_gain_to_speak_of(served):
    r = render(served, request({"kind": "sample", "index": 7}, "gaussian", 0.0))
    assert r["metrics"]["dae"]["psnr_gain_db"] is None and "no noise to remove" in r["status"]


def test_the_views_come_with_the_results_when_open_and_not_while_the_pen_moves(served):
    r = render(served, request({"kind": "sample", "index": 7}, views=["curve"]))
    assert r["views"]["curve"].startswith("<svg") and "polyline" in r["views"]["curve"]
    live = render(served, request({"kind": "sample", "index": 7}, views=["curve"]) | {"live": True})
    assert live["views"] == {} and "recon" in live["images"]  # while the pen moves, only the results


def test_another_noise_kind_takes_its_own_slider_range():
    top = NOISE_KINDS["salt_pepper"].max_strength
    assert kind_slider("salt_pepper", 0.8)["strength"] == {
        "maximum": top,
        "value": top,
        "label": f"Strength: {NOISE_KINDS['salt_pepper'].strength_name}",
    }
    assert kind_slider("mask", 0.3)["strength"]["value"] == 0.3  # a value in range stays
    assert kind_slider("fog", 0.3) == {}  # not a kind: nothing changes


def test_an_upload_gives_the_page_its_digit(tmp_path):
    picture = np.full((90, 60, 3), 250, dtype=np.uint8)
    picture[20:70, 27:33] = (20, 30, 120)  # a dark-blue "1" on white paper
    Image.fromarray(picture).save(tmp_path / "one.png")
    r = uploaded(str(tmp_path / "one.png"))
    # the upright picture, in colour
    assert r["preview"].shape[2] == 3 and r["preview"].shape[0] > r["preview"].shape[1]
    digit = decoded(json.loads(r["upload_digit"])["digit"]).astype(float)
    assert digit[:, 12:17].sum() > 0.9 * digit.sum()


@pytest.mark.parametrize(
    "content, message", [(b"not an image", "not an image"), (png_bomb(), "too large|too many pixels")]
)
def test_a_bad_upload_says_why(tmp_path, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    r = uploaded(str(bad))
    error = json.loads(r["upload_digit"])["error"]
    assert r["preview"] is None and error.startswith("⚠️") and re.search(message, error)


def test_an_upload_the_server_has_deleted_asks_for_it_again(tmp_path):
    r = uploaded(str(tmp_path / "gone.png"))
    assert EXPIRED in r["upload_digit"] and r["preview"] is None


def test_a_removed_upload_is_no_digit():
    assert uploaded(None) == {"preview": None, "upload_digit": json.dumps({"none": True})}
