"""The quality curve (webapp.views.curve): PSNR and the classifier's probability over the slider's range,
beside the test-set means of the served checkpoint."""

import json
import re

from tests.support import request
from webapp.denoise_tab import render
from webapp.views import curve


def test_the_curve_shows_the_test_set_means_of_the_lines_on_screen_only(served):
    unet_colour = 'stroke="#f97316"'
    plain = render(served, request({"kind": "sample", "index": 4}, views=["curve"]))["views"]["curve"]
    compare = render(served, request({"kind": "sample", "index": 4}, compare=True, views=["curve"]))["views"][
        "curve"
    ]
    assert unet_colour not in plain and "U-Net" not in plain
    assert compare.count(unet_colour) == 3  # the U-Net's PSNR, its probability and its test-set mean
    assert "strength σ" in plain


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
    x = {
        s: float(re.search(r'<line x1="([\d.]+)"[^>]*class="marker"', curve.curve_svg(c, "mask", s)).group(1))
        for s in (0.0, 0.225, 0.9, 5.0)
    }
    assert x[0.0] < x[0.9] and abs((x[0.225] - x[0.0]) - (x[0.9] - x[0.0]) / 4) <= 0.1
    assert x[5.0] == x[0.9]  # beyond the range: at its end
