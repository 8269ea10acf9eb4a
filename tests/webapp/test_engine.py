"""The inference engine (webapp.engine): noise a digit, run the models, score the results, the quality curve.

Called directly with the committed checkpoints: no browser, no Gradio.
"""

import math

import numpy as np
import pytest
import torch

from dae.noise import NOISE_KINDS, mask
from dae.samples import load_samples
from webapp import engine
from webapp.captions import metrics_html
from webapp.engine import Denoiser, Result, check_controls, result_json, score, subnormals_flushed
from webapp.errors import InputError

KINDS = list(NOISE_KINDS)


@pytest.fixture(scope="module")
def digit():
    return load_samples()[0][7]


@pytest.mark.parametrize("kind", KINDS)
def test_each_noise_kind(denoiser, digit, kind):
    r = denoiser(digit, kind, NOISE_KINDS[kind].default_strength, 3)
    # every served model: the DAE and the five a lesson puts beside it (webapp.served.LESSONS)
    served_models = {"dae", "unet", "plain-ae", "dae-sigma05", "dae-code2", "dae-code16"}
    assert set(r.outputs) == served_models and set(r.scores) == {"noisy"} | served_models
    assert r.noisy.shape == r.clean.shape == (28, 28)
    assert all(out.shape == (28, 28) for out in r.outputs.values())
    assert not np.array_equal(r.noisy, r.clean)
    assert set(r.guesses) == {"input", "noisy"} | served_models
    assert all(math.isfinite(v) for s in r.scores.values() for v in s.values())


def test_seed_reproducibility(denoiser, digit):
    a, b = denoiser(digit, "mask", 0.5, 11), denoiser(digit, "mask", 0.5, 11)
    c = denoiser(digit, "mask", 0.5, 12)
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
        ("gaussian", float("nan"), 0, "from 0 to 1.0"),
        ("gaussian", float("inf"), 0, "from 0 to 1.0"),
        ("mask", 0.95, 0, "from 0 to 0.9"),
        ("mask", -0.1, 0, "from 0 to 0.9"),
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


def hand_made_result() -> Result:
    """Clean all 0; the noisy input all 0.1 (MSE 0.01, so 20 dB); the DAE's output all 0.01 (MSE 1e-4, so 40
    dB)."""
    clean = torch.zeros(1, 1, 28, 28)
    noisy, out = torch.full_like(clean, 0.1), torch.full_like(clean, 0.01)
    return Result(
        clean=clean[0, 0].numpy(),
        noisy=noisy[0, 0].numpy(),
        outputs={"dae": out[0, 0].numpy()},
        scores=score(clean, noisy, {"dae": out}),
    )


def test_scores_of_a_hand_made_case():
    s = hand_made_result().scores
    assert s["noisy"] == pytest.approx({"mse": 0.01, "psnr": 20.0}, rel=1e-5)
    assert s["dae"] == pytest.approx({"mse": 1e-4, "psnr": 40.0, "psnr_gain_db": 20.0}, rel=1e-5)


def test_the_json_of_a_hand_made_case():
    r = hand_made_result()
    assert result_json(r) == {
        "noisy": {"mse": 0.01, "psnr": 20.0},
        "dae": {"mse": 0.0001, "psnr": 40.0, "psnr_gain_db": 20.0},
    }
    r.guesses = {"input": (7, 0.98765432), "noisy": (1, 0.5), "dae": (7, 0.9)}
    assert result_json(r)["input"] == {"label": 7, "confidence": 0.987654}  # rounded to 6 places
    assert result_json(r)["dae"] == {
        "mse": 0.0001,
        "psnr": 40.0,
        "psnr_gain_db": 20.0,
        "label": 7,
        "confidence": 0.9,
    }


def test_at_strength_0_there_is_no_gain_to_speak_of():
    """Clean all 0.5 and the noisy input the same (strength 0); the DAE's output all 0.6 (MSE 0.01:
    20 dB)."""
    clean = torch.full((1, 1, 28, 28), 0.5)
    out = torch.full_like(clean, 0.6)
    scores = score(clean, clean.clone(), {"dae": out})
    assert scores["dae"]["psnr_gain_db"] is None  # not −80 dB against a capped 100 dB
    assert scores["dae"]["psnr"] == pytest.approx(20.0, rel=1e-5)


def test_interpolation_ends_at_the_two_reconstructions(denoiser):
    images, _ = load_samples()
    path = denoiser.interpolate(images[0], images[95], np.linspace(0, 1, 5))
    assert path.shape == (5, 28, 28)
    with torch.inference_mode():
        ends = denoiser.models["dae"](torch.from_numpy(images[[0, 95]]).unsqueeze(1))[:, 0].numpy()
    assert np.allclose(path[0], ends[0], atol=1e-5) and np.allclose(path[-1], ends[1], atol=1e-5)
    assert not np.allclose(path[2], path[0], atol=1e-2)


def test_the_curve_equals_a_direct_computation(denoiser, digit):
    curve = denoiser.curve(digit, "mask", 3)
    assert len(curve["strengths"]) >= 21 and curve["strengths"][0] == 0
    assert curve["strengths"][-1] == NOISE_KINDS["mask"].max_strength
    i = 10  # one strength, computed again by hand: noise, model, PSNR, classifier
    s = curve["strengths"][i]
    x = torch.from_numpy(digit).view(1, 1, 28, 28)
    noisy = mask(x, s, 3)
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
    monkeypatch.setattr(engine, "CURVE_CACHE", 3)
    cached = Denoiser(denoiser.models, denoiser.classifier)
    computed = []
    compute = cached._curve
    monkeypatch.setattr(cached, "_curve", lambda *args: computed.append(args[1:3]) or compute(*args))
    first = cached.curve(digit, "salt_pepper", 5)
    # the slider moved: same digit, kind, seed, models
    again = cached.curve(digit.astype(np.float64), "salt_pepper", 5)
    assert computed == [("salt_pepper", 5)] and again == first and again is not first
    again["psnr"]["dae"][3] = -1.0  # a caller's copy is its own
    fresh = Denoiser(denoiser.models, denoiser.classifier).curve(digit, "salt_pepper", 5)
    assert cached.curve(digit, "salt_pepper", 5) == first == fresh
    # other models, another curve
    assert cached.curve(digit, "salt_pepper", 5, ("dae",)) != first and len(computed) == 2
    for seed in (6, 7, 8):
        cached.curve(digit, "salt_pepper", seed)
    assert len(cached._curves) == 3 and len(computed) == 5
    cached.curve(digit, "salt_pepper", 5)  # the oldest ones went first
    assert computed[-1] == ("salt_pepper", 5) and len(cached._curves) == 3


def test_flushing_subnormals_changes_no_output(denoiser):
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
