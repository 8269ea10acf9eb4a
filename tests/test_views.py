"""The teaching views: layer by layer, the code map, how the model learned (dae.activations, dae.code_map, dae.views, dae.ui).

Expected values come from a second computation: the model's own forward pass, a hand-made PCA, hand-made pixels.
"""

import base64
import io
import json
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import app
from dae import code_map as code_map_module
from dae import ui
from dae.activations import DAE_STAGES, UNET_STAGES, activations
from dae.checkpoint import CheckpointError
from dae.code_map import fit
from dae.samples import load_samples, load_test_indices
from dae.views import MapFrame, diverging_lut, map_frame, mosaic

from .test_inference import request

DAE_DIR = app.CHECKPOINTS["dae"]


def pictures(markup: str) -> list[np.ndarray]:
    """Every inline PNG of some markup, decoded, in order."""
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u)))) for u in re.findall(r'src="data:image/png;base64,([^"]+)"', markup)]


def uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


# ---- dae.activations ---------------------------------------------------------------------------------


def test_each_dae_stage_is_what_the_next_layer_receives(denoiser):
    dae = denoiser.models["dae"]
    x = torch.rand(1, 1, 28, 28)
    a = activations(dae, x, DAE_STAGES)
    shapes = {"conv1": (16, 15, 15), "conv2": (32, 8, 8), "conv3": (64, 4, 4), "l1": (256,), "l2": (64, 4, 4),
              "conv4": (32, 8, 8), "conv5": (16, 16, 16), "conv6": (1, 28, 28)}  # the model's table (conv1: 15 x 15)
    assert {k: tuple(v.shape) for k, v in a.items()} == shapes
    with torch.no_grad():  # the chain again, layer by layer, from each recorded stage
        assert torch.allclose(a["conv2"], F.relu(dae.conv2(a["conv1"][None]))[0], atol=1e-5)
        assert torch.allclose(a["conv3"], F.relu(dae.conv3(a["conv2"][None]))[0], atol=1e-5)
        assert torch.allclose(a["l1"], dae.encode(x)[0], atol=1e-5)  # the code, no activation
        assert torch.allclose(a["l2"], F.relu(dae.l2(a["l1"][None])).view(64, 4, 4), atol=1e-5)
        assert torch.allclose(a["conv4"], F.relu(dae.conv4(a["l2"][None]))[0], atol=1e-5)
        assert torch.allclose(a["conv6"], dae(x)[0], atol=1e-6)  # the output is the reconstruction
    assert all(float(a[s.name].min()) >= 0 for s in DAE_STAGES if s.activation == "relu")
    assert float(a["l1"].min()) < 0  # the code is signed: no ReLU was applied to it
    assert not dae._forward_hooks and not dae.conv1._forward_hooks  # the hooks are gone afterwards


def test_the_unet_correction_plus_the_noisy_input_is_its_output(denoiser):
    unet = denoiser.models["unet"]
    x = torch.rand(1, 1, 28, 28)
    a = activations(unet, x, UNET_STAGES)
    assert tuple(a["enc1"].shape) == (16, 28, 28) and tuple(a["mid"].shape) == (128, 4, 4) and tuple(a["context.l1"].shape) == (256,)
    with torch.no_grad():
        assert torch.allclose((x[0] + a["out"]).clamp(0, 1), unet(x)[0], atol=1e-6)


# ---- dae.views: pictures of the maps ------------------------------------------------------------------


def test_a_mosaic_of_hand_made_maps():
    maps = np.array([[[0, 1], [2, 4]], [[4, 0], [0, 0]], [[1, 1], [1, 1]]], dtype=np.float32)
    picture, lo, hi = mosaic(maps, columns=2)
    assert (lo, hi) == (0, 4) and picture.shape == (5, 5)  # 2 rows and 2 columns of 2 x 2, 1-pixel gaps
    assert picture[:2, :2].tolist() == [[0, 64], [128, 255]]  # one scale: 0 black, the layer's largest value white
    assert picture[:2, 3:].tolist() == [[255, 0], [0, 0]] and picture[3:, :2].tolist() == [[64, 64], [64, 64]]
    assert (picture[2] == 96).all() and (picture[:, 2] == 96).all() and (picture[3:, 3:] == 96).all()  # gaps and the empty cell
    assert mosaic(np.array([[[2, 4]]], dtype=np.float32), columns=1)[0].tolist() == [[128, 255]]  # black is 0, not the smallest value


