"""The Train tab (webapp.train_tab): the settings a page sends, the runs (in the worker process, or in a
ZeroGPU call), and the model a run leaves for its page."""

import io
import re
import time
import zipfile
from pathlib import Path

import pytest
import torch

import webapp.train_tab as train_tab
from dae.checkpoint import load_model
from dae.training.live import LiveSettings, live_run
from tools.synthetic import write_synthetic_mnist
from webapp.errors import InputError
from webapp.train_tab import SessionModel, SessionModels, Trainer, checkpoint_zip, handle, parse_settings

GOOD = {"noise": "gaussian", "strength": 0.5, "code_size": 16, "digits": 15_000, "seed": 3}


def test_good_settings_become_the_run_s_settings():
    s = parse_settings(GOOD, "somewhere")
    assert (s.noise, s.strength, s.code_size, s.digits, s.seed, s.data_dir) == (
        "gaussian",
        0.5,
        16,
        15_000,
        3,
        "somewhere",
    )
    assert (
        parse_settings(GOOD | {"noise": "none", "strength": 7}, "d").strength is None
    )  # no noise, no strength


@pytest.mark.parametrize(
    "change, message",
    [
        ({"noise": "speckle"}, "Unknown training noise"),
        ({"strength": 0}, "above 0 and up to 1"),
        ({"noise": "mask", "strength": 0.95}, "above 0 and up to 0.9"),
        ({"strength": True}, "strength for training"),
        ({"code_size": 3}, "code size must be one of 2, 16, 64, 256"),
        ({"code_size": True}, "code size"),
        ({"digits": 1_000_000}, "Train on one of 15,000, 30,000"),
        ({"seed": -1}, "whole number from 0 to 2147483647"),
        ({"seed": 2**31}, "whole number"),
        ({"seed": 1.5}, "whole number"),
    ],
)
def test_each_bad_setting_gets_one_line_saying_what_to_choose(change, message):
    with pytest.raises(InputError, match=message) as e:
        parse_settings(GOOD | change, "d")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("value", [None, [], "settings"])
def test_settings_that_are_not_an_object_are_refused(value):
    with pytest.raises(InputError, match="Choose the training settings"):
        parse_settings(value, "d")


def a_model() -> SessionModel:
    return SessionModel(torch.nn.Linear(1, 1), {}, None)


def test_session_models_keep_the_latest_used_and_forget_the_old(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(train_tab.time, "monotonic", lambda: now[0])
    models = SessionModels(limit=2, ttl=60)
    a, b, c = a_model(), a_model(), a_model()
    models.put("a", a)
    models.put("b", b)
    assert models.get("a") is a  # "a" is now the most recently used
    models.put("c", c)
    assert models.get("b") is None and models.get("a") is a and models.get("c") is c  # "b" went first
    now[0] += 61
    assert models.get("a") is None and models.get("c") is None  # unused for longer than the ttl
    assert models.get(123) is None


def wait_for(trainer: Trainer, session: str, done, limit: float = 180) -> dict:
    deadline = time.monotonic() + limit
    while True:
        status = handle(trainer, session, {"action": "status"})
        if done(status):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), 1600, 256)


def finished(status: dict) -> bool:
    return status["state"] in ("done", "stopped", "failed")


