"""The demo's engine (dae.demo) and every event handler of the app (dae.ui), called directly: no browser, no Gradio."""

import base64
import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from dae import ui
from dae.demo import MAX_SEED, Denoiser, Result, check_controls, colorbar_html, error_image, metrics_markdown, path_html, result_json, score, upscale
from dae.noise import NOISE_KINDS
from dae.preprocess import InputError
from dae.samples import load_samples

from .conftest import ROOT, png_bomb

KINDS = list(NOISE_KINDS)


@pytest.fixture(scope="module")
def denoiser():
    """The committed checkpoints, loaded strictly: the handlers are tested with the models the app serves."""
    return Denoiser.from_checkpoints({"dae": ROOT / "checkpoints" / "dae", "unet": ROOT / "checkpoints" / "unet"})


@pytest.fixture(scope="module")
def handlers(denoiser):
    samples, labels = load_samples()
    return ui.DemoUI(denoiser, samples, labels, rng=np.random.default_rng(0))


@pytest.fixture(scope="module")
def digit():
    return load_samples()[0][7]


def sketch(bar=(60, 260, 150, 180), size=ui.CANVAS) -> dict:
    """A Sketchpad value as Gradio hands it over: an opaque background and a stroke layer whose alpha is the ink."""
    layer = np.zeros((size, size, 4), dtype=np.uint8)
    top, bottom, left, right = bar
    layer[top:bottom, left:right] = (37, 99, 235, 255)
    background = np.full((size, size, 4), 255, dtype=np.uint8)
    return {"background": background, "layers": [layer], "composite": background}


def cleared(result: dict) -> bool:
    """Nothing of a previous digit left: the digit, its picture and every result are empty."""
    return all(result[name] is None for name in ("digit", "clean", *ui.RESULTS) if name != "status")


def test_bundled_samples():
    images, labels = load_samples()
    assert images.shape == (100, 28, 28) and images.dtype == np.float32
    assert list(np.bincount(labels)) == [10] * 10
    assert 0 <= images.min() and images.max() <= 1 and images.mean() > 0.05


# ---- dae.demo ------------------------------------------------------------------------------------


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


def table(markdown: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines()]


def test_metrics_table_and_json_of_a_hand_made_case():
    r = hand_made_result()
    header, _, noisy_row, dae_row = table(metrics_markdown(r, {"dae": "DAE"}))
    assert header == ["", "MSE", "PSNR", "gain"]
    assert noisy_row == ["noisy input", "0.0100", "20.00 dB", ""]
    assert dae_row == ["DAE", "0.0001", "40.00 dB", "**+20.00 dB**"]  # only the gain is bold
    assert result_json(r) == {"noisy": {"mse": 0.01, "psnr": 20.0}, "dae": {"mse": 0.0001, "psnr": 40.0, "psnr_gain_db": 20.0}}


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


# ---- dae.ui: the Denoise tab ---------------------------------------------------------------------


def test_picking_a_sample_shows_it_highlights_it_and_its_results(handlers):
    r = handlers.picked(42, "gaussian", 0.5, 0, False)
    assert np.array_equal(r["digit"], handlers.samples[42]) and np.array_equal(r["clean"][::8, ::8], (handlers.samples[42] * 255 + 0.5).astype(np.uint8))
    assert r["sample"] == 42 and r["gallery"] == {"selected_index": 42}
    assert r["noisy"].shape == r["recon"].shape == (224, 224) and r["error"].shape == (224, 224, 3)
    assert r["unet_recon"] is None and r["unet_error"] is None  # not asked to compare
    assert "DAE" in r["status"] and "U-Net" not in r["status"]


