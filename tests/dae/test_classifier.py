"""The digit classifier that judges the denoisers: its shape and its checkpoint (its training:
tests/training)."""

import pytest
import safetensors.torch
import torch

from dae.architectures import ARCHITECTURES
from dae.checkpoint import WEIGHTS, CheckpointError, load_model, save_checkpoint
from dae.classifier import CLASSIFIER, Classifier
from dae.model import DAE


def test_shapes_and_size():
    model = Classifier().eval()
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    # by hand: conv 1->16 (144 weights, no bias) + BN (16 + 16); conv 16->32 (4,608) + BN (64);
    # conv 32->64 (18,432) + BN (128); linear 576->128 (73,728 + 128); linear 128->10 (1,280 + 10)
    assert sum(p.numel() for p in model.parameters()) == 176 + 4_672 + 18_560 + 73_856 + 1_290 == 98_554


def test_checkpoint_round_trip_and_size(tmp_path):
    model = Classifier().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that they are seen to be saved
        model.features[1].running_mean.uniform_(-1, 1)
        model.features[1].running_var.uniform_(0.5, 2)
    save_checkpoint(model, tmp_path / "classifier", {})
    loaded, config = load_model(tmp_path / "classifier")
    assert type(loaded) is Classifier and config["arch"] == "classifier" and not loaded.training
    x = torch.rand(8, 1, 28, 28)
    assert torch.equal(model(x), loaded(x))
    assert (tmp_path / "classifier" / WEIGHTS).stat().st_size <= 2 * 10**6
    assert ARCHITECTURES["classifier"] is Classifier and CLASSIFIER == "classifier"


def test_a_damaged_classifier_checkpoint_is_refused(tmp_path):
    folder = tmp_path / "classifier"
    save_checkpoint(Classifier(), folder, {})
    weights = folder / WEIGHTS
    state = safetensors.torch.load_file(weights)
    state["features.1.running_var"][0] = float("nan")
    safetensors.torch.save_file(state, weights)
    with pytest.raises(CheckpointError, match="features.1.running_var holds NaN"):
        load_model(folder)
    safetensors.torch.save_file(
        DAE().state_dict(), weights
    )  # a denoiser's weights under a classifier's config
    with pytest.raises(CheckpointError, match=f"{weights}: does not match the 'classifier' architecture"):
        load_model(folder)
