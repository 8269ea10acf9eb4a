"""A run a page can follow (dae.training.live), beyond test_live.py: whole epochs and what each report says
about them, the held-out loss and the strip checked by a second computation, the data read from the files,
closing a run early, and the small helpers (to_bytes, device_name, seconds_for)."""

import math
import tempfile

import pytest
import torch
import torch.nn.functional as F

import dae.training.live as live
from dae.architectures import make_model
from dae.data import load_mnist
from dae.noise import blind_noise
from dae.training.live import (
    HELD_OUT,
    STRIP,
    STRIP_SEED,
    LiveSettings,
    config_of,
    device_name,
    live_run,
    seconds_for,
    to_bytes,
)
from dae.training.loop import TEST_NOISE_SEED
from tools.synthetic import write_synthetic_mnist

N_TRAIN, N_TEST = 200, 1100  # 4 steps of 64 an epoch; more test digits than the HELD_OUT the run scores


@pytest.fixture(autouse=True)
def _threads():
    """A run with threads=1 sets torch's thread count for this process: put it back after each test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), N_TRAIN, N_TEST)


@pytest.fixture(scope="module")
def data(root):
    return (*load_mnist(root, train=True), *load_mnist(root, train=False))


def settings(root, **changes) -> LiveSettings:
    return LiveSettings(**({"code_size": 16, "data_dir": str(root), "threads": 1} | changes))


@pytest.fixture(scope="module")
def two_epochs(root, data):
    """Two whole epochs (120,000 digits asked: two passes over the 200 there are), reported only at the
    start, between the epochs and at the end (report_every far longer than the run)."""
    before = torch.get_num_threads()
    reports = list(live_run(settings(root, digits=120_000, report_every=3600.0), data))
    torch.set_num_threads(before)
    return reports


# ---- config_of -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "digits, epochs, limit",
    [(15_000, 1, 15_000), (59_999, 1, 59_999), (60_000, 1, None), (120_000, 2, None), (600_000, 10, None)],
)
def test_digits_become_the_first_digits_or_whole_epochs(digits, epochs, limit):
    c = config_of(LiveSettings(digits=digits))
    assert (c.epochs, c.limit) == (epochs, limit)


def test_the_settings_reach_the_run_s_config_and_the_rest_is_the_recipe():
    s = LiveSettings(noise="mask", strength=0.4, code_size=64, seed=9, data_dir="d", device="cpu", threads=2)
    c = config_of(s)
    assert (c.noise, c.strength, c.code_size, c.seed, c.data_dir, c.device, c.threads) == (
        "mask",
        0.4,
        64,
        9,
        "d",
        "cpu",
        2,
    )
    assert (c.arch, c.batch_size, c.lr, c.lr_schedule) == ("dae", 64, 1e-3, "constant")  # the specification's
    assert c.out == tempfile.gettempdir()  # nothing is written; the check only needs a folder


@pytest.mark.parametrize(
    "change, message",
    [
        ({"noise": "none", "strength": 0.3}, "--noise none takes no strength"),
        ({"noise": "mask", "strength": 0.95}, "between 0 and 0.9"),
        ({"noise": "speckle", "strength": 0.1}, "choose blind, none or one of"),
        ({"threads": 0}, "--threads must be at least 1"),
        ({"device": "tpu"}, "choose auto, cpu or cuda"),
        ({"code_size": 2000}, "--code-size must be from 1 to 1024"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_train_py_s_words(change, message):
    with pytest.raises(ValueError, match=message):
        config_of(LiveSettings(**change))


# ---- a run of whole epochs -----------------------------------------------------------------------------


def test_whole_epochs_report_at_the_start_between_epochs_and_at_the_end(two_epochs):
    assert [(r["step"], r["seen"], r["done"]) for r in two_epochs] == [
        (0, 0, False),
        (4, 200, False),  # after the first epoch: 4 steps, all 200 digits
        (8, 400, True),
    ]
    assert all(r["steps"] == 8 and r["digits"] == 400 for r in two_epochs)
    assert two_epochs[-1]["config"] == {
        "noise": "blind",
        "strength": None,
        "code_size": 16,
        "epochs": 2,
        "limit": None,
        "seed": 0,
    }


def test_the_losses_are_one_per_look_and_one_held_out_per_report(two_epochs):
    last = two_epochs[-1]
    assert [seen for seen, _ in last["train_loss"]] == [200, 400]  # a look at each epoch's end (4 < 10 steps)
    assert [seen for seen, _ in last["test_loss"]] == [0, 200, 400]
    assert [r["test_loss"] for r in two_epochs[:-1]] == [last["test_loss"][:1], last["test_loss"][:2]]


def test_the_speed_and_the_time_left(two_epochs):
    first, middle, last = two_epochs
    assert first["seconds_left"] is None and first["images_per_second"] == 0  # nothing measured yet
    assert middle["images_per_second"] > 0 and middle["seconds_left"] > 0
    assert last["seconds_left"] == 0 and last["images_per_second"] > 0
    assert first["seconds"] <= middle["seconds"] <= last["seconds"]
    assert last["device"] == "CPU (1 thread)"  # threads=1


def test_the_held_out_loss_is_the_mse_on_the_first_held_out_noisy_test_digits(two_epochs, data):
    """Recomputed here: the test set corrupted once with the loop's seed, its first HELD_OUT digits, each
    report's weights."""
    clean = data[2].unsqueeze(1).float() / 255
    noisy = blind_noise(clean, torch.Generator().manual_seed(TEST_NOISE_SEED))
    clean, noisy = clean[:HELD_OUT], noisy[:HELD_OUT]
    for report, (_, reported) in zip(two_epochs, two_epochs[-1]["test_loss"]):
        model = make_model("dae", {"code_size": 16}).eval()
        model.load_state_dict(report["state"])
        with torch.inference_mode():
            assert reported == pytest.approx(F.mse_loss(model(noisy), clean).item(), rel=1e-5)


