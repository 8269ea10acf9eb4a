"""The layer-by-layer view (webapp.views.layers): every stage of the models on the noisy digit, as pictures.

Expected values come from a second computation: the model's own forward pass, hand-made pixels.
"""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dae.checkpoint import load_model
from tests.support import ROOT, pictures, request, uint8
from webapp.denoise_tab import render
from webapp.views.layers import (
    DAE_STAGES,
    UNET_STAGES,
    activations,
    dae_stages,
    diverging_lut,
    mosaic,
    shape_text,
)


def test_each_dae_stage_is_what_the_next_layer_receives(denoiser):
    dae = denoiser.models["dae"]
    x = torch.rand(1, 1, 28, 28)
    a = activations(dae, x, DAE_STAGES)
    shapes = {
        "conv1": (16, 15, 15),
        "conv2": (32, 8, 8),
        "conv3": (64, 4, 4),
        "l1": (256,),
        "l2": (64, 4, 4),
        "conv4": (32, 8, 8),
        "conv5": (16, 16, 16),
        "conv6": (1, 28, 28),
    }  # the model's table (conv1: 15 x 15)
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
    assert (
        tuple(a["enc1"].shape) == (16, 28, 28)
        and tuple(a["mid"].shape) == (128, 4, 4)
        and tuple(a["context.l1"].shape) == (256,)
    )
    with torch.no_grad():
        assert torch.allclose((x[0] + a["out"]).clamp(0, 1), unet(x)[0], atol=1e-6)


def test_a_mosaic_of_hand_made_maps():
    maps = np.array([[[0, 1], [2, 4]], [[4, 0], [0, 0]], [[1, 1], [1, 1]]], dtype=np.float32)
    picture, lo, hi = mosaic(maps, columns=2)
    assert (lo, hi) == (0, 4) and picture.shape == (5, 5)  # 2 rows and 2 columns of 2 x 2, 1-pixel gaps
    assert picture[:2, :2].tolist() == [
        [0, 64],
        [128, 255],
    ]  # one scale: 0 black, the layer's largest value white
    assert picture[:2, 3:].tolist() == [[255, 0], [0, 0]] and picture[3:, :2].tolist() == [[64, 64], [64, 64]]
    assert (
        (picture[2] == 96).all() and (picture[:, 2] == 96).all() and (picture[3:, 3:] == 96).all()
    )  # gaps and the empty cell
    assert mosaic(np.array([[[2, 4]]], dtype=np.float32), columns=1)[0].tolist() == [
        [128, 255]
    ]  # black is 0, not the smallest value


def test_a_signed_mosaic_is_symmetric_about_white():
    picture, lo, hi = mosaic(np.array([[[-2, 0, 1]]], dtype=np.float32), columns=1, signed=True)
    lut = diverging_lut()
    assert (lo, hi) == (-2, 1) and picture.shape == (1, 3, 3)
    assert (
        picture[0, 0].tolist() == lut[0].tolist() and picture[0, 1].tolist() == lut[128].tolist()
    )  # -max: deepest blue; 0: the middle
    assert picture[0, 2].tolist() == lut[191].tolist()  # +1 of a ±2 scale: three quarters up
    assert lut[0, 2] > lut[0, 0] and lut[255, 0] > lut[255, 2] and lut[128].min() > 240  # blue, red, white


def test_shape_text_is_the_tensor_shape_without_the_batch():
    assert shape_text(torch.zeros(16, 15, 15)) == "16 × 15 × 15" and shape_text(torch.zeros(256)) == "256"