def test_a_signed_mosaic_is_symmetric_about_white():
    picture, lo, hi = mosaic(np.array([[[-2, 0, 1]]], dtype=np.float32), columns=1, signed=True)
    lut = diverging_lut()
    assert (lo, hi) == (-2, 1) and picture.shape == (1, 3, 3)
    assert picture[0, 0].tolist() == lut[0].tolist() and picture[0, 1].tolist() == lut[128].tolist()  # -max: deepest blue; 0: the middle
    assert picture[0, 2].tolist() == lut[191].tolist()  # +1 of a ±2 scale: three quarters up
    assert lut[0, 2] > lut[0, 0] and lut[255, 0] > lut[255, 2] and lut[128].min() > 240  # blue, red, white


# ---- dae.code_map -------------------------------------------------------------------------------------


def planar_codes(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes that lie on a plane of the 256-D space: mean + 3a·u + b·v, u and v orthonormal."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(256, 2, generator=g, dtype=torch.float64))
    u, v = basis[:, 0], basis[:, 1]
    mean = torch.randn(256, generator=g, dtype=torch.float64)
    a, b = torch.randn(n, 1, generator=g, dtype=torch.float64), torch.randn(n, 1, generator=g, dtype=torch.float64)
    a, b = a - a.mean(), b - b.mean()
    b = b - (a * b).sum() / (a * a).sum() * a  # uncorrelated with a: the principal directions are exactly u and v
    return mean + 3 * a * u + b * v, u, v, mean


def test_pca_of_codes_on_a_plane_finds_the_plane():
    codes, u, v, mean = planar_codes()
    m = fit(codes.float(), torch.arange(len(codes)) % 10)
    assert m.explained == pytest.approx(1.0, abs=1e-5)  # two directions hold all of it
    first, second = m.directions.double()
    assert abs(float(first @ u)) == pytest.approx(1, abs=1e-4) and abs(float(second @ v)) == pytest.approx(1, abs=1e-4)  # larger variance first
    for seed in range(6):  # each direction signed so that its largest loading is positive, whatever the SVD returned
        for codes_ in (planar_codes(seed=seed)[0], -planar_codes(seed=seed)[0]):
            for d in fit(codes_.float(), torch.zeros(len(codes_))).directions:
                assert float(d[d.abs().argmax()]) > 0
    assert torch.allclose(m.mean.double(), codes.mean(0), atol=1e-5)
    assert torch.allclose(m.lift(m.project(codes.float())).double(), codes, atol=1e-4)  # on the plane, lift undoes project
    assert torch.allclose(m.points, m.project(codes.float()), atol=1e-4)


def test_a_code_map_is_kept_beside_its_weights_and_refused_for_others(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"these weights")
    codes, *_ = planar_codes(50)
    code_map_module.save(fit(codes.float(), torch.arange(50) % 10), tmp_path)
    read = code_map_module.load(tmp_path)
    assert read.points.shape == (50, 2) and read.labels.tolist() == [i % 10 for i in range(50)]
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(CheckpointError, match="other weights"):
        code_map_module.load(tmp_path)
    (tmp_path / code_map_module.CODE_MAP).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken")
    with pytest.raises(CheckpointError, match="not a readable code map"):
        code_map_module.load(tmp_path)
    assert code_map_module.load(tmp_path / "elsewhere") is None  # no map: no view, no error


def test_the_committed_code_map_belongs_to_the_committed_dae(denoiser):
    m = denoiser.code_map
    assert m is not None and m.points.shape == (10_000, 2) and 0 < m.explained < 1
    assert torch.allclose(m.directions @ m.directions.T, torch.eye(2), atol=1e-4)  # orthonormal


def test_a_map_frame_puts_positions_on_screen_the_right_way_up():
    frame = MapFrame(x0=-2, x1=2, y0=0, y1=8)
    xy = np.array([[-2, 8], [2, 0], [0, 4], [1, 6]], dtype=np.float64)
    assert frame.to_fraction(xy).tolist() == [[0, 0], [1, 1], [0.5, 0.5], [0.75, 0.25]]  # top left is (x0, y1): larger y higher up
    assert np.allclose(frame.to_position(frame.to_fraction(xy)), xy)
    points = np.random.default_rng(0).normal(size=(1000, 2))
    f = map_frame(points)
    inside = ((f.to_fraction(points) >= 0) & (f.to_fraction(points) <= 1)).all(axis=1)
    assert 0.98 <= inside.mean() < 1  # the middle 99 % per axis, plus a margin; outliers may fall outside


# ---- dae.ui: the views in a Denoise-tab answer --------------------------------------------------------


def test_the_layers_view_shows_every_stage_of_the_noisy_digit(handlers, denoiser):
    r = handlers.render(request({"kind": "sample", "index": 5}, "gaussian", 0.4, 3, views=["layers"]))
    view = r["views"]["layers"]
    shapes = re.findall(r'<span class="dae-shape">([^<]+)</span>', view)
    assert shapes == ["1 × 28 × 28", "16 × 15 × 15", "32 × 8 × 8", "64 × 4 × 4", "256", "64 × 4 × 4", "32 × 8 × 8", "16 × 16 × 16", "1 × 28 × 28"]
    images = pictures(view)
    noisy = denoiser(handlers.samples[5], "gaussian", 0.4, 3).noisy
    assert np.abs(images[0].astype(int) - uint8(noisy / noisy.max())).max() <= 1  # the input: the noisy digit itself
    with torch.no_grad():
        code = denoiser.models["dae"].encode(torch.from_numpy(noisy).view(1, 1, 28, 28))[0].view(16, 16).numpy()
    assert images[4].shape == (16, 16, 3)  # the code: 256 numbers as 16 x 16, in colour
    red, blue = images[4][..., 0].astype(int), images[4][..., 2].astype(int)
    strong = np.abs(code) > 0.2 * np.abs(code).max()
    assert ((red > blue) == (code > 0))[strong].all()  # positive red, negative blue
    compare = handlers.render(request({"kind": "sample", "index": 5}, "gaussian", 0.4, 3, compare=True, views=["layers"]))["views"]["layers"]
    assert len(re.findall(r'<span class="dae-shape">', compare)) == 9 + 1 + len(UNET_STAGES) and "global context code" in compare


def test_the_views_follow_the_slider_and_wait_while_the_pen_moves(handlers):
    wanted = ["layers", "latent-map", "learning"]
    low = handlers.render(request({"kind": "sample", "index": 5}, "mask", 0.1, views=wanted))["views"]
    high = handlers.render(request({"kind": "sample", "index": 5}, "mask", 0.8, views=wanted))["views"]
    assert set(low) == set(high) == set(wanted) and all(low[v] != high[v] for v in wanted)
    assert handlers.render(request({"kind": "sample", "index": 5}, views=wanted) | {"live": True})["views"] == {}
    assert handlers.render(request({"kind": "sample", "index": 5}, views=["nothing", "<script>"]))["views"] == {}


def marks(view: str) -> dict[str, tuple[float, float]]:
    """{"clean" | "noisy": (x, y)} of the map's circles, in fractions of the map."""
    found = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" class="dae-map-(\w+)"/>', view)
    return {kind: (float(x), float(y)) for x, y, kind in found}


def test_the_code_map_marks_the_clean_and_the_noisy_code(handlers, denoiser):
    r = handlers.render(request({"kind": "sample", "index": 11}, "salt_pepper", 0.3, 2, views=["latent-map"]))
    noisy = denoiser(handlers.samples[11], "salt_pepper", 0.3, 2).noisy
    m, frame, dae = denoiser.code_map, handlers.map_frame, denoiser.models["dae"]
    with torch.no_grad():
        codes = dae.encode(torch.from_numpy(np.stack([handlers.samples[11], noisy])).unsqueeze(1)).double()
    xy = ((codes - m.mean.double()) @ m.directions.double().T).numpy()
    expected = np.stack([(xy[:, 0] - frame.x0) / (frame.x1 - frame.x0), (frame.y1 - xy[:, 1]) / (frame.y1 - frame.y0)], axis=1)
    expected = np.clip(expected, 0.01, 0.99)
    got = marks(r["views"]["latent-map"])
    assert np.allclose(got["clean"], expected[0], atol=1e-3) and np.allclose(got["noisy"], expected[1], atol=1e-3)
    moved = float((codes[1] - codes[0]).norm())
    assert f"moved the code by {moved:.2f}" in r["views"]["latent-map"]


def test_a_click_on_the_map_decodes_that_point(handlers, denoiser):
    r = handlers.render(request({"kind": "sample", "index": 11}, views=["latent-map"]) | {"map_at": [0.25, 0.75]})
    view = r["views"]["latent-map"]
    m, frame = denoiser.code_map, handlers.map_frame
    position = torch.tensor([[frame.x0 + 0.25 * (frame.x1 - frame.x0), frame.y1 - 0.75 * (frame.y1 - frame.y0)]])
    code = m.mean + position @ m.directions  # the PCA inverse, by hand
    with torch.no_grad():
        digit = denoiser.models["dae"].decode(code)[0, 0].numpy()
    assert 'id="map-decoded"' in view and "dae-map-pick" in view
    assert np.abs(pictures(view)[0].astype(int) - uint8(digit)).max() <= 1
    for bad in ([2, 0.5], [0.5], ["0.5", 0.5], [float("nan"), 0.5], [True, 0.5], "0.5,0.5"):  # no decode, no error
        view = handlers.render(request({"kind": "sample", "index": 11}, views=["latent-map"]) | {"map_at": bad})["views"]["latent-map"]
        assert 'id="map-decoded"' not in view


def test_how_it_learned_ends_with_the_served_reconstruction(handlers, denoiser):
    r = handlers.render(request({"kind": "sample", "index": 20}, "gaussian", 0.5, 4, views=["learning"]))
    view = r["views"]["learning"]
    titles = re.findall(r'<figure class="dae-figure"><figcaption>([^<]+)</figcaption>', view)
    epochs = denoiser.training["epochs"]
    assert titles == ["untrained", "after 300 steps", "after epoch 1", f"after epoch {epochs} (served)"]
    images = pictures(view)
    expected = denoiser(handlers.samples[20], "gaussian", 0.5, 4).outputs["dae"]
    assert np.array_equal(images[-1], uint8(expected))  # the last weights are the ones the app serves
    assert np.abs(images[0].astype(int) - images[-1].astype(int)).mean() > 20  # the untrained model draws something else
    label = int(handlers.labels[20])  # a clean test digit: the classifier reads the input as its label
    for classes, guess in re.findall(r'<div class="dae-guess([^"]*)">(\d) · ', view):  # a wrong guess is marked, as on the results
        assert (classes == " dae-wrong") == (int(guess) != label)
    assert ' dae-wrong">' in view  # the untrained model does not draw this digit
    steps = [int(s.replace(",", "")) for s in re.findall(r"step ([\d,]+) · ", view)]
    assert steps[:2] == [0, 300] and steps == sorted(steps) and "<polyline" in view


def test_a_link_names_the_views_to_open(handlers):
    out = handlers.from_link(SimpleNamespace(query_params={"sample": "3", "views": "layers,bogus,learning"}))
    assert json.loads(out["linked"])["views"] == ["layers", "learning"]  # known views only, in the link's order
    assert "views" not in json.loads(handlers.from_link(SimpleNamespace(query_params={"views": "<img onerror=x>"}))["linked"])


def test_a_damaged_view_file_turns_only_its_view_off(tmp_path, capsys):
    folder = tmp_path / "dae"
    shutil.copytree(DAE_DIR, folder)
    (folder / "snapshots.safetensors").write_bytes(b"not a safetensors file")
    (folder / "code_map.safetensors").unlink()
    d = app.load_denoiser(folder, None)
    assert d.snapshots == [] and d.training is None and d.code_map is None and "dae" in d.models
    assert 'the "How it learned" view is off' in capsys.readouterr().err
    samples, labels = load_samples()
    h = ui.DemoUI(d, samples, labels, load_test_indices())
    views = h.render(request({"kind": "sample", "index": 0}, views=["layers", "latent-map", "learning"]))["views"]
    assert list(views) == ["layers"]  # the views that still have their data


def test_the_curve_shows_the_test_set_means_of_the_lines_on_screen_only(handlers):
    unet_colour = 'stroke="#f97316"'
    plain = handlers.render(request({"kind": "sample", "index": 4}, views=["curve"]))["views"]["curve"]
    compare = handlers.render(request({"kind": "sample", "index": 4}, compare=True, views=["curve"]))["views"]["curve"]
    assert unet_colour not in plain and "U-Net" not in plain
    assert compare.count(unet_colour) == 3  # the U-Net's PSNR, its probability and its test-set mean
    assert "strength σ" in plain
