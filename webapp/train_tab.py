"""The Train tab: a short training run of the DAE in the page, on a GPU when there is one, else on one CPU
core.

A student picks the noise seen in training, the code size, how many training digits and a seed;
the rest is the specification's recipe. The run is dae.training.live.live_run, the same loop as
`python train.py`, wrapped in `@spaces.GPU` (`train_on_device`):

- on a ZeroGPU Space (SPACES_ZERO_GPU set) the `spaces` package runs it on a GPU lent for the
  call, in a process of its own; this process iterates it from a thread;
- anywhere else the decorator does nothing, and the same function runs in a worker process of
  ours, started ahead so that Start answers at once; on a CPU it runs at low priority with one
  thread, so that the live page keeps the other core.

One run at a time: others wait in line, shown their place, and may cancel. A run whose page stops
asking for its progress for STALE seconds (the page was closed) is stopped. When a run ends or is
stopped, its weights become "your model" for that page's session (SessionModels): the Denoise tab
can put it beside the DAE, and the page can download it as a checkpoint folder (a zip that
`python app.py --checkpoint` serves).
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
import traceback
import zipfile
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import spaces
import torch
from torch import nn

from dae.architectures import make_model
from dae.code_map import CodeMap
from dae.data import DataError, download_mnist, have_mnist
from dae.noise import NOISE_KINDS
from dae.training.live import LiveSettings, live_run

from .errors import InputError, shown

CODE_SIZES = (2, 16, 64, 256)
DIGITS = (15_000, 30_000, 60_000, 120_000, 600_000)  # a quarter epoch ... the specification's 10 epochs
DEFAULT_DIGITS = 60_000
NOISES = ("blind", "none", *NOISE_KINDS)
ROOT = Path(__file__).resolve().parents[1]
STALE = 30.0  # seconds without a progress request before a run counts as abandoned
MAX_MODELS = 16  # session models kept at once (the least recently used goes first)
MODEL_TTL = 2 * 3600.0  # seconds an unused session model is kept
MAX_LINE = 32  # runs waiting at once; more are told to come back later
SPEED = {"cpu": 2_000, "cuda": 30_000}  # images/s assumed for an estimate until a run has measured one


def gpu_seconds(settings: LiveSettings, data=None) -> int:
    """The GPU time a run asks ZeroGPU for: its digits at a GPU's pace, and room to start (at most 120 s)."""
    return int(min(120, 20 + settings.digits / SPEED["cuda"]))


@spaces.GPU(duration=gpu_seconds)
def train_on_device(settings: LiveSettings, data=None):
    """The run itself: live_run, on the GPU that ZeroGPU lends for the call (elsewhere, as it is)."""
    yield from live_run(settings, data)


# ---- the settings a page sends -------------------------------------------------------------------------