def test_the_strip_is_the_first_test_digits_under_the_strip_s_own_noise(two_epochs, data):
    clean = data[2][:STRIP]
    noisy = blind_noise(clean.unsqueeze(1).float() / 255, torch.Generator().manual_seed(STRIP_SEED))
    as_bytes = (noisy.clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8)[:, 0]
    for report in two_epochs:
        assert torch.equal(report["strip_clean"], clean)  # uint8 there and back: exact
        assert torch.equal(report["strip_noisy"], as_bytes)
    last = two_epochs[-1]
    model = make_model("dae", {"code_size": 16}).eval()
    model.load_state_dict(last["state"])
    with torch.inference_mode():
        out = (model(noisy).clamp(0, 1) * 255)[:, 0]
    assert (out - last["strip_output"].float()).abs().max() <= 0.5 + 1e-3  # the report's weights drew it


def test_only_the_last_report_holds_the_code_map_of_every_test_digit(two_epochs, data):
    assert all("code_map" not in r for r in two_epochs[:-1])
    m = two_epochs[-1]["code_map"]
    assert torch.equal(m["labels"].long(), data[3])  # every test digit, in order
    assert tuple(m["points"].shape) == (N_TEST, 2) and tuple(m["directions"].shape) == (2, 16)
    assert 0 < m["explained"] <= 1


def test_the_strip_does_not_depend_on_the_run_s_seed_or_noise(root, data):
    a = next(live_run(settings(root, digits=15_000, seed=1), data))
    b = next(live_run(settings(root, digits=15_000, seed=2, noise="gaussian", strength=0.7), data))
    assert torch.equal(a["strip_noisy"], b["strip_noisy"])  # every run shows the same noisy digits
    assert not torch.equal(a["state"]["l1.weight"], b["state"]["l1.weight"])  # the seed does change the model


def test_without_data_the_run_reads_the_files_and_learns_the_same(root, data):
    given = list(live_run(settings(root, digits=15_000, report_every=3600.0), data))
    read = list(live_run(settings(root, digits=15_000, report_every=3600.0), None))
    assert (
        [(r["step"], r["seen"]) for r in read]
        == [(r["step"], r["seen"]) for r in given]
        == [(0, 0), (4, 200)]
    )
    for k, v in given[-1]["state"].items():
        assert torch.equal(read[-1]["state"][k], v), k


def test_closing_the_run_stops_it_and_its_last_report_holds_what_it_learned(root, data):
    run = live_run(settings(root, digits=120_000, report_every=3600.0), data)
    first, between = next(run), next(run)
    run.close()
    with pytest.raises(StopIteration):
        next(run)
    assert between["step"] == 4 and not between["done"]
    assert not torch.equal(first["state"]["l1.weight"], between["state"]["l1.weight"])


# ---- the helpers ---------------------------------------------------------------------------------------


def test_to_bytes_rounds_to_the_nearest_level_and_clips():
    x = torch.tensor([-0.3, 0.0, 0.5 / 255, 0.49 / 255, 0.5, 1.0, 1.7]).view(1, 1, 1, 7)
    out = to_bytes(x)
    assert out.dtype == torch.uint8 and tuple(out.shape) == (1, 1, 7)
    assert out.flatten().tolist() == [0, 0, 1, 0, 128, 255, 255]  # 0.5 * 255 = 127.5: rounded up


def test_device_name_counts_threads_in_words(monkeypatch):
    monkeypatch.setattr(live.torch, "get_num_threads", lambda: 1)
    assert device_name(torch.device("cpu")) == "CPU (1 thread)"
    monkeypatch.setattr(live.torch, "get_num_threads", lambda: 6)
    assert device_name(torch.device("cpu")) == "CPU (6 threads)"


@pytest.mark.parametrize(
    "digits, speed, seconds",
    [(60_000, 2_000, 30), (15_000, 2_000, 8), (1, 1_000_000, 1), (100, 0, 100), (100, 0.5, 100)],
)
def test_seconds_for_rounds_up_and_never_divides_by_less_than_one(digits, speed, seconds):
    assert seconds_for(digits, speed) == seconds and math.isfinite(seconds)
