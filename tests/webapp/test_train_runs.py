"""The Train tab (webapp.train_tab), beyond test_train_tab.py: more bad settings, the session models' limits,
the checkpoint zip and the worker's messages by hand, and the runs' life (one at a time and the line behind
it, Stop, an abandoned page, a failure, the download first), with the run itself replaced by a scripted fake
so that each state can be reached on purpose; then one real run in the worker process on tiny data.

Every wait polls a condition against a deadline; no sleep is a check."""

from __future__ import annotations

import io
import json
import queue
import threading
import time
import zipfile

import pytest
import torch

import webapp.train_tab as train_tab
from dae.architectures import make_model
from dae.checkpoint import load_model
from dae.code_map import CodeMap
from dae.data import DataError
from dae.training.live import LiveSettings
from tests.support import decoded
from tools.synthetic import write_synthetic_mnist
from webapp.errors import InputError
from webapp.train_tab import (
    CODE_SIZES,
    DIGITS,
    SessionModel,
    SessionModels,
    Trainer,
    checkpoint_zip,
    gpu_seconds,
    handle,
    model_from,
    parse_settings,
    read_message,
    where,
    write_message,
)

GOOD = {"noise": "gaussian", "strength": 0.5, "code_size": 16, "digits": 15_000, "seed": 3}
DEADLINE = 20.0  # seconds any scripted state may take to show (it takes milliseconds)


# ---- the settings a page sends -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"strength": None}, r"The gaussian strength for training .* \(got nothing\)\."),
        ({"strength": "0.5"}, r"must be a number above 0 and up to 1\.0 \(got '0\.5'\)"),
        ({"strength": float("nan")}, r"got nan"),
        ({"strength": float("inf")}, r"got inf"),
        ({"strength": 1.01}, r"up to 1\.0 \(got 1\.01\)"),
        ({"noise": "salt_pepper", "strength": 0.6}, r"The salt_pepper strength .* up to 0\.5"),
        ({"noise": None}, r"Unknown training noise nothing: choose one of blind, none, gaussian"),
        ({"code_size": 16.0}, r"The code size must be one of 2, 16, 64, 256 \(got 16\.0\)"),
        ({"code_size": "16"}, r"code size"),
        ({"digits": 15_000.0}, r"Train on one of 15,000, 30,000, 60,000, 120,000, 600,000 digits"),
        ({"digits": None}, r"\(got nothing\)"),
        ({"seed": "3"}, r"The seed must be a whole number"),
        ({"seed": 3.0}, r"The seed must be a whole number"),
    ],
)
def test_each_bad_setting_is_one_line_naming_it_and_what_to_choose(change, message):
    with pytest.raises(InputError, match=message) as e:
        parse_settings(GOOD | change, "d")
    assert "\n" not in str(e.value) and str(e.value).endswith(".")


def test_the_first_bad_setting_is_the_one_named():
    with pytest.raises(InputError, match="code size"):
        parse_settings(GOOD | {"code_size": 5, "digits": 7, "seed": -1}, "d")


def test_settings_at_their_limits_are_taken_and_whole_numbers_stay_whole():
    top = parse_settings(GOOD | {"noise": "mask", "strength": 0.9, "seed": 2**31 - 1, "digits": 600_000}, "d")
    assert (top.strength, top.seed, top.digits) == (0.9, 2**31 - 1, 600_000)
    one = parse_settings(GOOD | {"strength": 1}, "d")
    assert one.strength == 1.0 and isinstance(one.strength, float)
    for size in CODE_SIZES:
        s = parse_settings(GOOD | {"code_size": size}, "d")
        assert type(s.code_size) is int and type(s.digits) is int and type(s.seed) is int


def test_blind_and_none_take_no_strength_whatever_is_sent():
    for noise in ("blind", "none"):
        assert parse_settings(GOOD | {"noise": noise, "strength": "anything"}, "d").strength is None


# ---- your model ----------------------------------------------------------------------------------------


def a_model(used: float | None = None) -> SessionModel:
    """A stand-in model, made now, or at time `used` of a test's own clock (SessionModel's default clock is
    time.monotonic itself, which a test's patch of train_tab.time does not reach)."""
    model = SessionModel(torch.nn.Linear(1, 1), {}, None)
    if used is not None:
        model.used = used
    return model


