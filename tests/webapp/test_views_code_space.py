"""The code space view (webapp.views.code_space): the PCA map of the test codes, this digit's clean and
noisy codes on it, and a click decoded.

Expected values come from a second computation: the PCA by hand, the model's own encoder and decoder.
"""

import re

import numpy as np
import torch

from tests.support import pictures, request, uint8
from webapp.denoise_tab import render
from webapp.views.code_space import MapFrame, map_frame


def test_a_map_frame_puts_positions_on_screen_the_right_way_up():
    frame = MapFrame(x0=-2, x1=2, y0=0, y1=8)
    xy = np.array([[-2, 8], [2, 0], [0, 4], [1, 6]], dtype=np.float64)
    assert frame.to_fraction(xy).tolist() == [
        [0, 0],
        [1, 1],
        [0.5, 0.5],
        [0.75, 0.25],
    ]  # top left is (x0, y1): larger y higher up
    assert np.allclose(frame.to_position(frame.to_fraction(xy)), xy)
    points = np.random.default_rng(0).normal(size=(1000, 2))
    f = map_frame(points)
    inside = ((f.to_fraction(points) >= 0) & (f.to_fraction(points) <= 1)).all(axis=1)
    assert 0.98 <= inside.mean() < 1  # the middle 99 % per axis, plus a margin; outliers may fall outside


def marks(view: str) -> dict[str, tuple[float, float]]:
    """{"clean" | "noisy": (x, y)} of the map's circles, in fractions of the map."""
    found = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" class="dae-map-(\w+)"/>', view)
    return {kind: (float(x), float(y)) for x, y, kind in found}


def test_the_code_map_marks_the_clean_and_the_noisy_code(served, denoiser):
    r = render(served, request({"kind": "sample", "index": 11}, "salt_pepper", 0.3, 2, views=["latent-map"]))
    noisy = denoiser(served.samples[11], "salt_pepper", 0.3, 2).noisy
    m, frame, dae = served.code_map, served.map_frame, denoiser.models["dae"]
    with torch.no_grad():
        codes = dae.encode(torch.from_numpy(np.stack([served.samples[11], noisy])).unsqueeze(1)).double()
    xy = ((codes - m.mean.double()) @ m.directions.double().T).numpy()
    expected = np.stack(
        [(xy[:, 0] - frame.x0) / (frame.x1 - frame.x0), (frame.y1 - xy[:, 1]) / (frame.y1 - frame.y0)], axis=1
    )
    expected = np.clip(expected, 0.01, 0.99)
    got = marks(r["views"]["latent-map"])
    assert np.allclose(got["clean"], expected[0], atol=1e-3) and np.allclose(
        got["noisy"], expected[1], atol=1e-3
    )
    moved = float((codes[1] - codes[0]).norm())
    assert f"moved the code by {moved:.2f}" in r["views"]["latent-map"]


def test_a_click_on_the_map_decodes_that_point(served, denoiser):
    r = render(
        served, request({"kind": "sample", "index": 11}, views=["latent-map"]) | {"map_at": [0.25, 0.75]}
    )
    view = r["views"]["latent-map"]
    m, frame = served.code_map, served.map_frame
    position = torch.tensor(
        [[frame.x0 + 0.25 * (frame.x1 - frame.x0), frame.y1 - 0.75 * (frame.y1 - frame.y0)]]
    )
    code = m.mean + position @ m.directions  # the PCA inverse, by hand
    with torch.no_grad():
        digit = denoiser.models["dae"].decode(code)[0, 0].numpy()
    assert 'id="map-decoded"' in view and "dae-map-pick" in view
    assert np.abs(pictures(view)[0].astype(int) - uint8(digit)).max() <= 1
    for bad in (
        [2, 0.5],
        [0.5],
        ["0.5", 0.5],
        [float("nan"), 0.5],
        [True, 0.5],
        "0.5,0.5",
    ):  # no decode, no error
        view = render(
            served, request({"kind": "sample", "index": 11}, views=["latent-map"]) | {"map_at": bad}
        )["views"]["latent-map"]
        assert 'id="map-decoded"' not in view
