"""The quality curve (webapp.views.curve): PSNR and the classifier's probability over the slider's range,
beside the test-set means of the served checkpoint."""

import html
import json
import re

import pytest

from tests.support import request
from webapp.denoise_tab import render
from webapp.views import curve

BESIDE = 'stroke="#f97316"'  # the orange of the model beside the DAE
NOISY, DAE = "#9ca3af", "#2563eb"  # the noisy input's grey and the DAE's blue


def test_the_curve_shows_the_test_set_means_of_the_lines_on_screen_only(served):
    plain = render(served, request({"kind": "sample", "index": 4}, views=["curve"]))["views"]["curve"]
    compare = render(served, request({"kind": "sample", "index": 4}, compare="unet", views=["curve"]))[
        "views"
    ]["curve"]
    assert BESIDE not in plain and "U-Net" not in plain
    # the U-Net's PSNR and its probability, and its test-set mean when the DAE's evaluation.json has one
    assert compare.count(BESIDE) == 2 + ("unet" in served.means["gaussian"])
    assert "strength σ" in plain and plain.count("<svg") == 2  # two panels: PSNR and the classifier


@pytest.mark.parametrize("name", ["unet", "plain-ae", "dae-code2"])
def test_the_curve_names_the_compared_model_by_its_title_in_orange(served, name):
    title = served.models[name].title
    view = render(served, request({"kind": "sample", "index": 4}, "mask", 0.5, compare=name, views=["curve"]))
    legend = re.findall(r'<span><i style="background:([^"]+)"></i>([^<]+)</span>', view["views"]["curve"])
    assert (BESIDE.split('"')[1], html.escape(title)) in legend
    assert [text for _, text in legend][:2] == ["noisy input", "DAE"] and len(
        legend
    ) == 4  # and the median filter


def marker_x(c: dict, kind: str, strength: float) -> float:
    svg = curve.curve_svg(c, kind, strength)
    return float(re.search(r'<line x1="([\d.]+)"[^>]*class="marker"', svg).group(1))


def cut_marks(svg: str) -> list[tuple[float, str]]:
    """The ▲ marks of lines cut at the top: (the middle of each mark, its colour)."""
    found = re.findall(r'<path d="M([\d.]+),[\d.]+h10l-5,-8z" fill="([^"]+)"><title>above 40 dB</title>', svg)
    return [(float(x) + 5, colour) for x, colour in found]


def test_a_line_above_40_db_is_cut_and_marked_where_it_is_cut():
    c = {
        "strengths": [0.0, 0.5, 1.0],
        "psnr": {"noisy": [100.0, 12.0, 8.0], "dae": [39.99, 41.0, 20.0], "plain-ae": [40.0, 35.0, 10.0]},
    }
    svg = curve.curve_svg(c, "gaussian", 0.5, titles={"plain-ae": "plain autoencoder"})
    expected = [(marker_x(c, "gaussian", 0.0), NOISY), (marker_x(c, "gaussian", 0.5), DAE)]
    assert sorted(cut_marks(svg)) == sorted(expected)  # 40 dB itself and just under it are on the scale
    assert "▲ at the top: above 40 dB, cut" in svg and svg.count("<svg") == 1  # no classifier: one panel
    uncut = {"strengths": [0.0, 1.0], "psnr": {"noisy": [30.0, 8.0], "dae": [40.0, 20.0]}}
    assert cut_marks(curve.curve_svg(uncut, "gaussian", 0.5)) == [] and "▲" not in curve.curve_svg(
        uncut, "gaussian", 0.5
    )


def test_at_strength_0_the_noisy_line_is_cut(served, denoiser):
    """At strength 0 the noisy input is the digit itself (PSNR ∞, shown capped): its line leaves the panel
    there."""
    c = denoiser.curve(served.samples[4], "mask", 0, ("dae", "plain-ae"))
    assert c["psnr"]["noisy"][0] > 40
    svg = curve.curve_svg(c, "mask", 0.3, titles={"plain-ae": served.models["plain-ae"].title})
    x0 = marker_x(c, "mask", 0.0)
    assert (x0, NOISY) in cut_marks(svg)
    expected = sum(v > 40 for values in c["psnr"].values() for v in values)  # every point above the scale
    assert len(cut_marks(svg)) == expected


def test_the_probability_panel_follows_the_inputs_reading(served, denoiser):
    c = denoiser.curve(served.samples[4], "gaussian", 0)
    svg = curve.curve_svg(c, "gaussian", 0.5)
    label = int(served.labels[4])  # the classifier reads this clean test digit right
    assert c["label"] == label and f"classifier: P(it is a {label})" in svg and svg.count("<svg") == 2


def test_the_test_set_means_are_read_from_evaluation_json(tmp_path):
    rows = [
        {"noise": "mask", "level": 0.3, "scores": {"noisy": {"psnr": 10.5}, "dae": {"psnr": 20.25}}},
        {"noise": "mask", "level": 0.5, "scores": {"noisy": {"psnr": 8.0}, "dae": {"psnr": 19.0}}},
        {"noise": "gaussian", "level": 0.5, "scores": {"noisy": {"psnr": 7.5}, "dae": {"psnr": 18.5}}},
    ]
    (tmp_path / "evaluation.json").write_text(json.dumps({"rows": rows}))
    assert curve.test_set_means(tmp_path / "evaluation.json") == {
        "mask": {"noisy": [(0.3, 10.5), (0.5, 8.0)], "dae": [(0.3, 20.25), (0.5, 19.0)]},
        "gaussian": {"noisy": [(0.5, 7.5)], "dae": [(0.5, 18.5)]},
    }
    assert curve.test_set_means(tmp_path / "missing.json") == {}  # no file: no means, no error
    (tmp_path / "broken.json").write_text("{")
    assert curve.test_set_means(tmp_path / "broken.json") == {}


def test_the_marker_stands_at_the_sliders_strength(served, denoiser):
    """The marker's x is linear in the strength: at a quarter of the range, a quarter of the way along the
    axis."""
    c = denoiser.curve(served.samples[4], "mask", 0)
    x = {s: marker_x(c, "mask", s) for s in (0.0, 0.225, 0.9, 5.0)}
    assert x[0.0] < x[0.9] and abs((x[0.225] - x[0.0]) - (x[0.9] - x[0.0]) / 4) <= 0.1
    assert x[5.0] == x[0.9]  # beyond the range: at its end