def parse_settings(value: object, data_dir: str) -> LiveSettings:
    """A page's training settings, checked; InputError with a message for the person who chose them."""
    if not isinstance(value, dict):
        raise InputError("Choose the training settings first.")
    noise = value.get("noise")
    if noise not in NOISES:
        raise InputError(f"Unknown training noise {shown(noise)}: choose one of {', '.join(NOISES)}.")
    strength = None
    if noise in NOISE_KINDS:
        top = NOISE_KINDS[noise].max_strength
        strength = value.get("strength")
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= top:
            raise InputError(
                f"The {noise} strength for training must be a number above 0 and up to {top} "
                f"(got {shown(strength)})."
            )
        strength = float(strength)
    code_size, digits, seed = value.get("code_size"), value.get("digits"), value.get("seed")
    if code_size not in CODE_SIZES or type(code_size) is not int:  # 16.0 would reach the model and fail there
        raise InputError(
            f"The code size must be one of {', '.join(map(str, CODE_SIZES))} (got {shown(code_size)})."
        )
    if digits not in DIGITS or type(digits) is not int:
        raise InputError(
            f"Train on one of {', '.join(f'{d:,}' for d in DIGITS)} digits (got {shown(digits)})."
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise InputError(f"The seed must be a whole number from 0 to {2**31 - 1} (got {shown(seed)}).")
    return LiveSettings(
        noise=noise, strength=strength, code_size=code_size, digits=digits, seed=seed, data_dir=data_dir
    )


# ---- your model ----------------------------------------------------------------------------------------


@dataclass
class SessionModel:
    model: nn.Module
    # what the run was (noise, strength, code size, epochs, limit, seed) and its scores
    config: dict[str, Any]
    code_map: CodeMap | None
    used: float = field(default_factory=time.monotonic)
    served: Any = None  # its served.ServedModel, made when the page first shows it


class SessionModels:
    """At most one trained model per session, MAX_MODELS in all (least recently used out first), none older
    than MODEL_TTL seconds unused."""

    def __init__(self, limit: int = MAX_MODELS, ttl: float = MODEL_TTL) -> None:
        self.limit, self.ttl = limit, ttl
        self.models: OrderedDict[str, SessionModel] = OrderedDict()
        self.lock = threading.Lock()

    def put(self, session: str, model: SessionModel) -> None:
        with self.lock:
            self.models.pop(session, None)
            self.models[session] = model
            self._evict()

    def get(self, session: object) -> SessionModel | None:
        with self.lock:
            self._evict()
            found = self.models.get(session) if isinstance(session, str) else None
            if found is not None:
                found.used = time.monotonic()
                self.models.move_to_end(session)
            return found

    def _evict(self) -> None:
        now = time.monotonic()
        for session in [s for s, m in self.models.items() if now - m.used > self.ttl]:
            del self.models[session]
        while len(self.models) > self.limit:
            self.models.popitem(last=False)


def model_from(report: dict[str, Any]) -> SessionModel:
    """The model a run's report holds (its weights, what it was, its code map when it has one)."""
    config = report["config"]
    model = make_model("dae", {"code_size": config["code_size"]})
    model.load_state_dict(report["state"])
    code_map = None
    if report.get("code_map"):
        m = report["code_map"]
        code_map = CodeMap(
            m["mean"], m["directions"], m["points"], m["labels"], m["explained"], m["distances"]
        )
    return SessionModel(model.eval(), config | {"digits": report["seen"]}, code_map)


def checkpoint_zip(model: SessionModel) -> bytes:
    """The model as a checkpoint folder (model.safetensors and config.json) in a zip, for
    `python app.py --checkpoint`."""
    from safetensors.torch import save as save_tensors

    from dae.checkpoint import FORMAT_VERSION

    config = model.config
    training = {
        "noise": config["noise"],
        "strength": config["strength"],
        "epochs": config["epochs"],
        "limit": config["limit"],
        "seed": config["seed"],
        "code_size": config["code_size"],
        "batch_size": 64,
    }
    meta = {
        "arch": "dae",
        "format_version": FORMAT_VERSION,
        "model": {"code_size": config["code_size"]},
        "training": training,
        "data": {"dataset": "MNIST", "train_images": config["digits"]},
        "made_by": "the app's Train tab",
    }
    state = {k: v.contiguous() for k, v in model.model.state_dict().items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "your-model/model.safetensors", save_tensors(state, metadata={"format": "pt", "arch": "dae"})
        )
        z.writestr("your-model/config.json", json.dumps(meta, indent=2) + "\n")
    return buffer.getvalue()


# ---- the runs ------------------------------------------------------------------------------------------


@dataclass
class Run:
    session: str
    settings: LiveSettings
    state: str = "waiting"  # waiting, downloading, running, done, stopped, failed
    report: dict[str, Any] | None = None
    message: str = ""
    polled: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)

    def stopping(self) -> bool:
        """Stop was pressed, or the page has not asked for its progress for STALE seconds (it was closed)."""
        return self.stop.is_set() or time.monotonic() - self.polled > STALE


