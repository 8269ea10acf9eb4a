"""A run a page can follow (dae.training.live): train.py's loop, reported as it goes, on synthetic MNIST."""

import itertools

import pytest
import torch

from dae.architectures import make_model
from dae.data import load_mnist
from dae.training.live import STRIP, TRAIN_DIGITS, LiveSettings, config_of, live_run
from tools.synthetic import write_synthetic_mnist


def test_under_an_epoch_is_the_first_digits_and_whole_epochs_beyond():
    quarter, two = config_of(LiveSettings(digits=15_000)), config_of(LiveSettings(digits=120_000))
    assert (quarter.epochs, quarter.limit) == (1, 15_000)
    assert (two.epochs, two.limit) == (2, None)
    assert config_of(LiveSettings(digits=TRAIN_DIGITS)).epochs == 1


def test_settings_train_py_refuses_are_refused_here_too():
    with pytest.raises(ValueError):
        config_of(LiveSettings(noise="gaussian", strength=None))  # a fixed kind needs its strength
    with pytest.raises(ValueError):
        config_of(LiveSettings(code_size=0))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Every report of a run over 1,600 synthetic training digits (one epoch, 25 steps of 64; the loss is
    looked at every 10 steps, and with report_every 0 each look is a report)."""
    root = write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), 1600, 128)
    data = (*load_mnist(root, train=True), *load_mnist(root, train=False))
    settings = LiveSettings(digits=15_000, code_size=16, data_dir=str(root), threads=1, report_every=0.0)
    return list(live_run(settings, data))


def test_a_run_reports_from_its_start_to_its_end(reports):
    first, last = reports[0], reports[-1]
    assert first["step"] == 0 and first["seen"] == 0 and not first["done"]  # before the first step
    assert last["done"] and sum(r["done"] for r in reports) == 1
    assert last["step"] == last["steps"] == 25 and last["seen"] == 1600  # 1,600 digits, batch 64
    assert [r["step"] for r in reports] == [0, 10, 20, 25]
    assert last["config"]["code_size"] == 16 and last["config"]["noise"] == "blind"


def test_the_reports_weights_are_the_run_s_and_change_as_it_learns(reports):
    model = make_model("dae", {"code_size": 16})
    model.load_state_dict(reports[-1]["state"])  # a whole DAE of that code size: every key, every shape
    start, end = reports[0]["state"], reports[-1]["state"]
    assert not torch.equal(start["l1.weight"], end["l1.weight"])
    assert all(t.device.type == "cpu" for t in end.values())  # picklable across a process boundary


def test_the_strip_holds_noisy_digits_and_their_reconstructions(reports):
    last = reports[-1]
    for key in ("strip_clean", "strip_noisy", "strip_output"):
        assert last[key].dtype == torch.uint8 and tuple(last[key].shape) == (STRIP, 28, 28)
    assert torch.equal(reports[0]["strip_noisy"], last["strip_noisy"])  # the same noisy digits all along
    assert not torch.equal(reports[0]["strip_output"], last["strip_output"])


def test_the_losses_are_recorded_against_the_digits_seen(reports):
    last = reports[-1]
    seen = [x for x, _ in last["train_loss"]]
    assert seen == [640, 1280, 1600]  # every 10 steps of 64, and the last step
    assert all(loss > 0 for _, loss in itertools.chain(last["train_loss"], last["test_loss"]))
    assert last["test_loss"], "a held-out loss after the epoch"


def small_run(root, **settings) -> list[dict]:
    data = (*load_mnist(root, train=True), *load_mnist(root, train=False))
    return list(live_run(LiveSettings(digits=15_000, data_dir=str(root), threads=1, **settings), data))


def test_a_plain_autoencoder_run_never_adds_noise(tiny_mnist, monkeypatch):
    import dae.training.loop as loop

    shown = []
    real = loop.corrupt

    def watched(clean, config, generator):
        out = real(clean, config, generator)
        shown.append(torch.equal(out, clean))
        return out

    monkeypatch.setattr(loop, "corrupt", watched)
    small_run(tiny_mnist, noise="none")
    assert len(shown) >= 8 and all(shown)  # 512 digits, batch 64: every batch (and the test set) clean
    shown.clear()
    small_run(tiny_mnist, noise="gaussian", strength=0.5)
    assert len(shown) >= 8 and not any(shown)


def test_a_2_number_code_run_gives_a_2_number_code_and_its_plane(tiny_mnist):
    last = small_run(tiny_mnist, code_size=2)[-1]
    model = make_model("dae", {"code_size": 2})
    model.load_state_dict(last["state"])
    assert tuple(model.encode(torch.rand(5, 1, 28, 28)).shape) == (5, 2)
    assert last["code_map"] is not None and tuple(last["code_map"]["points"].shape) == (128, 2)


def test_every_report_survives_a_pickle_round_trip(reports):
    """On ZeroGPU the run is a forked process: its reports reach the app pickled."""
    import pickle

    for report in (reports[0], reports[-1]):
        back = pickle.loads(pickle.dumps(report))
        assert back.keys() == report.keys()
        assert all(torch.equal(back["state"][k], v) for k, v in report["state"].items())
        assert back["train_loss"] == report["train_loss"] and back["config"] == report["config"]
    settings = LiveSettings(noise="mask", strength=0.5, code_size=16)
    assert pickle.loads(pickle.dumps(settings)) == settings
