"""The demo's engine (dae.inference) and every event handler of the app (dae.ui), called directly: no browser, no Gradio."""

import base64
import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from dae import ui
from dae.inference import (
    Result,
    check_controls,
    colorbar_html,
    error_image,
    metrics_html,
    path_html,
    result_json,
    score,
    upscale,
)
from dae.noise import NOISE_KINDS
from dae.preprocess import InputError
from dae.samples import load_samples

from .conftest import png_bomb

KINDS = list(NOISE_KINDS)


@pytest.fixture(scope="module")
def digit():
    return load_samples()[0][7]


def test_bundled_samples():
    images, labels = load_samples()
    assert images.shape == (100, 28, 28) and images.dtype == np.float32
    assert list(np.bincount(labels)) == [10] * 10
    assert 0 <= images.min() and images.max() <= 1 and images.mean() > 0.05


# ---- dae.inference ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_noise_kind(denoiser, digit, kind):
    r = denoiser(digit, kind, NOISE_KINDS[kind].default_strength, 3)
    assert r.noisy.shape == r.clean.shape == r.outputs["dae"].shape == r.outputs["unet"].shape == (28, 28)
    assert not np.array_equal(r.noisy, r.clean)
    assert set(r.scores) == {"noisy", "dae", "unet"}
    assert all(math.isfinite(v) for s in r.scores.values() for v in s.values())


def test_seed_reproducibility(denoiser, digit):
    a, b, c = denoiser(digit, "mask", 0.5, 11), denoiser(digit, "mask", 0.5, 11), denoiser(digit, "mask", 0.5, 12)
    assert np.array_equal(a.noisy, b.noisy) and np.array_equal(a.outputs["dae"], b.outputs["dae"])
    assert not np.array_equal(a.noisy, c.noisy)


def test_zero_strength_leaves_the_input(denoiser, digit):
    r = denoiser(digit, "gaussian", 0.0, 0)
    assert np.array_equal(r.noisy, r.clean)
    assert "∞" in metrics_html(r)


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


def test_rendering(digit):
    big = upscale(digit)
    assert big.shape == (224, 224) and big.dtype == np.uint8
    assert np.array_equal(big[::8, ::8], (digit * 255 + 0.5).astype(np.uint8))  # nearest neighbour
    err = error_image(np.linspace(0, 1, 784).reshape(28, 28))
    assert err.shape == (224, 224, 3) and err.dtype == np.uint8
    assert err[0, 0].sum() < 60 and err[-1, -1].sum() > 600  # dark for no error, bright for full error
    assert "linear-gradient" in colorbar_html()


def hand_made_result() -> Result:
    """Clean all 0; the noisy input all 0.1 (MSE 0.01, so 20 dB); the DAE's output all 0.01 (MSE 1e-4, so 40 dB)."""
    clean = torch.zeros(1, 1, 28, 28)
    noisy, out = torch.full_like(clean, 0.1), torch.full_like(clean, 0.01)
    return Result(clean=clean[0, 0].numpy(), noisy=noisy[0, 0].numpy(), outputs={"dae": out[0, 0].numpy()}, scores=score(clean, noisy, {"dae": out}))


def test_scores_of_a_hand_made_case():
    s = hand_made_result().scores
    assert s["noisy"] == pytest.approx({"mse": 0.01, "psnr": 20.0}, rel=1e-5)
    assert s["dae"] == pytest.approx({"mse": 1e-4, "psnr": 40.0, "psnr_gain_db": 20.0}, rel=1e-5)


def table(markup: str) -> list[list[str]]:
    import re

    rows = re.findall(r"<tr>(.*?)</tr>", markup)
    return [[cell.strip() for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)] for row in rows]


