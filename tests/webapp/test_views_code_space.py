"""The code space view (webapp.views.code_space): the PCA map of the test codes, this digit's clean and
noisy codes on it, and a click decoded.

Expected values come from a second computation: the PCA by hand, the model's own encoder and decoder.
"""

import re

import numpy as np
import pytest
import torch

from dae.checkpoint import load_model
from tests.support import ROOT, pictures, request, uint8
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
    m, frame, dae = served.models["dae"].code_map, served.models["dae"].map_frame, denoiser.models["dae"]
    with torch.no_grad():
        codes = dae.encode(torch.from_numpy(np.stack([served.samples[11], noisy])).unsqueeze(1)).double()
    xy = ((codes - m.mean.double()) @ m.directions.double().T).numpy()
    expected = np.clip(fractions(frame, xy), 0.01, 0.99)
    view = r["views"]["latent-map/dae"]
    got = marks(view)
    assert np.allclose(got["clean"], expected[0], atol=1e-3) and np.allclose(
        got["noisy"], expected[1], atol=1e-3
    )
    moved = float((codes[1] - codes[0]).norm())
    assert f"moved the code by {moved:.2f} (distance in 256 dimensions)" in view
    same, different = m.distances["same"], m.distances["different"]
    assert f"lie {same:.1f} apart (the median), two of different classes {different:.1f}" in view
    assert f"keeps {100 * m.explained:.0f} % of the codes' variance" in view


def fractions(frame, xy: np.ndarray) -> np.ndarray:
    """Positions on a map as fractions of its picture, by hand: x from the left, y from the top."""
    return np.stack(
        [(xy[:, 0] - frame.x0) / (frame.x1 - frame.x0), (frame.y1 - xy[:, 1]) / (frame.y1 - frame.y0)], axis=1
    )


def position_of(frame, at) -> torch.Tensor:
    """The point of the code plane under the fractions `at` of the map's picture, by hand."""
    return torch.tensor(
        [[frame.x0 + at[0] * (frame.x1 - frame.x0), frame.y1 - at[1] * (frame.y1 - frame.y0)]]
    )


def clicked(name: str, at, compare=None, index=11) -> dict:
    return request({"kind": "sample", "index": index}, compare=compare, views=["latent-map"]) | {
        "map_at": {"model": name, "at": at}
    }


def test_a_click_on_the_map_decodes_that_point(served, denoiser):
    view = render(served, clicked("dae", [0.25, 0.75]))["views"]["latent-map/dae"]
    m, frame = served.models["dae"].code_map, served.models["dae"].map_frame
    code = m.mean + position_of(frame, [0.25, 0.75]) @ m.directions  # the PCA inverse, by hand
    with torch.no_grad():
        digit = denoiser.models["dae"].decode(code)[0, 0].numpy()
    assert 'id="map-decoded-dae"' in view and "dae-map-pick" in view
    assert np.abs(pictures(view)[0].astype(int) - uint8(digit)).max() <= 1
    for bad in (
        {"model": "dae", "at": [2, 0.5]},
        {"model": "dae", "at": [0.5]},
        {"model": "dae", "at": ["0.5", 0.5]},
        {"model": "dae", "at": [float("nan"), 0.5]},
        {"model": "dae", "at": [True, 0.5]},
        {"model": "dae", "at": "0.5,0.5"},
        {"model": "dae"},
        {"at": [0.5, 0.5]},
        {"model": "dae-code2", "at": [0.5, 0.5]},  # another model's map
        {"model": ["dae"], "at": [0.5, 0.5]},
        [0.25, 0.75],  # the request of a page made before the maps had their models
        "0.5,0.5",
    ):  # no decode, no error
        r = render(served, request({"kind": "sample", "index": 11}, views=["latent-map"]) | {"map_at": bad})
        view = r["views"]["latent-map/dae"]
        assert "map-decoded" not in view and "dae-map-pick" not in view, bad


def test_the_two_number_codes_map_is_its_plane_and_decodes_exactly_the_clicked_code(served):
    model = load_model(ROOT / "checkpoints" / "dae-code2")[0].eval()  # straight from its folder
    frame = served.models["dae-code2"].map_frame
    for at in ([0.25, 0.75], [0.5, 0.5], [0.9, 0.1], [0, 1]):
        r = render(served, clicked("dae-code2", at, compare="dae-code2"))
        view = r["views"]["latent-map/dae-code2"]
        code = position_of(frame, at)  # a 2-number code is its position on the plane: no mean, no projection
        with torch.no_grad():
            digit = model.decode(code)[0, 0].numpy()
        assert 'id="map-decoded-dae-code2"' in view, at
        assert np.abs(pictures(view)[0].astype(int) - uint8(digit)).max() <= 1, at
        assert "map-decoded" not in r["views"]["latent-map/dae"]  # the click was on the other map
    assert (
        "distance in 2 dimensions" in view
        and "the code plane itself" in view
        and "% of the codes'" not in view
    )


def test_the_two_number_codes_marks_are_the_codes_themselves(served, denoiser):
    r = render(
        served,
        request({"kind": "sample", "index": 11}, "mask", 0.5, 4, compare="dae-code2", views=["latent-map"]),
    )
    noisy = denoiser(served.samples[11], "mask", 0.5, 4).noisy
    model = load_model(ROOT / "checkpoints" / "dae-code2")[0].eval()
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(np.stack([served.samples[11], noisy])).unsqueeze(1)).double()
    expected = np.clip(fractions(served.models["dae-code2"].map_frame, codes.numpy()), 0.01, 0.99)
    got = marks(r["views"]["latent-map/dae-code2"])
    assert np.allclose(got["clean"], expected[0], atol=1e-3) and np.allclose(
        got["noisy"], expected[1], atol=1e-3
    )


@pytest.mark.parametrize("name, at", [("dae", [0.25, 0.75]), ("dae", [0.7, 0.4]), ("dae-code2", [0.3, 0.6])])
def test_the_nearest_bundled_digits_are_the_nearest_codes(served, name, at):
    view = render(served, clicked(name, at, compare=None if name == "dae" else name))["views"][
        f"latent-map/{name}"
    ]
    model = load_model(ROOT / "checkpoints" / name)[0].eval()
    m, frame = served.models[name].code_map, served.models[name].map_frame
    code = (
        m.mean + position_of(frame, at) @ m.directions
    ).double()  # for a 2-number code: the position itself
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(served.samples).unsqueeze(1)).double()
    distance = ((codes - code) ** 2).sum(1).sqrt().numpy()
    nearest = np.argsort(distance)[:3]
    assert distance[nearest[2]] < np.sort(distance)[3]  # no tie: the three are well defined
    captions = re.findall(r"<figcaption>#(\d+), a (\d)</figcaption>", view)
    assert captions == [(str(served.test_indices[i]), str(served.labels[i])) for i in nearest]
    assert re.findall(r"([\d.]+) away", view) == [f"{distance[i]:.1f}" for i in nearest]
    images = pictures(view)  # the decoded point, then the three digits
    assert len(images) == 4 and all(
        np.array_equal(images[1 + k], uint8(served.samples[i])) for k, i in enumerate(nearest)
    )