def test_a_run_in_the_worker_leaves_its_page_a_model_that_loads_as_a_checkpoint(mnist, tmp_path):
    trainer = Trainer(mnist, SessionModels(), zero_gpu=False)
    handle(trainer, "page-one", {"action": "open"})  # the worker starts ahead
    first = handle(trainer, "page-one", {"action": "start", "settings": GOOD | {"code_size": 2}})
    assert first["state"] in ("waiting", "running") and not first["has_model"]
    status = wait_for(trainer, "page-one", finished)
    assert status["state"] == "done", status["message"]
    assert status["progress"]["seen"] == 1600 and status["has_model"]
    assert handle(trainer, "page-two", {"action": "status"})["has_model"] is False  # another page has none
    yours = trainer.models.get("page-one")
    with zipfile.ZipFile(io.BytesIO(checkpoint_zip(yours))) as z:
        z.extractall(tmp_path)
    model, config = load_model(tmp_path / "your-model")
    assert config["model"] == {"code_size": 2} and config["training"]["noise"] == "gaussian"
    x = torch.rand(3, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(model(x), yours.model(x))


def test_stop_ends_a_run_and_keeps_what_it_learned(mnist):
    trainer = Trainer(mnist, SessionModels(), zero_gpu=False)
    handle(trainer, "page", {"action": "start", "settings": GOOD | {"digits": 600_000}})  # 375 steps here
    wait_for(trainer, "page", lambda s: s["state"] == "running" and s.get("progress", {}).get("step", 0) > 0)
    handle(trainer, "page", {"action": "stop"})
    status = wait_for(trainer, "page", finished, limit=60)
    assert status["state"] == "stopped" and status["has_model"]
    assert status["progress"]["step"] < status["progress"]["steps"]


def test_one_run_per_page_at_a_time(mnist):
    trainer = Trainer(mnist, SessionModels(), zero_gpu=False)
    run = trainer.start("page", parse_settings(GOOD | {"digits": 600_000}, str(mnist)))
    again = trainer.start("page", parse_settings(GOOD | {"seed": 9}, str(mnist)))
    assert again is run and run.settings.seed == 3  # the page's run goes on; the second Start changes nothing
    other = trainer.start("other", parse_settings(GOOD, str(mnist)))
    assert other is not run
    assert handle(trainer, "other", {"action": "status"})["place"] >= 1  # it waits its turn
    for page in ("page", "other"):
        trainer.stop(page)
        wait_for(trainer, page, finished, limit=60)


def test_an_unknown_action_is_refused():
    trainer = Trainer("unused", SessionModels(), zero_gpu=False)
    with pytest.raises(InputError, match="Unknown training action"):
        handle(trainer, "page", {"action": "delete"})


def test_on_zero_gpu_the_run_is_the_decorated_call(mnist, monkeypatch):
    """Outside a ZeroGPU Space `spaces.GPU` returns the function as it is: the run goes in this process."""
    calls = []

    def on_device(settings: LiveSettings, data=None):
        calls.append(settings)
        yield from live_run(settings, data)

    monkeypatch.setattr(train_tab, "train_on_device", on_device)
    trainer = Trainer(mnist, SessionModels(), zero_gpu=True)
    handle(trainer, "page", {"action": "start", "settings": GOOD})
    status = wait_for(trainer, "page", finished)
    assert status["state"] == "done" and status["has_model"] and len(calls) == 1
    assert "No GPU" not in status["message"]


def test_with_no_gpu_lent_the_run_trains_on_the_cpu_and_says_so(mnist, monkeypatch):
    def no_gpu(settings: LiveSettings, data=None):
        raise RuntimeError("You have exceeded your free GPU quota")
        yield  # a generator, as the decorated function is

    monkeypatch.setattr(train_tab, "train_on_device", no_gpu)
    trainer = Trainer(mnist, SessionModels(), zero_gpu=True)
    handle(trainer, "page", {"action": "start", "settings": GOOD})
    status = wait_for(trainer, "page", finished)
    assert status["state"] == "done" and status["has_model"], status["message"]
    assert "No GPU for this run" in status["message"] and "GPU quota" in status["message"]


def test_the_strip_carries_the_judge_s_reading_of_each_reconstruction(monkeypatch):
    """A hand-made judge: sure of a 3 for the first digit, unsure (30 %) of a 5 for the others."""

    def judge(images):
        p = torch.full((len(images), 10), 0.7 / 9)
        p[:, 5] = 0.3
        p[0] = 0.1 / 9
        p[0, 3] = 0.9
        return p

    trainer = Trainer("unused", SessionModels(), zero_gpu=False, judge=judge)
    strip = torch.zeros(8, 28, 28, dtype=torch.uint8)
    report = {
        "step": 1, "steps": 2, "seen": 64, "digits": 128, "seconds": 1.0, "images_per_second": 64,
        "seconds_left": 1.0, "device": "CPU", "done": False, "train_loss": [(64, 0.1)], "test_loss": [],
        "strip_noisy": strip, "strip_output": strip,
    }  # fmt: skip
    monkeypatch.setattr(trainer, "status", lambda session: {"state": "running", "report": report})
    shown = train_tab.page_status(trainer, "page")["strip"]
    assert (shown[0]["guess"], shown[0]["unsure"]) == ("3 · 90 %", False)
    assert all((s["guess"], s["unsure"]) == ("5? · 30 %", True) for s in shown[1:]) and len(shown) == 8


def test_the_line_of_waiting_runs_is_bounded(monkeypatch):
    monkeypatch.setattr(train_tab, "MAX_LINE", 2)
    trainer = Trainer("unused", SessionModels(), zero_gpu=False)
    with trainer.lock:  # the runner cannot take a run from the line meanwhile
        trainer.line.extend(["a run", "another"])
    with pytest.raises(InputError, match="2 runs are waiting already"):
        trainer.start("page", parse_settings(GOOD, "unused"))


def test_start_is_off_where_training_is_off():
    from dae.noise import NOISE_KINDS
    from webapp.markup import train_html

    def start(on: bool) -> str:
        page = train_html(list(NOISE_KINDS.values()), (2, 256), (15_000,), 15_000, "here", on=on)
        return re.search(r'<button[^>]*id="train-start"[^>]*>', page).group(0)

    assert "disabled" not in start(True) and "disabled data-off" in start(False)
    assert (
        "data-off" in (Path(train_tab.__file__).parent / "static" / "train.js").read_text()
    )  # kept disabled