def test_metrics_table_and_json_of_a_hand_made_case():
    r = hand_made_result()
    header, noisy_row, dae_row = table(metrics_html(r, {"dae": "DAE"}))
    assert header == ["", "MSE", "PSNR", "gain"]
    assert noisy_row == ["noisy input", "0.0100", "20.00 dB", ""]
    assert dae_row == ["DAE", "0.0001", "40.00 dB", "<b>+20.00 dB</b>"]  # only the gain is bold
    assert result_json(r) == {"noisy": {"mse": 0.01, "psnr": 20.0}, "dae": {"mse": 0.0001, "psnr": 40.0, "psnr_gain_db": 20.0}}


def test_the_metrics_at_strength_0_say_there_is_no_noise_to_remove():
    """Clean all 0.5 and the noisy input the same (strength 0); the DAE's output all 0.6 (MSE 0.01, so 20 dB)."""
    clean = torch.full((1, 1, 28, 28), 0.5)
    out = torch.full_like(clean, 0.6)
    r = Result(clean=clean[0, 0].numpy(), noisy=clean[0, 0].numpy(), outputs={"dae": out[0, 0].numpy()}, scores=score(clean, clean.clone(), {"dae": out}))
    markup = metrics_html(r, {"dae": "DAE"})
    _, noisy_row, dae_row = table(markup)
    assert noisy_row == ["noisy input", "0.0000", "∞ (identical)", ""]
    assert dae_row == ["DAE", "0.0100", "20.00 dB", "no noise to remove"]  # not −80 dB against a capped 100 dB
    assert result_json(r)["dae"]["psnr_gain_db"] is None
    legend = markup.split('<p class="dae-legend">')[1].removesuffix("</p>").split("<br>")
    assert [line.split("</b>")[0] for line in legend] == ["<b>MSE", "<b>PSNR", "<b>gain"]  # one line each


def test_interpolation_ends_at_the_two_reconstructions(denoiser):
    images, _ = load_samples()
    path = denoiser.interpolate(images[0], images[95], np.linspace(0, 1, 5))
    assert path.shape == (5, 28, 28)
    with torch.inference_mode():
        ends = denoiser.models["dae"](torch.from_numpy(images[[0, 95]]).unsqueeze(1))[:, 0].numpy()
    assert np.allclose(path[0], ends[0], atol=1e-5) and np.allclose(path[-1], ends[1], atol=1e-5)
    assert not np.allclose(path[2], path[0], atol=1e-2)


def decoded_steps(html: str) -> list[np.ndarray]:
    uris = [part.split('"')[0] for part in html.split('src="data:image/png;base64,')[1:]]
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u)))) for u in uris]


def test_path_html_holds_each_step_as_a_lossless_png():
    steps = np.stack([np.full((28, 28), v, dtype=np.float32) for v in (0.0, 0.5, 1.0)])
    steps[1, 3, 4] = 0.25
    html = path_html(steps, "A <path>")
    pixels = decoded_steps(html)
    assert [p.shape for p in pixels] == [(28, 28)] * 3
    assert pixels[0].max() == 0 and pixels[2].min() == 255 and pixels[1][0, 0] == 128 and pixels[1][3, 4] == 64
    assert "A &lt;path&gt;" in html  # the caption is text, not markup


# ---- dae.ui: the Denoise tab (one render request per change) ---------------------------------------


def canvas_png(bar=(60, 260, 150, 180), size=ui.CANVAS) -> str:
    """The page's canvas as it sends it: a transparent PNG data URL whose alpha is the ink."""
    layer = np.zeros((size, size, 4), dtype=np.uint8)
    top, bottom, left, right = bar
    layer[top:bottom, left:right] = (37, 99, 235, 255)
    return data_url(layer)


