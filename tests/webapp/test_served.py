"""What the app serves (webapp.served.load_served): the committed checkpoints, and what a damaged or missing
file turns off (only what needs it, with a warning) or refuses (a broken DAE)."""

import shutil
from types import SimpleNamespace

import pytest
import safetensors.torch
import torch

from dae import calibration
from dae.calibration import Calibrated
from dae.checkpoint import CheckpointError, load_model
from dae.samples import load_samples
from tests.support import request
from webapp.denoise_tab import render
from webapp.links import from_link
from webapp.served import CHECKPOINTS, load_served

LESSONS = ("unet", "plain-ae", "dae-sigma05", "dae-code2", "dae-code16")  # in the order the page offers them


def test_the_committed_checkpoints_load(served):
    """Loaded strictly (load_served would only warn about a broken lesson model and serve without it)."""
    x = torch.from_numpy(load_samples()[0][:4]).unsqueeze(1)
    for name in ("dae", *LESSONS):
        model, config = load_model(CHECKPOINTS / name)
        with torch.inference_mode():
            y = model.eval()(x)
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1, name
        # trained: a clean digit comes back close to itself (2 numbers keep only its rough shape)
        assert ((y - x) ** 2).mean() < (0.06 if name == "dae-code2" else 0.02), name
    assert list(served.models) == list(served.denoiser.models) == ["dae", *LESSONS]
    assert [m.name for m in served.beside()] == list(LESSONS)
    # code sizes as the checkpoints' config.json files give them (the specified DAE: 256; the U-Net: none)
    sizes = {name: m.code_size for name, m in served.models.items()}
    assert sizes == {
        "dae": 256,
        "unet": None,
        "plain-ae": 256,
        "dae-sigma05": 256,
        "dae-code2": 2,
        "dae-code16": 16,
    }
    assert all(m.title and (m.note or m.name == "dae") for m in served.models.values())
    assert isinstance(served.denoiser.classifier, Calibrated)  # checkpoints/classifier holds its calibration
    dae, code2 = served.models["dae"], served.models["dae-code2"]
    assert dae.code_map is not None and dae.map_picture.startswith("data:image/png;base64,")
    assert dae.code_map.code_size == 256 and not dae.code_map.exact and dae.map_frame is not None
    assert (
        code2.code_map.code_size == 2
        and code2.code_map.exact
        and code2.map_picture.startswith("data:image/png")
    )
    assert all(served.models[n].code_map is None for n in ("unet", "plain-ae", "dae-sigma05", "dae-code16"))
    assert served.snapshots and served.training is not None and served.means


def test_a_broken_lesson_checkpoint_only_turns_that_model_off(tmp_path, capsys):
    lessons = tmp_path / "lessons"
    broken = lessons / "unet"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text('{"arch": "unet"}')
    (broken / "model.safetensors").write_bytes(b"garbage")
    shutil.copytree(CHECKPOINTS / "dae-code16", lessons / "dae-code16")
    (lessons / "dae-code2").mkdir()  # an empty folder: a damaged checkpoint too
    served = load_served(lessons=lessons)
    assert list(served.denoiser.models) == list(served.models) == ["dae", "dae-code16"]
    err = capsys.readouterr().err
    assert '"U-Net (stronger, for comparison)" is off' in err and '"DAE with a 2-number code" is off' in err
    r = render(served, request({"kind": "sample", "index": 0}, compare="unet"))
    assert r["compare"] is None and "compare-recon" not in r["images"]  # not served: not offered
    assert (
        render(served, request({"kind": "sample", "index": 0}, compare="dae-code16"))["compare"]
        == "dae-code16"
    )
    assert from_link(served, SimpleNamespace(query_params={"compare": "1"}))["controls"]["compare"] is None


def test_without_lessons_only_the_dae_is_served():
    served = load_served(lessons=None)
    assert list(served.models) == list(served.denoiser.models) == ["dae"] and served.beside() == []


def test_a_broken_classifier_only_turns_the_guesses_off(tmp_path, capsys):
    broken = tmp_path / "classifier"
    broken.mkdir()
    (broken / "config.json").write_text('{"arch": "classifier"}')
    (broken / "model.safetensors").write_bytes(b"garbage")
    served = load_served(lessons=None, classifier=broken)
    assert served.denoiser.classifier is None and "the digit classifier is off" in capsys.readouterr().err
    r = render(served, request({"kind": "sample", "index": 0}))
    assert "recon" in r["images"] and r["guesses"] == {} and r["unsure"] == [] and r["wrong"] == []


@pytest.mark.parametrize("damage", ["garbage", "other weights", "missing"])
def test_a_damaged_calibration_leaves_the_classifier_uncalibrated(tmp_path, capsys, damage):
    folder = tmp_path / "classifier"
    shutil.copytree(CHECKPOINTS / "classifier", folder)
    calibration_file = folder / calibration.CALIBRATION
    if damage == "garbage":
        calibration_file.write_bytes(b"not a safetensors file")
    elif damage == "other weights":  # the classifier retrained since: another checksum
        with safetensors.safe_open(str(folder / "model.safetensors"), "pt") as f:
            metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
        name = sorted(tensors)[-1]
        tensors[name] = tensors[name] + 0.001
        safetensors.torch.save_file(tensors, str(folder / "model.safetensors"), metadata=metadata)
        load_model(folder)  # still a classifier that loads
    else:
        calibration_file.unlink()
    served = load_served(lessons=None, classifier=folder)
    assert served.denoiser.classifier is not None and not isinstance(served.denoiser.classifier, Calibrated)
    err = capsys.readouterr().err
    assert ("calibration is off" in err) == (damage != "missing")
    r = render(served, request({"kind": "sample", "index": 0}))
    assert set(r["guesses"]) == {"clean", "noisy", "recon"}


def test_a_broken_dae_is_fatal(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_served(tmp_path / "none")


def test_a_damaged_view_file_turns_only_its_view_off(tmp_path, capsys):
    folder = tmp_path / "dae"
    shutil.copytree(CHECKPOINTS / "dae", folder)
    (folder / "snapshots.safetensors").write_bytes(b"not a safetensors file")
    (folder / "code_map.safetensors").unlink()
    served = load_served(folder, None)
    assert served.snapshots == [] and served.training is None and served.models["dae"].code_map is None
    assert "dae" in served.denoiser.models
    assert 'the "How it learned" view is off' in capsys.readouterr().err
    views = render(
        served, request({"kind": "sample", "index": 0}, views=["layers", "latent-map", "learning"])
    )
    assert list(views["views"]) == ["layers"]  # the views that still have their data


def test_a_code_map_of_other_weights_turns_only_that_map_off(tmp_path, capsys):
    lessons = tmp_path / "lessons"
    shutil.copytree(CHECKPOINTS / "dae-code2", lessons / "dae-code2")
    shutil.copy(CHECKPOINTS / "dae" / "code_map.safetensors", lessons / "dae-code2")  # the DAE's map
    served = load_served(lessons=lessons)
    assert served.models["dae-code2"].code_map is None and served.models["dae"].code_map is not None
    assert "the code space view of dae-code2 is off" in capsys.readouterr().err
    r = render(served, request({"kind": "sample", "index": 0}, compare="dae-code2", views=["latent-map"]))
    assert list(r["views"]) == ["latent-map/dae"] and "compare-recon" in r["images"]