class Trainer:
    """Runs the Train tab's runs one at a time (see the module's docstring)."""

    def __init__(
        self, data_dir: str | Path, models: SessionModels, zero_gpu: bool | None = None, judge=None
    ) -> None:
        self.data_dir = str(data_dir)
        self.models = models
        self.judge = judge  # (m, 1, 28, 28) images -> (m, 10) probabilities: reads the strip's digits
        self.zero_gpu = spaces.config.Config.zero_gpu if zero_gpu is None else zero_gpu
        self.line: deque[Run] = deque()  # waiting, in order
        self.runs: dict[str, Run] = {}  # each session's latest run
        self.active: Run | None = None
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.worker: Worker | None = None
        self.speed = SPEED["cuda" if self.zero_gpu or torch.cuda.is_available() else "cpu"]
        threading.Thread(target=self._serve, name="train-runs", daemon=True).start()

    def warm_up(self) -> None:
        """Start the worker process now (the Train tab was opened): Start will answer at once."""
        if not self.zero_gpu:
            with self.lock:
                if self.worker is None:
                    self.worker = Worker(self.data_dir)

    def start(self, session: str, settings: LiveSettings) -> Run:
        with self.lock:
            old = self.runs.get(session)
            if old is not None and old.state in ("waiting", "downloading", "running"):
                return old
            if len(self.line) >= MAX_LINE:
                raise InputError(f"{len(self.line)} runs are waiting already: please try again later.")
            run = Run(session, settings)
            self.runs[session] = run
            self.line.append(run)
            self.wake.notify_all()
            return run

    def stop(self, session: str) -> Run | None:
        with self.lock:
            run = self.runs.get(session)
            if run is not None:
                run.stop.set()
                if run in self.line:  # cancelled while waiting
                    self.line.remove(run)
                    run.state = "stopped"
            return run

    def status(self, session: str) -> dict[str, Any]:
        """What the session's page shows: its run's state, its place in line, the latest report."""
        with self.lock:
            run = self.runs.get(session)
            if run is None:
                return {"state": "idle"}
            run.polled = time.monotonic()
            place = list(self.line).index(run) + 1 if run in self.line else 0
            return {
                "state": run.state,
                "place": place,
                "message": run.message,
                "report": run.report,
                "settings": asdict(run.settings),
            }

    def estimate(self, digits: int) -> float:
        """Seconds a run of `digits` takes here, from the last measured speed."""
        return math.ceil(digits / self.speed)

    def _serve(self) -> None:
        while True:
            with self.lock:
                while not self.line:
                    self.wake.wait()
                run = self.line.popleft()
                self.active = run
            try:
                self._run(run)
            except Exception as e:  # noqa: BLE001 - a failed run is said on its page; the app goes on
                run.state, run.message = "failed", f"The run failed: {type(e).__name__}: {str(e)[:200]}"
                traceback.print_exc()
            finally:
                with self.lock:
                    self.active = None

    def _run(self, run: Run) -> None:
        if not have_mnist(self.data_dir):
            run.state = "downloading"

            def progress(done: int, total: int) -> None:
                run.message = f"Downloading MNIST once: {done / 2**20:.1f} of {total / 2**20:.1f} MB"

            try:
                download_mnist(self.data_dir, progress)
            except DataError as e:
                run.state, run.message = "failed", str(e)
                return
        run.state, run.message = "running", ""
        reports = self._zero_gpu_reports(run) if self.zero_gpu else self._worker_reports(run)
        for report in reports:
            run.report = report
            if report.get("images_per_second"):
                self.speed = report["images_per_second"]
            if run.stopping():
                break
        if run.report is not None and run.report["step"] > 0:
            self.models.put(run.session, model_from(run.report))
        done = run.report is not None and run.report.get("done")
        run.state = "done" if done else "stopped" if run.stopping() else "failed"
        if run.state == "failed" and not run.message:
            run.message = "The run ended without a result."

    def _zero_gpu_reports(self, run: Run):
        """The run on a GPU lent by ZeroGPU; when none is lent (the visitor's daily GPU time is used up, or
        no GPU is free), the same run on this server's CPU, and the page says why."""
        reports = train_on_device(run.settings)
        try:
            first = next(reports)
        except StopIteration:
            return
        except Exception as e:  # noqa: BLE001 - spaces raises gradio's Error for a quota; any failure to start
            reports.close()
            run.message = f"No GPU for this run ({str(e)[:160]}): it trains on the server's CPU instead."
            yield from self._worker_reports(run)
            return
        try:
            yield first
            yield from reports
        finally:
            reports.close()

    def _worker_reports(self, run: Run):
        with self.lock:
            if self.worker is None or not self.worker.alive():
                self.worker = Worker(self.data_dir)
            worker = self.worker
        try:
            yield from worker.run(run.settings, run.stopping)
        finally:
            with self.lock:
                self.worker = Worker(self.data_dir)  # the next run starts in a fresh, already warm process
            worker.close()


class Worker:
    """A process of its own (python -m webapp.train_tab) that runs train_on_device once: started ahead (torch
    imported, MNIST read), then given the settings; its reports come back pickled through a pipe."""

    def __init__(self, data_dir: str) -> None:
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webapp.train_tab", data_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="train-reports").start()

    def _read(self) -> None:
        try:
            while (message := read_message(self.process.stdout)) is not None:
                self.messages.put(message)
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        self.messages.put(None)  # the process has gone

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, settings: LiveSettings, stopping):
        """The run's reports as the worker sends them; `stopping()` true ends it after the step in
        progress."""
        write_message(self.process.stdin, settings)
        stop_sent = None
        while True:
            if stopping() and stop_sent is None:
                write_message(self.process.stdin, "stop")
                stop_sent = time.monotonic()
            if stop_sent is not None and time.monotonic() - stop_sent > 5:
                return  # it did not stop in time: close() ends it
            try:
                message = self.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            if message is None:
                raise RuntimeError("the training process ended unexpectedly")
            if isinstance(message, dict) and message.get("finished"):
                if message.get("error"):
                    raise RuntimeError(message["error"])
                return
            yield message

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def write_message(stream, value: Any) -> None:
    """One pickled value, its length first (plain pickling: torch's own would share memory between the
    processes)."""
    data = pickle.dumps(value)
    try:
        stream.write(struct.pack(">Q", len(data)) + data)
        stream.flush()
    except (BrokenPipeError, OSError):
        pass