def data_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def decoded(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def request(source, noise="gaussian", strength=0.5, seed=0, compare=False, views=()) -> dict:
    return {"source": source, "noise": noise, "strength": strength, "seed": seed, "compare": compare, "views": list(views)}


def test_a_sample_request_shows_it_its_results_guesses_and_name(handlers, denoiser):
    r = handlers.render(request({"kind": "sample", "index": 42}, "salt_pepper", 0.2, 9))
    expected = denoiser(handlers.samples[42], "salt_pepper", 0.2, 9)
    assert np.array_equal(decoded(r["images"]["clean"]), (handlers.samples[42] * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(decoded(r["images"]["noisy"]), (expected.noisy * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(decoded(r["images"]["recon"]), (expected.outputs["dae"] * 255 + 0.5).astype(np.uint8))
    assert decoded(r["images"]["error"]).shape == (28, 28, 3) and "unet-recon" not in r["images"]
    label = int(handlers.labels[42])
    assert r["caption"] == f"MNIST test digit #{int(handlers.test_indices[42])}, a {label}"
    assert r["guesses"]["clean"].startswith(f"{label} · ")  # the classifier reads a clean test digit right
    assert r["metrics"]["input"]["label"] == label and 0 <= r["metrics"]["dae"]["confidence"] <= 1
    assert "DAE" in r["status"] and "U-Net" not in r["status"]


def test_a_drawing_becomes_a_centred_digit(handlers):
    r = handlers.render(request({"kind": "drawing", "png": canvas_png()}, strength=0.3))
    digit = decoded(r["images"]["clean"]).astype(float)
    assert digit.shape == (28, 28) and digit[:, 12:17].sum() > 0.9 * digit.sum()  # a vertical bar in the middle columns
    assert all(name in r["images"] for name in ("noisy", "recon", "error")) and "caption" not in r
    again = handlers.render(request({"kind": "digit", "png": r["digit"]}, strength=0.3))  # the page's next request
    assert again["images"] == r["images"]


def test_an_empty_canvas_or_no_input_shows_a_hint(handlers):
    empty = data_url(np.zeros((ui.CANVAS, ui.CANVAS, 4), dtype=np.uint8))
    assert handlers.render(request({"kind": "drawing", "png": empty})) == {"images": {}, "status": ui.DRAW_HINT}
    assert handlers.render(request({"kind": "none"})) == {"images": {}, "status": ui.BLANK_HINT}


@pytest.mark.parametrize("source, message", [
    ({"kind": "drawing", "png": canvas_png(size=ui.CANVAS * 5)}, "larger than the canvas"),
    ({"kind": "drawing", "png": "data:image/png;base64," + "A" * (ui.MAX_DRAWING_CHARS + 1)}, "more than the canvas"),
    ({"kind": "drawing", "png": "data:image/png;base64,!!!"}, "not valid base64"),
    ({"kind": "drawing", "png": "data:image/png;base64," + base64.b64encode(b"not a png").decode()}, "not a PNG"),
    ({"kind": "drawing", "png": data_url(np.zeros((40, 40, 3), dtype=np.uint8))}, "no transparency"),
    ({"kind": "drawing", "png": 5}, "PNG data URL"),
    ({"kind": "sample", "index": 100}, "no sample 100"),
    ({"kind": "sample", "index": True}, "no sample"),
    ({"kind": "digit", "png": data_url(np.zeros((29, 28), dtype=np.uint8))}, "28 × 28"),
    ({"kind": "webcam"}, "Unknown input"),
    (None, "names no input"),
])
def test_bad_sources_get_one_message_and_no_results(handlers, source, message):
    r = handlers.render(request(source))
    assert r["images"] == {} and r["status"].startswith("⚠️") and r["status"].count("⚠️") == 1
    assert message in r["status"], r["status"]


def test_an_oversized_drawing_is_refused_before_it_is_decoded(handlers, monkeypatch):
    import dae.ui

    monkeypatch.setattr(dae.ui, "digit_from_drawing", lambda png: pytest.fail("decoded"))
    r = handlers.render(request({"kind": "drawing", "png": "data:image/png;base64," + "A" * 10**6}))
    assert "more than the canvas" in r["status"]


@pytest.mark.parametrize("seed, message", [(-1, "whole number"), (None, "whole number"), (2.5, "whole number")])
def test_an_unusable_seed_keeps_the_input_and_says_why(handlers, seed, message):
    r = handlers.render(request({"kind": "sample", "index": 3}, seed=seed))
    assert list(r["images"]) == ["clean"]  # the digit stays on screen, no result of another seed
    assert r["status"].startswith("⚠️") and message in r["status"]


def test_a_message_is_escaped_html(handlers):
    r = handlers.render(request({"kind": "sample", "index": 3}, noise="<b>x</b>"))
    assert "<b>x</b>" not in r["status"] and "&lt;b&gt;" in r["status"]


def test_compare_adds_the_unet_results(handlers, digit):
    on = handlers.render(request({"kind": "sample", "index": 7}, "mask", 0.5, 1, compare=True))
    assert on["compare"] and {"unet-recon", "unet-error"} <= set(on["images"]) and "U-Net" in on["status"]
    assert "unet-recon" in on["guesses"]
    off = handlers.render(request({"kind": "sample", "index": 7}, "mask", 0.5, 1))
    assert not off["compare"] and "unet-recon" not in off["images"]


def test_a_guess_that_differs_from_the_input_is_marked(handlers):
    r = handlers.render(request({"kind": "sample", "index": 7}, "gaussian", 1.0, 0, compare=True))
    input_label = r["metrics"]["input"]["label"]
    expected = [key for key, name in (("noisy", "noisy"), ("recon", "dae"), ("unet-recon", "unet")) if r["metrics"][name]["label"] != input_label]
    assert r["wrong"] == expected


def test_no_noise_means_no_gain_to_speak_of(handlers):
    r = handlers.render(request({"kind": "sample", "index": 7}, "gaussian", 0.0))
    assert r["metrics"]["dae"]["psnr_gain_db"] is None and "no noise to remove" in r["status"]


def test_another_noise_kind_takes_its_own_slider_range(handlers):
    top = NOISE_KINDS["salt_pepper"].max_strength
    assert handlers.kind_slider("salt_pepper", 0.8)["strength"] == {"maximum": top, "value": top, "label": f"Strength: {NOISE_KINDS['salt_pepper'].strength_name}"}
    assert handlers.kind_slider("mask", 0.3)["strength"]["value"] == 0.3  # a value in range stays


class Query:
    def __init__(self, **params):
        self.query_params = params


def test_a_link_sets_the_controls_and_the_sample(handlers):
    r = handlers.from_link(Query(sample="34", noise="mask", strength="0.5", seed="7", compare="1"))
    assert r["kind"] == "mask" and r["strength"]["value"] == 0.5 and r["seed"] == 7 and r["compare"] is True
    assert r["input_tabs"] == {"selected": "samples"} and __import__("json").loads(r["linked"]) == {"tab": "samples", "sample": 34}
    bad = handlers.from_link(Query(sample="1000", noise="fog", strength="nan", seed="x"))
    assert bad["kind"] == "gaussian" and bad["strength"]["value"] == NOISE_KINDS["gaussian"].default_strength and bad["seed"] == 0
    assert bad["linked"] == "{}" and bad["input_tabs"] == {} and handlers.from_link(None)["compare"] is False


def test_the_curve_equals_a_direct_computation(denoiser, digit):
    curve = denoiser.curve(digit, "mask", 3)
    assert len(curve["strengths"]) >= 21 and curve["strengths"][0] == 0 and curve["strengths"][-1] == NOISE_KINDS["mask"].max_strength
    i = 10  # one strength, computed again by hand: noise, model, PSNR, classifier
    s = curve["strengths"][i]
    x = torch.from_numpy(digit).view(1, 1, 28, 28)
    noisy = __import__("dae.noise", fromlist=["mask"]).mask(x, s, 3)
    with torch.inference_mode():
        out = denoiser.models["dae"](noisy)
        mse = float(((out - x) ** 2).mean())
        label = int(denoiser.classifier(x).argmax()) if denoiser.classifier else None
        p = float(torch.softmax(denoiser.classifier(out), 1)[0, label]) if denoiser.classifier else None
    assert curve["psnr"]["dae"][i] == pytest.approx(-10 * math.log10(mse), abs=1e-3)
    assert curve["psnr"]["noisy"][0] == 100.0  # strength 0: the noisy input is the digit itself (PSNR capped)
    if label is not None:
        assert curve["label"] == label and curve["probability"]["dae"][i] == pytest.approx(p, abs=1e-5)


def test_a_cached_curve_equals_a_fresh_one_and_the_cache_is_bounded(denoiser, digit, monkeypatch):
    from dae import inference

    monkeypatch.setattr(inference, "CURVE_CACHE", 3)
    served = inference.Denoiser(denoiser.models, denoiser.classifier)
    computed = []
    compute = served._curve
    monkeypatch.setattr(served, "_curve", lambda *args: computed.append(args[1:3]) or compute(*args))
    first = served.curve(digit, "salt_pepper", 5)
    again = served.curve(digit.astype(np.float64), "salt_pepper", 5)  # the slider moved: same digit, kind, seed, models
    assert computed == [("salt_pepper", 5)] and again == first and again is not first
    again["psnr"]["dae"][3] = -1.0  # a caller's copy is its own
    assert served.curve(digit, "salt_pepper", 5) == first == inference.Denoiser(denoiser.models, denoiser.classifier).curve(digit, "salt_pepper", 5)
    assert served.curve(digit, "salt_pepper", 5, ("dae",)) != first and len(computed) == 2  # other models, another curve
    for seed in (6, 7, 8):
        served.curve(digit, "salt_pepper", seed)
    assert len(served._curves) == 3 and len(computed) == 5
    served.curve(digit, "salt_pepper", 5)  # the oldest ones went first
    assert computed[-1] == ("salt_pepper", 5) and len(served._curves) == 3


def test_flushing_subnormals_changes_no_output(denoiser):
    from dae.inference import subnormals_flushed

    images = torch.from_numpy(load_samples()[0]).unsqueeze(1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the mode is the calling thread's (app.py serves with one thread)
    try:
        with torch.inference_mode():
            plain = {name: model(images) for name, model in denoiser.models.items()}
            with subnormals_flushed():
                assert float(torch.tensor([1e-39]) * 1.0) == 0  # on: a subnormal reads as zero
                flushed = {name: model(images) for name, model in denoiser.models.items()}
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(plain[name], flushed[name]) for name in plain)
    assert float(torch.tensor([1e-39]) * 1.0) > 0  # and off again


def test_the_curve_view_comes_with_the_results_when_open(handlers):
    r = handlers.render(request({"kind": "sample", "index": 7}, views=["curve"]))
    assert r["views"]["curve"].startswith("<svg") and "polyline" in r["views"]["curve"]
    live = handlers.render(request({"kind": "sample", "index": 7}, views=["curve"]) | {"live": True})
    assert live["views"] == {}  # while the pen moves, only the results


def test_an_upload_gives_the_page_its_digit(handlers, tmp_path):
    picture = np.full((90, 60, 3), 250, dtype=np.uint8)
    picture[20:70, 27:33] = (20, 30, 120)  # a dark-blue "1" on white paper
    Image.fromarray(picture).save(tmp_path / "one.png")
    r = handlers.uploaded(str(tmp_path / "one.png"))
    assert r["preview"].shape[2] == 3 and r["preview"].shape[0] > r["preview"].shape[1]  # the upright picture, in colour
    digit = decoded(__import__("json").loads(r["upload_digit"])["digit"]).astype(float)
    assert digit[:, 12:17].sum() > 0.9 * digit.sum()


@pytest.mark.parametrize("content, message", [(b"not an image", "not an image"), (png_bomb(), "too large|too many pixels")])
def test_a_bad_upload_says_why(handlers, tmp_path, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    r = handlers.uploaded(str(bad))
    error = __import__("json").loads(r["upload_digit"])["error"]
    assert r["preview"] is None and error.startswith("⚠️") and __import__("re").search(message, error)


def test_an_upload_the_server_has_deleted_asks_for_it_again(handlers, tmp_path):
    r = handlers.uploaded(str(tmp_path / "gone.png"))
    assert ui.EXPIRED in r["upload_digit"] and r["preview"] is None


# ---- dae.ui: the Latent space tab ------------------------------------------------------------------


def test_latent_view_shows_both_ends_and_every_step(handlers, denoiser):
    a, b = handlers.samples[3], handlers.samples[96]
    r = handlers.latent(a, b, 1.0)
    assert np.array_equal(r["start_image"], upscale(a)) and np.array_equal(r["end_image"], upscale(b))
    decoded_part, faded_part = r["path"].split('class="dae-path dae-path-faded"')
    steps, faded = decoded_steps(decoded_part), decoded_steps(faded_part)
    assert len(steps) == len(faded) == ui.LATENT_STEPS
    for i, s in enumerate(np.linspace(0, 1, ui.LATENT_STEPS)):  # the cross-fade is the pixels' own blend, no model
        assert np.abs(faded[i].astype(int) - ((1 - s) * a + s * b) * 255).max() <= 1
    assert r["path"].count('class="dae-step-now"') == 2 and decoded_part.rfind("dae-step-now") > decoded_part.rfind("<img")
    with torch.inference_mode():
        end = denoiser.models["dae"](torch.from_numpy(b).view(1, 1, 28, 28))[0, 0].numpy()
    assert np.abs(steps[-1].astype(int) - (end * 255 + 0.5).astype(int)).max() <= 1  # t = 1 is b's reconstruction
    assert np.abs(r["point"][::8, ::8].astype(int) - steps[-1]).max() <= 1  # the slider at 1 shows the last step
    assert r["latent_status"].startswith(f"From **MNIST test digit #{handlers.test_indices[3]}, a 0** "
                                         f"to **MNIST test digit #{handlers.test_indices[96]}, a 9**.")
    assert "the cross-fade as a **9**" in r["latent_status"]  # at t = 1 the cross-fade is the clean 9 itself


def test_end_at_the_denoise_digit_moves_the_end_picker(handlers):
    start, end = handlers.samples[0], handlers.samples[99]
    r = handlers.end_at(data_url((handlers.samples[57] * 255 + 0.5).astype(np.uint8)), start, end, 0.5)
    assert np.array_equal(r["end"], handlers.samples[57]) and r["end_pick"] == {"selected_index": 57}
    drawing = handlers.render(request({"kind": "drawing", "png": canvas_png()}))["digit"]
    r = handlers.start_from(drawing, start, end, 0.5)
    assert r["start_pick"] == {"selected_index": ui.NO_SELECTION}  # not a sample: no thumbnail may stay highlighted
    assert "the digit from the Denoise tab" in r["latent_status"]


def test_using_an_empty_denoise_tab_changes_nothing_and_says_so(handlers):
    for use in (handlers.start_from, handlers.end_at):
        r = use(None, handlers.samples[0], handlers.samples[99], 0.5)
        assert list(r) == ["latent_status"] and "no digit" in r["latent_status"]


# ---- dae.ui: the API --------------------------------------------------------------------------------


def test_api_errors_raise_for_the_client(handlers, tmp_path):
    with pytest.raises(InputError, match="Send an image"):
        handlers.denoise_api(None, "gaussian", 0.5, 0)
    Image.fromarray((load_samples()[0][7] * 255).astype(np.uint8)).save(tmp_path / "d.png")
    with pytest.raises(InputError, match="Unknown model 'resnet'"):
        handlers.denoise_api(str(tmp_path / "d.png"), "gaussian", 0.5, 0, "resnet")
