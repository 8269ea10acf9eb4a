"""What the app serves (webapp.served.load_served): the committed checkpoints, and what a damaged or missing
file turns off (only what needs it, with a warning) or refuses (a broken DAE)."""

import shutil

import pytest
import torch

from dae.checkpoint import CheckpointError, load_model
from dae.samples import load_samples
from tests.support import request
from webapp.denoise_tab import render
from webapp.served import CHECKPOINTS, load_served


def test_the_committed_checkpoints_load(served):
    """Loaded strictly (load_served would only warn about a broken U-Net and serve without it)."""
    x = torch.from_numpy(load_samples()[0][:4]).unsqueeze(1)
    for name in ("dae", "unet"):
        model, config = load_model(CHECKPOINTS[name])
        with torch.inference_mode():
            y = model.eval()(x)
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1, name
        assert ((y - x) ** 2).mean() < 0.02, name  # trained: a clean digit comes back close to itself
    assert set(served.denoiser.models) == {"dae", "unet"} and served.denoiser.classifier is not None
    assert served.code_map is not None and served.map_picture.startswith("data:image/png;base64,")
    assert served.snapshots and served.training is not None and served.means


def test_a_broken_comparison_checkpoint_only_disables_the_comparison(tmp_path, capsys):
    broken = tmp_path / "unet"
    broken.mkdir()
    (broken / "config.json").write_text('{"arch": "unet"}')
    (broken / "model.safetensors").write_bytes(b"garbage")
    served = load_served(compare=broken)
    assert list(served.denoiser.models) == ["dae"]
    assert "comparison model is off" in capsys.readouterr().err


def test_a_broken_classifier_only_turns_the_guesses_off(tmp_path, capsys):
    broken = tmp_path / "classifier"
    broken.mkdir()
    (broken / "config.json").write_text('{"arch": "classifier"}')
    (broken / "model.safetensors").write_bytes(b"garbage")
    served = load_served(classifier=broken)
    assert served.denoiser.classifier is None and "the digit classifier is off" in capsys.readouterr().err
    r = render(served, request({"kind": "sample", "index": 0}))
    assert "recon" in r["images"] and r["guesses"]["clean"] == ""


def test_a_broken_dae_is_fatal(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_served(tmp_path / "none")


def test_a_damaged_view_file_turns_only_its_view_off(tmp_path, capsys):
    folder = tmp_path / "dae"
    shutil.copytree(CHECKPOINTS["dae"], folder)
    (folder / "snapshots.safetensors").write_bytes(b"not a safetensors file")
    (folder / "code_map.safetensors").unlink()
    served = load_served(folder, None)
    assert served.snapshots == [] and served.training is None and served.code_map is None
    assert "dae" in served.denoiser.models
    assert 'the "How it learned" view is off' in capsys.readouterr().err
    views = render(
        served, request({"kind": "sample", "index": 0}, views=["layers", "latent-map", "learning"])
    )
    assert list(views["views"]) == ["layers"]  # the views that still have their data