def test_putting_a_session_s_model_again_replaces_it(monkeypatch):
    models = SessionModels(limit=2, ttl=60)
    a1, a2, b = a_model(), a_model(), a_model()
    models.put("a", a1)
    models.put("b", b)
    models.put("a", a2)  # the same page trained again: one model, the new one, and no one else pushed out
    assert models.get("a") is a2 and models.get("b") is b and len(models.models) == 2


def test_using_a_model_keeps_it_past_its_first_ttl(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(train_tab.time, "monotonic", lambda: now[0])
    models = SessionModels(limit=4, ttl=60)
    models.put("kept", a_model(now[0]))
    models.put("left", a_model(now[0]))
    for _ in range(3):  # 150 s in all, each get within the ttl of the one before
        now[0] += 50
        assert models.get("kept") is not None
    assert models.get("left") is None  # unused for 150 s
    models.put("new", a_model(now[0]))
    now[0] += 61
    models.put("newer", a_model(now[0]))  # a put forgets the expired too
    assert list(models.models) == ["newer"]


def test_the_least_recently_used_goes_first(monkeypatch):
    models = SessionModels(limit=3, ttl=3600)
    for name in "abc":
        models.put(name, a_model())
    models.get("a")
    models.get("b")
    models.put("d", a_model())  # "c" was used least recently
    assert sorted(models.models) == ["a", "b", "d"]
    one = SessionModels(limit=1)
    one.put("x", a_model())
    one.put("y", a_model())
    assert list(one.models) == ["y"]


def dae_report(code_size: int = 16, seen: int = 1234, with_map: bool = False) -> dict:
    torch.manual_seed(5)
    state = make_model("dae", {"code_size": code_size}).state_dict()
    report = {
        "seen": seen,
        "state": state,
        "config": {
            "noise": "mask",
            "strength": 0.4,
            "code_size": code_size,
            "epochs": 1,
            "limit": 15_000,
            "seed": 8,
        },
    }
    if with_map:
        report["code_map"] = {
            "mean": torch.zeros(code_size),
            "directions": torch.eye(2, code_size),
            "points": torch.zeros(5, 2),
            "labels": torch.arange(5),
            "explained": 0.5,
            "distances": {"same": 1.0, "different": 2.0},
        }
    return report


def test_a_report_becomes_a_model_with_its_weights_its_settings_and_the_digits_it_saw():
    report = dae_report()
    m = model_from(report)
    assert all(torch.equal(m.model.state_dict()[k], v) for k, v in report["state"].items())
    assert not m.model.training and m.code_map is None
    assert m.config == report["config"] | {"digits": 1234}
    mapped = model_from(dae_report(code_size=2, with_map=True))
    assert isinstance(mapped.code_map, CodeMap) and mapped.code_map.exact and mapped.code_map.explained == 0.5


def test_the_checkpoint_zip_is_one_folder_that_loads_as_the_same_model(tmp_path):
    yours = model_from(dae_report(code_size=64, seen=15_000))
    with zipfile.ZipFile(io.BytesIO(checkpoint_zip(yours))) as z:
        assert sorted(z.namelist()) == ["your-model/config.json", "your-model/model.safetensors"]
        meta = json.loads(z.read("your-model/config.json"))
        z.extractall(tmp_path)
    assert meta["arch"] == "dae" and meta["model"] == {"code_size": 64}
    assert meta["training"] == {
        "noise": "mask",
        "strength": 0.4,
        "epochs": 1,
        "limit": 15_000,
        "seed": 8,
        "code_size": 64,
        "batch_size": 64,
    }
    assert meta["data"] == {"dataset": "MNIST", "train_images": 15_000}
    model, _ = load_model(tmp_path / "your-model")
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert torch.equal(model(x), yours.model(x))


# ---- the worker's messages, the GPU time asked, where runs go ------------------------------------------


def test_messages_go_through_a_stream_one_after_another_and_end_cleanly():
    stream = io.BytesIO()
    values = [LiveSettings(noise="none", digits=30_000), "stop", {"finished": True, "t": torch.arange(3)}]
    for v in values:
        write_message(stream, v)
    stream.seek(0)
    back = [read_message(stream) for _ in values]
    assert back[0] == values[0] and back[1] == "stop" and torch.equal(back[2]["t"], torch.arange(3))
    assert read_message(stream) is None  # the end
    assert read_message(io.BytesIO(b"\x00\x00\x00")) is None  # a head cut short: the other side has gone


def test_a_message_to_a_closed_pipe_is_dropped_quietly():
    class Closed:
        def write(self, data):
            raise BrokenPipeError

        def flush(self):
            pass

    write_message(Closed(), "stop")  # the worker has gone: nothing to say to it, nothing raised


@pytest.mark.parametrize("digits, seconds", [(15_000, 20), (60_000, 22), (600_000, 40), (6_000_000, 120)])
def test_the_gpu_time_asked_is_the_digits_at_a_gpu_s_pace_plus_room_to_start(digits, seconds):
    assert gpu_seconds(LiveSettings(digits=digits)) == seconds  # 20 s + digits / 30,000 a second, at most 120


def test_where_a_run_goes_when_training_is_off():
    assert where(None) == "nothing: training is off on this server"


# ---- the runs, with a scripted stand-in for the run itself -----------------------------------------------


def fake_report(settings: LiveSettings, step: int, steps: int = 10, done: bool = False) -> dict:
    g = torch.Generator().manual_seed(step)  # its own generator: this runs beside the test, in a thread
    state = {
        k: torch.randn(v.shape, generator=g) * 0.01
        for k, v in make_model("dae", {"code_size": settings.code_size}).state_dict().items()
    }
    return {
        "done": done,
        "step": step,
        "steps": steps,
        "seen": 64 * step,
        "digits": 64 * steps,
        "seconds": 0.1 * step,
        "images_per_second": 640 if step else 0,
        "seconds_left": None,
        "device": "fake",
        "train_loss": [(64 * s, 0.1) for s in range(1, step + 1)],
        "test_loss": [(0, 0.2)],
        "strip_clean": torch.zeros(8, 28, 28, dtype=torch.uint8),
        "strip_noisy": torch.full((8, 28, 28), step, dtype=torch.uint8),
        "strip_output": torch.full((8, 28, 28), 200, dtype=torch.uint8),
        "state": state,
        "config": {"noise": settings.noise, "strength": settings.strength, "code_size": settings.code_size}
        | {"epochs": 1, "limit": settings.digits, "seed": settings.seed},
    }


class Scripted:
    """Stands in for train_on_device (a ZeroGPU trainer runs it in this process). Each call is one run: it
    reports step 0, then follows its orders: "step" (one more report), "flow" (a report every 20 ms until
    closed), "done", "end" (stop without a last report) or "fail" (raise)."""

    def __init__(self):
        self.runs: list[tuple[LiveSettings, queue.Queue]] = []
        self.running = self.most = 0
        self.closed = 0
        self.lock = threading.Lock()

    def __call__(self, settings: LiveSettings, data=None):
        orders: queue.Queue = queue.Queue()
        with self.lock:
            self.runs.append((settings, orders))
        return self._run(settings, orders)

    def _run(self, settings, orders):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            step = 0
            yield fake_report(settings, step)
            while True:
                order = orders.get(timeout=DEADLINE)
                if order == "step":
                    step += 1
                    yield fake_report(settings, step)
                elif order == "flow":
                    while True:
                        step += 1
                        yield fake_report(settings, step, steps=10**6)
                        time.sleep(0.02)
                elif order == "done":
                    yield fake_report(settings, 10, done=True)
                    return
                elif order == "end":
                    return
                elif order == "fail":
                    raise RuntimeError("boom")
        finally:
            with self.lock:
                self.running -= 1
                self.closed += 1

    def order(self, index: int, what: str) -> None:
        wait(lambda: len(self.runs) > index, f"run {index} never started")
        self.runs[index][1].put(what)


def wait(condition, what: str = "", limit: float = DEADLINE):
    deadline = time.monotonic() + limit
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
    return found


def status(trainer, session):
    return handle(trainer, session, {"action": "status"})


def until(trainer, session, state):
    return wait(lambda: (s := status(trainer, session))["state"] == state and s, f"{session} never {state}")


@pytest.fixture
def scripted(monkeypatch):
    fake = Scripted()
    monkeypatch.setattr(train_tab, "train_on_device", fake)
    return fake


@pytest.fixture
def trainer(scripted, tiny_mnist, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("MNIST is there: nothing to download")

    monkeypatch.setattr(train_tab, "download_mnist", no_download)
    return Trainer(tiny_mnist, SessionModels(), zero_gpu=True)


def start(trainer, session, **changes):
    return handle(trainer, session, {"action": "start", "settings": GOOD | changes})


def test_a_page_with_no_run_is_idle_and_has_no_model(trainer):
    s = status(trainer, "nobody")
    assert (s["state"], s["place"], s["message"], s["has_model"]) == ("idle", 0, "", False)
    assert "progress" not in s and sorted(s["estimates"]) == sorted(str(d) for d in DIGITS)


def test_one_run_at_a_time_the_others_wait_in_line_and_may_leave_it(trainer, scripted):
    start(trainer, "first", seed=1)
    until(trainer, "first", "running")
    assert start(trainer, "first", seed=99)["state"] == "running"  # its own run goes on, unchanged
    start(trainer, "second", seed=2)
    start(trainer, "third", seed=3)
    assert (status(trainer, "second")["state"], status(trainer, "second")["place"]) == ("waiting", 1)
    assert status(trainer, "third")["place"] == 2
    assert handle(trainer, "second", {"action": "stop"})["state"] == "stopped"  # left the line: at once
    assert status(trainer, "third")["place"] == 1
    scripted.order(0, "done")
    until(trainer, "first", "done")
    until(trainer, "third", "running")
    scripted.order(1, "done")
    until(trainer, "third", "done")
    assert [s.seed for s, _ in scripted.runs] == [1, 3]  # the second never ran; the first kept its seed
    assert scripted.most == 1  # never two runs at once
    assert status(trainer, "first")["has_model"] and not status(trainer, "second")["has_model"]


def test_a_finished_run_shows_its_progress_chart_and_strip_and_leaves_its_weights(trainer, scripted):
    start(trainer, "page")
    scripted.order(0, "done")
    s = until(trainer, "page", "done")
    assert s["progress"] == {
        "step": 10,
        "steps": 10,
        "seen": 640,
        "digits": 640,
        "seconds": 1.0,
        "images_per_second": 640,
        "seconds_left": None,
        "device": "fake",
        "done": True,
    }
    assert s["chart"].lstrip().startswith("<svg") and len(s["strip"]) == 8
    assert all((decoded(p["noisy"]) == 10).all() and (decoded(p["output"]) == 200).all() for p in s["strip"])
    expected = fake_report(LiveSettings(code_size=16), 10)["state"]
    kept = trainer.models.get("page").model.state_dict()
    assert all(torch.equal(kept[k], v) for k, v in expected.items())
    assert trainer.speed == 640  # the measured speed now gives the estimates
    assert s["estimates"]["60000"] == "about 94 s on a GPU"  # 60,000 / 640 = 93.75, rounded up
    again = start(trainer, "page", seed=4)  # a finished page may train again
    assert again["state"] in ("waiting", "running")
    scripted.order(1, "end")


def test_stop_ends_a_run_after_the_step_in_progress_and_keeps_that_step(trainer, scripted):
    start(trainer, "page")
    scripted.order(0, "step")
    wait(lambda: status(trainer, "page").get("progress", {}).get("step") == 1)
    handle(trainer, "page", {"action": "stop"})
    scripted.order(0, "step")  # the step in progress ends: then the run stops
    s = until(trainer, "page", "stopped")
    assert s["progress"]["step"] == 2 and s["has_model"]
    wait(lambda: scripted.closed == 1, "the run was not closed")


def test_a_run_stopped_before_its_first_step_leaves_no_model(trainer, scripted):
    start(trainer, "early")
    until(trainer, "early", "running")
    handle(trainer, "early", {"action": "stop"})
    scripted.order(0, "end")
    s = until(trainer, "early", "stopped")
    assert s["progress"]["step"] == 0 and not s["has_model"]  # the untrained weights are nobody's model


def test_a_page_that_stops_asking_is_taken_as_closed_and_its_run_stopped(trainer, scripted, monkeypatch):
    monkeypatch.setattr(train_tab, "STALE", 0.3)
    start(trainer, "watched")
    scripted.order(0, "flow")
    end = time.monotonic() + 1.0  # asked about every 10 ms for over three STALE periods: it goes on
    while time.monotonic() < end:
        assert status(trainer, "watched")["state"] == "running"
        time.sleep(0.01)
    handle(trainer, "watched", {"action": "stop"})
    until(trainer, "watched", "stopped")

    start(trainer, "closed")
    scripted.order(1, "flow")
    run = trainer.runs["closed"]
    wait(lambda: run.state == "stopped", "an abandoned run went on")  # read directly: no status call
    assert not run.stop.is_set()  # nobody pressed Stop: the page went quiet


def test_a_run_that_fails_says_why_and_the_next_one_runs(trainer, scripted):
    start(trainer, "unlucky")
    scripted.order(0, "step")
    scripted.order(0, "fail")
    s = until(trainer, "unlucky", "failed")
    assert s["message"] == "The run failed: RuntimeError: boom"
    start(trainer, "next")
    scripted.order(1, "done")
    until(trainer, "next", "done")


def test_a_run_that_ends_without_its_last_report_has_failed(trainer, scripted):
    start(trainer, "page")
    scripted.order(0, "step")
    scripted.order(0, "end")
    assert until(trainer, "page", "failed")["message"] == "The run ended without a result."


def test_without_mnist_the_run_downloads_it_first_and_says_how_far(scripted, tmp_path, monkeypatch):
    release, failing = threading.Event(), [True]

    def download(root, progress):
        progress(2**20, 2**21)
        assert release.wait(DEADLINE)
        if failing[0]:
            raise DataError("MNIST could not be downloaded (no mirror).")
        write_synthetic_mnist(root, 8, 4)

    monkeypatch.setattr(train_tab, "download_mnist", download)
    trainer = Trainer(tmp_path / "data", SessionModels(), zero_gpu=True)
    start(trainer, "page")
    wait(lambda: status(trainer, "page")["message"] == "Downloading MNIST once: 1.0 of 2.0 MB")
    assert status(trainer, "page")["state"] == "downloading"
    release.set()
    assert until(trainer, "page", "failed")["message"] == "MNIST could not be downloaded (no mirror)."
    assert scripted.runs == []  # no data, no run

    failing[0] = False
    start(trainer, "page")
    until(trainer, "page", "running")
    scripted.order(0, "done")
    until(trainer, "page", "done")


def test_handle_refuses_what_it_cannot_do_and_starts_nothing(trainer, scripted):
    with pytest.raises(InputError, match="Unknown training action nothing: start, stop, status or open"):
        handle(trainer, "page", {})
    with pytest.raises(InputError, match="Unknown training action 'Start'"):
        handle(trainer, "page", {"action": "Start"})
    with pytest.raises(InputError, match="Choose the training settings first"):
        handle(trainer, "page", {"action": "start"})
    with pytest.raises(InputError, match="code size"):
        handle(trainer, "page", {"action": "start", "settings": GOOD | {"code_size": 3}})
    assert status(trainer, "page")["state"] == "idle" and scripted.runs == []
    assert handle(trainer, "page", {"action": "stop"})["state"] == "idle"  # nothing to stop: nothing happens
    handle(trainer, "page", {"action": "open"})
    assert trainer.worker is None  # on ZeroGPU no worker process is started ahead


# ---- one real run in the worker process ------------------------------------------------------------------


@pytest.fixture
def real(tmp_path):
    trainer = Trainer(write_synthetic_mnist(tmp_path / "mnist", 200, 64), SessionModels(), zero_gpu=False)
    yield trainer
    if trainer.worker is not None:
        trainer.worker.close()


def test_a_real_run_in_the_worker_goes_from_start_to_done_and_the_next_worker_waits(real):
    handle(real, "page", {"action": "open"})
    first = real.worker
    assert first is not None and first.alive()
    handle(real, "page", {"action": "start", "settings": GOOD | {"code_size": 2}})
    seen = []

    def finished():
        s = status(real, "page")
        if "progress" in s:
            seen.append(s["progress"]["seen"])
        return s["state"] in ("done", "stopped", "failed") and s

    s = wait(finished, "the run did not finish", limit=180)
    assert s["state"] == "done", s["message"]
    assert s["progress"]["seen"] == 200 and s["progress"]["steps"] == 4 and s["has_model"]
    assert seen == sorted(seen) and seen[-1] == 200
    yours = real.models.get("page")
    assert yours.config["code_size"] == 2 and yours.config["digits"] == 200 and yours.code_map is not None
    wait(lambda: real.worker is not first, "no fresh worker")
    assert first.process.poll() is not None  # the used process has ended
    assert real.worker.alive()  # and the next run's is already waiting


def test_settings_the_worker_refuses_fail_the_run_with_its_reason(real):
    real.start("page", LiveSettings(code_size=0, data_dir=real.data_dir))  # past parse_settings: an API bug
    s = wait(lambda: (s := status(real, "page"))["state"] in ("done", "failed") and s, limit=120)
    assert s["state"] == "failed" and "--code-size must be from 1 to 1024" in s["message"]
    assert not s["has_model"]