def test_the_layers_view_shows_every_stage_of_the_noisy_digit(served, denoiser):
    r = render(served, request({"kind": "sample", "index": 5}, "gaussian", 0.4, 3, views=["layers"]))
    view = r["views"]["layers"]
    shapes = re.findall(r'<span class="dae-shape">([^<]+)</span>', view)
    assert shapes == [
        "1 × 28 × 28",
        "16 × 15 × 15",
        "32 × 8 × 8",
        "64 × 4 × 4",
        "256",
        "64 × 4 × 4",
        "32 × 8 × 8",
        "16 × 16 × 16",
        "1 × 28 × 28",
    ]
    images = pictures(view)
    noisy = denoiser(served.samples[5], "gaussian", 0.4, 3).noisy
    assert (
        np.abs(images[0].astype(int) - uint8(noisy / noisy.max())).max() <= 1
    )  # the input: the noisy digit itself
    with torch.no_grad():
        code = (
            denoiser.models["dae"].encode(torch.from_numpy(noisy).view(1, 1, 28, 28))[0].view(16, 16).numpy()
        )
    assert images[4].shape == (16, 16, 3)  # the code: 256 numbers as 16 x 16, in colour
    red, blue = images[4][..., 0].astype(int), images[4][..., 2].astype(int)
    strong = np.abs(code) > 0.2 * np.abs(code).max()
    assert ((red > blue) == (code > 0))[strong].all()  # positive red, negative blue
    compare = render(
        served, request({"kind": "sample", "index": 5}, "gaussian", 0.4, 3, compare="unet", views=["layers"])
    )["views"]["layers"]
    assert (
        len(re.findall(r'<span class="dae-shape">', compare)) == 9 + 1 + len(UNET_STAGES)
        and "global context code" in compare
    )
    titles = re.findall(r'<h4 class="dae-layers-title">([^<]+)</h4>', compare)
    assert titles == [
        "DAE (the autoencoder): encoder → 256-number code → decoder",
        "U-Net (stronger, for comparison): encoder levels, bottom with global context, decoder levels fed by "
        "the skip paths",
    ]


@pytest.mark.parametrize("name, size, picture", [("dae-code2", 2, (1, 2, 3)), ("dae-code16", 16, (4, 4, 3))])
def test_a_smaller_code_shows_its_own_size(served, denoiser, name, size, picture):
    r = render(
        served, request({"kind": "sample", "index": 5}, "gaussian", 0.4, 3, compare=name, views=["layers"])
    )
    view = r["views"]["layers"]
    blocks = view.split('<h4 class="dae-layers-title">')[1:]
    assert len(blocks) == 2 and blocks[1].startswith(
        f"DAE with a {size}-number code: encoder → {size}-number code"
    )
    shapes = re.findall(r'<span class="dae-shape">([^<]+)</span>', blocks[1])
    assert shapes == [
        "1 × 28 × 28",
        "16 × 15 × 15",
        "32 × 8 × 8",
        "64 × 4 × 4",
        str(size),
        "64 × 4 × 4",
        "32 × 8 × 8",
        "16 × 16 × 16",
        "1 × 28 × 28",
    ]
    assert f"Linear(1024, {size}), no activation" in blocks[1] and f"Linear({size}, 1024) + ReLU" in blocks[1]
    assert f"squeezed into {size} numbers" in blocks[1] and "Linear(1024, 256)" in blocks[0]
    noisy = denoiser(served.samples[5], "gaussian", 0.4, 3).noisy
    model = load_model(ROOT / "checkpoints" / name)[0].eval()
    with torch.no_grad():
        code = model.encode(torch.from_numpy(noisy).view(1, 1, 28, 28))[0].numpy()
        output = model(torch.from_numpy(noisy).view(1, 1, 28, 28))[0, 0].numpy()
    images = pictures(blocks[1])
    assert images[4].shape == picture  # the code: 2 numbers as a row of two, 16 as 4 x 4, in colour
    red, blue = images[4][..., 0].astype(int).ravel(), images[4][..., 2].astype(int).ravel()
    strong = np.abs(code) > 0.2 * np.abs(code).max()
    assert ((red > blue) == (code > 0))[strong].all()  # positive red, negative blue, in the code's order
    assert np.abs(images[8].astype(int) - uint8(output / output.max())).max() <= 1  # its own reconstruction


def test_dae_stages_keep_the_specified_dae_and_change_only_the_code_for_another_size():
    assert dae_stages(256) == DAE_STAGES
    for size in (2, 16):
        stages = dae_stages(size)
        assert [s.name for s in stages] == [s.name for s in DAE_STAGES]
        changed = [s.name for s, d in zip(stages, DAE_STAGES) if s != d]
        assert changed == ["l1", "l2"]
        assert (
            stages[3].definition == f"Linear(1024, {size}), no activation" and stages[3].activation == "none"
        )
        assert stages[4].definition == f"Linear({size}, 1024) + ReLU, reshaped to 64 × 4 × 4"
        assert stages[4].activation == "relu"