def read_message(stream) -> Any:
    """The next value write_message wrote, or None at the end of the stream."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(stream.read(struct.unpack(">Q", head)[0]))


def worker_main(data_dir: str) -> None:
    """The worker process: low priority, one CPU thread; waits for settings, runs, reports, ends."""
    try:
        os.nice(10)
    except (AttributeError, OSError):
        pass
    torch.set_num_threads(1)
    from dae.data import load_mnist

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    data = None
    if have_mnist(data_dir):
        data = (
            *load_mnist(data_dir, train=True, download=False),
            *load_mnist(data_dir, train=False, download=False),
        )
    settings = read_message(requests)
    if settings is None:
        return
    stop = threading.Event()
    threading.Thread(target=lambda: read_message(requests) == "stop" and stop.set(), daemon=True).start()
    try:
        reports = train_on_device(settings, data)
        for report in reports:
            write_message(replies, report)
            if stop.is_set():
                reports.close()
                break
        write_message(replies, {"finished": True})
    except Exception as e:  # noqa: BLE001 - reported to the app, which says it on the page
        write_message(replies, {"finished": True, "error": f"{type(e).__name__}: {str(e)[:300]}"})


def where(trainer: Trainer | None) -> str:
    """Where a run goes, as the Train tab says it."""
    if trainer is None:
        return "nothing: training is off on this server"
    if trainer.zero_gpu:
        return "a GPU lent by the Space for each run (ZeroGPU)"
    if torch.cuda.is_available():
        return f"this machine's GPU ({torch.cuda.get_device_name(0)})"
    return "one core of this server's CPU, at low priority (the live page keeps the others)"


def expected(digits: int, trainer: Trainer) -> str:
    """The page's line on how long a run of `digits` takes here."""
    seconds = trainer.estimate(digits)
    where = "a GPU" if trainer.zero_gpu or torch.cuda.is_available() else "this server's CPU"
    return f"about {seconds:.0f} s on {where}"


def handle(trainer: Trainer, session: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST /dae/train: start, stop, or ask how the session's run is going ("open": the tab was opened)."""
    action = payload.get("action")
    if action == "open":
        trainer.warm_up()
    elif action == "start":
        trainer.start(session, parse_settings(payload.get("settings"), trainer.data_dir))
    elif action == "stop":
        trainer.stop(session)
    elif action != "status":
        raise InputError(f"Unknown training action {shown(action)}: start, stop, status or open.")
    return page_status(trainer, session)


def page_status(trainer: Trainer, session: str) -> dict[str, Any]:
    """What the Train tab shows: the run's state and place, its progress, chart and strip, and the
    estimates."""
    from .captions import SURE, guess_of
    from .pictures import png_data_uri
    from .views.learning import live_loss_svg

    status = trainer.status(session)
    out: dict[str, Any] = {
        "state": status["state"],
        "place": status.get("place", 0),
        "message": status.get("message", ""),
        "estimates": {str(d): expected(d, trainer) for d in DIGITS},
        "has_model": trainer.models.get(session) is not None,
    }
    report = status.get("report")
    if report is not None:
        out["progress"] = {
            k: report[k]
            for k in (
                "step",
                "steps",
                "seen",
                "digits",
                "seconds",
                "images_per_second",
                "seconds_left",
                "device",
                "done",
            )
        }
        out["chart"] = live_loss_svg(report["train_loss"], report["test_loss"], report["digits"])
        out["strip"] = [
            {"noisy": png_data_uri(n.numpy() / 255), "output": png_data_uri(o.numpy() / 255)}
            for n, o in zip(report["strip_noisy"], report["strip_output"])
        ]
        p = None if trainer.judge is None else trainer.judge(report["strip_output"].unsqueeze(1) / 255)
        if p is not None:  # the judge's reading of each reconstruction, as the results show it
            for entry, (confidence, label) in zip(out["strip"], zip(*p.max(1))):
                entry["guess"] = guess_of(int(label), float(confidence))
                entry["unsure"] = float(confidence) < SURE
    return out


if __name__ == "__main__":  # the worker process (Worker starts it)
    worker_main(sys.argv[1])