class Always:
    """A random generator that always draws `value` (for what happens when it draws the digit on screen)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def integers(self, high: int) -> int:
        return min(self.value, high - 1)


def test_random_digit_never_repeats_the_digit_on_screen(denoiser):
    samples, labels = load_samples()
    for current in (0, 41, 98):  # the generator draws the index on screen: the next sample is shown instead
        r = ui.DemoUI(denoiser, samples, labels, rng=Always(current)).random_pick(current, "gaussian", 0.5, 0, False)
        assert r["sample"] == current + 1
    assert ui.DemoUI(denoiser, samples, labels, rng=Always(98)).random_pick(99, "gaussian", 0.5, 0, False)["sample"] == 98


def test_random_digit_moves_the_gallery_highlight_to_the_digit_shown(handlers):
    current = 5
    for _ in range(30):
        r = handlers.random_pick(current, "mask", 0.3, 1, False)
        assert r["sample"] != current  # a new digit every press
        assert r["gallery"]["selected_index"] == r["sample"] and np.array_equal(r["digit"], handlers.samples[r["sample"]])
        current = r["sample"]


def test_the_samples_tab_with_nothing_picked_shows_nothing(handlers):
    r = handlers.picked(None, "gaussian", 0.5, 0, False)
    assert cleared(r) and r["status"] == ui.PICK_HINT and r["gallery"]["selected_index"] == ui.NO_SELECTION


def test_a_drawing_becomes_a_centred_digit(handlers):
    r = handlers.drawn(sketch(), "gaussian", 0.3, 0, False)
    ink = r["digit"]
    assert ink.shape == (28, 28) and ink[:, 12:17].sum() > 0.9 * ink.sum()  # a vertical bar in the middle columns
    assert all(r[name] is not None for name in ("clean", "noisy", "recon", "error"))


def test_an_empty_or_cleared_canvas_clears_the_results(handlers):
    for value in (None, {"background": None, "layers": [], "composite": None}):
        r = handlers.drawn(value, "gaussian", 0.3, 0, False)
        assert cleared(r) and r["status"] == ui.BLANK_HINT


def test_a_sketch_larger_than_the_canvas_is_refused_with_a_message(handlers):
    r = handlers.drawn(sketch(size=ui.CANVAS * 2), "gaussian", 0.3, 0, False)
    assert cleared(r) and r["status"].startswith("⚠️") and "larger than the canvas" in r["status"]


def test_an_upload_shows_the_picture_itself_and_its_digit(handlers, tmp_path):
    picture = np.full((90, 60, 3), 250, dtype=np.uint8)
    picture[20:70, 27:33] = (20, 30, 120)  # a dark-blue "1" on white paper
    Image.fromarray(picture).save(tmp_path / "one.png")
    r = handlers.uploaded(str(tmp_path / "one.png"), "gaussian", 0.3, 0, False)
    assert r["preview"].shape[2] == 3 and r["preview"].shape[0] > r["preview"].shape[1]  # the upright picture, in colour
    assert r["digit"][:, 12:17].sum() > 0.9 * r["digit"].sum() and r["recon"] is not None


@pytest.mark.parametrize("content, message", [(b"not an image", "not an image"), (png_bomb(), "too large|too many pixels")])
def test_a_bad_upload_clears_everything_of_the_previous_digit(handlers, tmp_path, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    r = handlers.uploaded(str(bad), "gaussian", 0.3, 0, False)
    assert cleared(r) and r["preview"] is None
    assert r["status"].startswith("⚠️") and r["status"].count("⚠️") == 1
    assert __import__("re").search(message, r["status"])


def test_an_upload_the_server_has_deleted_asks_for_it_again(handlers, tmp_path):
    r = handlers.uploaded(str(tmp_path / "gone.png"), "gaussian", 0.3, 0, False)
    assert cleared(r) and r["preview"] is None and ui.EXPIRED in r["status"] and "again" in r["status"]


def test_removing_the_upload_clears_its_results(handlers):
    r = handlers.uploaded(None, "gaussian", 0.3, 0, False)
    assert cleared(r) and r["preview"] is None and r["status"] == ui.BLANK_HINT


@pytest.mark.parametrize("seed, message", [(-1, "whole number"), (None, "whole number"), (1.5, "whole number")])
def test_an_unusable_seed_clears_the_results_and_says_why(handlers, digit, seed, message):
    r = handlers.results(digit, "gaussian", 0.5, seed, False)
    assert all(r[name] is None for name in ui.RESULTS if name != "status")
    assert r["status"].startswith("⚠️") and message in r["status"]


def test_results_follow_the_controls(handlers, denoiser, digit):
    r = handlers.results(digit, "salt_pepper", 0.2, 9, False)
    expected = denoiser(digit, "salt_pepper", 0.2, 9)
    assert np.array_equal(r["noisy"], upscale(expected.noisy)) and np.array_equal(r["recon"], upscale(expected.outputs["dae"]))


def test_another_noise_kind_takes_its_own_slider_range(handlers, denoiser, digit):
    r = handlers.kind_changed(digit, "salt_pepper", 0.8, 2, False)  # 0.8 was a Gaussian σ; salt and pepper stops at 0.5
    top = NOISE_KINDS["salt_pepper"].max_strength
    assert r["strength"] == {"maximum": top, "value": top, "label": f"Strength: {NOISE_KINDS['salt_pepper'].strength_name}"}
    assert np.array_equal(r["noisy"], upscale(denoiser(digit, "salt_pepper", top, 2).noisy))
    assert handlers.kind_changed(digit, "mask", 0.3, 2, False)["strength"]["value"] == 0.3  # a value in range stays


def test_new_noise_moves_to_the_next_seed(handlers, denoiser, digit):
    r = handlers.new_noise(digit, "mask", 0.5, 4, False)
    assert r["seed"] == 5 and np.array_equal(r["noisy"], upscale(denoiser(digit, "mask", 0.5, 5).noisy))
    assert [ui.next_seed(s) for s in (None, "x", -3, float("inf"), MAX_SEED, 7.0)] == [0, 0, 0, 0, 0, 8]


def test_compare_shows_the_unet_row_and_its_results(handlers, digit):
    on = handlers.compare_changed(digit, "mask", 0.5, 1, True)
    assert on["unet_row"] == {"visible": True} and on["unet_recon"].shape == (224, 224) and "U-Net" in on["status"]
    off = handlers.compare_changed(digit, "mask", 0.5, 1, False)
    assert off["unet_row"] == {"visible": False} and off["unet_recon"] is None and off["unet_error"] is None and "U-Net" not in off["status"]


# ---- dae.ui: the Latent space tab ------------------------------------------------------------------


def test_latent_view_shows_both_ends_and_every_step(handlers, denoiser):
    a, b = handlers.samples[3], handlers.samples[96]
    r = handlers.latent(a, b, 1.0)
    assert np.array_equal(r["start_image"], upscale(a)) and np.array_equal(r["end_image"], upscale(b))
    steps = decoded_steps(r["path"])
    assert len(steps) == ui.LATENT_STEPS
    with torch.inference_mode():
        end = denoiser.models["dae"](torch.from_numpy(b).view(1, 1, 28, 28))[0, 0].numpy()
    assert np.abs(steps[-1].astype(int) - (end * 255 + 0.5).astype(int)).max() <= 1  # t = 1 is b's reconstruction
    assert np.abs(r["point"][::8, ::8].astype(int) - steps[-1]).max() <= 1  # the slider at 1 shows the last step
    assert r["latent_status"] == "From **a 0 (MNIST sample 4)** to **a 9 (MNIST sample 97)**."


def test_end_at_the_denoise_digit_moves_the_end_picker(handlers):
    start, end = handlers.samples[0], handlers.samples[99]
    r = handlers.end_at(handlers.samples[57], start, end, 0.5)
    assert np.array_equal(r["end"], handlers.samples[57]) and r["end_pick"] == {"selected_index": 57}
    drawing = handlers.drawn(sketch(), "gaussian", 0.3, 0, False)["digit"]
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
