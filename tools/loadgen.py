"""Driving a running app as its users do: a local server, gradio_client clients, a page's slider.

The load benchmark (`python -m benchmarks.load_test`) and the end-to-end tests run the same phases
from here: `app_server` starts `python app.py` on a free localhost port and stops it;
`concurrent_phase`, `sequential_phase`, `burst_phase` and `drawing_flood` load it; `PageSession`
and `slider_page` call it as the page does. Every loop is bounded in count or time.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

from dae.noise import NOISE_KINDS

ROOT = Path(__file__).resolve().parents[1]  # the repository: app.py is started from here
KINDS = tuple((k.name, k.max_strength) for k in NOISE_KINDS.values())
QUIET = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}  # the server it starts sends nothing out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_in_process(served=None, **launch_options):
    """The app served from this process on a free loopback port, as `python app.py` builds it; yields its URL.

    `served` defaults to the committed checkpoints (webapp.served.load_served()).
    """
    from webapp.page import build_demo
    from webapp.served import load_served
    from webapp.serving import launch

    demo = build_demo(served if served is not None else load_served())
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **launch_options)
    try:
        yield demo.local_url
    finally:
        demo.close()


@contextmanager
def app_server(timeout: float = 120.0, root: Path = ROOT):
    """`python app.py` of the checkout `root` (this one) on a free loopback port; yields
    (url, psutil.Process)."""
    port = free_port()
    env = os.environ | QUIET | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, str(Path(root) / "app.py")],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("app.py did not start") from None
                time.sleep(0.2)
        yield url, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def digit_file(folder: Path) -> Path:
    from dae.samples import load_samples

    path = folder / "digit.png"
    Image.fromarray((load_samples()[0][42] * 255).astype(np.uint8)).save(path)
    return path


def big_png(folder: Path, side: int) -> Path:
    """A side x side PNG, black with one white bar: a few tens of KB on disk, side² bytes once decoded."""
    a = np.zeros((side, side), dtype=np.uint8)
    a[side // 5 : -side // 5, side // 2 - side // 20 : side // 2 + side // 20] = 255
    path = folder / f"big{side}.png"
    Image.fromarray(a).save(path, optimize=True)
    return path


class PageSession:
    """One browser tab, speaking Gradio's queue protocol the way the page does (join, then read the
    event stream): it reaches the page's own events, which are not in the API."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.http = httpx.Client(base_url=url, timeout=timeout)
        self.session = uuid.uuid4().hex
        self.config = self.http.get("config").json()

    def event(self, elem_id: str, trigger: str) -> int:
        """The fn_index of the event `trigger` ("input", "select", ...) of the component with `elem_id`."""
        ids = [c["id"] for c in self.config["components"] if c.get("props", {}).get("elem_id") == elem_id]
        for dep in self.config["dependencies"]:
            if any(target == [ids[0], trigger] for target in dep["targets"]):
                return dep["id"]
        raise KeyError(f"no {trigger} event on #{elem_id}")

    def inputs(self, fn_index: int) -> int:
        return len(next(dep for dep in self.config["dependencies"] if dep["id"] == fn_index)["inputs"])

    def join(self, fn_index: int, data: list, event_data: dict | None = None) -> httpx.Response:
        """Put one event in the queue; the response says whether the queue took it (200) or is full (503)."""
        body = {
            "data": data,
            "fn_index": fn_index,
            "session_hash": self.session,
            "event_data": event_data,
            "trigger_id": None,
        }
        return self.http.post("gradio_api/queue/join", json=body)

    def call(self, fn_index: int, data: list, event_data: dict | None = None) -> dict:
        """Join one event and wait for its result: the process_completed message."""
        joined = self.join(fn_index, data, event_data)
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with self.http.stream(
            "GET", "gradio_api/queue/data", params={"session_hash": self.session}
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                        return message
        raise RuntimeError(f"the event stream ended without the result of event {event_id}")

    def render(self, request: dict) -> httpx.Response:
        """One render call as the page's controller makes it: POST /dae/render with the page's session."""
        return self.http.post("dae/render", json={"session": self.session} | request)

    def close(self) -> None:
        self.http.close()


def slider_page(url: str) -> tuple[PageSession, callable]:
    """A page showing MNIST sample 42; returns it and a function that moves its strength slider once
    (as the page does: one render request, retried while the server answers "busy")."""
    page = PageSession(url)

    def move(i: int) -> None:
        request = {
            "source": {"kind": "sample", "index": 42},
            "noise": "gaussian",
            "strength": round(0.1 + 0.8 * (i % 10) / 10, 2),
            "seed": i,
            "compare": None,
            "views": [],
        }
        for _ in range(1000):
            response = page.render(request)
            response.raise_for_status()
            answer = response.json()
            if not answer.get("busy"):
                if "recon" not in answer.get("images", {}):
                    raise RuntimeError(f"the slider's render failed: {answer.get('status')}")
                return
            time.sleep(answer.get("wait", 40) / 1000)
        raise RuntimeError("the server stayed busy")

    return page, move


def drawing_flood(url: str, clients: int, seconds: float, source: dict) -> dict:
    """`clients` threads each sending drawings to the render function as fast as it answers, for `seconds`."""
    counts = {"answered": 0, "busy": 0, "failed": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        page = PageSession(url)
        request = {
            "source": source,
            "noise": "mask",
            "strength": 0.5,
            "seed": 0,
            "compare": "unet",  # the U-Net beside the DAE: twice the work
            "views": ["curve"],
        }
        try:
            while time.monotonic() < stop:
                try:
                    r = page.render(request)
                    key = (
                        "busy"
                        if r.status_code == 200 and r.json().get("busy")
                        else "answered"
                        if r.status_code == 200
                        else "failed"
                    )
                except httpx.HTTPError:
                    key = "failed"
                with lock:
                    counts[key] += 1
        finally:
            page.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return counts


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t) * 1e3


def burst_phase(
    url: str, process: psutil.Process, folder: Path, uploads: int, side: int, slider_moves: int = 10
) -> dict:
    """`uploads` big pictures at once, the slider moved during them; the server's RSS before, at peak
    and after."""
    from gradio_client import Client, handle_file

    big, small = big_png(folder, side), digit_file(folder)
    page, move = slider_page(url)
    clients = [Client(url, verbose=False) for _ in range(uploads)]
    light = Client(url, verbose=False)

    def small_denoise() -> None:
        light.predict(handle_file(str(small)), "mask", 0.5, 0, api_name="/denoise")

    small_denoise()
    small_quiet_ms = timed(small_denoise)
    for i in range(3):
        move(i)  # warm
    quiet_ms = [timed(move, i) for i in range(slider_moves)]
    time.sleep(1.0)
    rss_before = process.memory_info().rss
    peak, sampling = [rss_before], threading.Event()

    def sample() -> None:
        while not sampling.wait(0.02):
            peak.append(process.memory_info().rss)

    outcomes: list[tuple[float, str | None]] = []
    lock = threading.Lock()

    def upload(client) -> None:
        t = time.perf_counter()
        try:
            client.predict(handle_file(str(big)), "gaussian", 0.3, 0, api_name="/denoise")
            error = None
        except Exception as e:  # noqa: BLE001 - counted and reported
            error = str(e)[:200]
        with lock:
            outcomes.append((time.perf_counter() - t, error))

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    threads = [threading.Thread(target=upload, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the uploads are on their way (or queued) before the slider moves
    small_busy_ms = timed(small_denoise)  # a small picture queues behind the big ones: same slots
    busy_ms = []
    for i in range(slider_moves):
        if all(not t.is_alive() for t in threads):
            break
        busy_ms.append(timed(move, i))
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - start
    time.sleep(3.0)
    sampling.set()
    sampler.join()
    rss_after = process.memory_info().rss
    page.close()
    seconds = sorted(s for s, error in outcomes if error is None)
    return {
        "uploads": uploads,
        "side": side,
        "png_kb": big.stat().st_size / 1024,
        "wall_s": wall,
        "succeeded": len(seconds),
        "errors": [error for _, error in outcomes if error is not None][:3],
        "upload_p50_s": statistics.median(seconds) if seconds else None,
        "upload_max_s": seconds[-1] if seconds else None,
        "rss_before_mb": rss_before / 2**20,
        "rss_peak_mb": max(peak) / 2**20,
        "rss_after_mb": rss_after / 2**20,
        "slider_quiet_ms": statistics.median(quiet_ms),
        "slider_busy_ms": statistics.median(busy_ms) if busy_ms else None,
        "slider_busy_max_ms": max(busy_ms) if busy_ms else None,
        "slider_busy_moves": len(busy_ms),
        "small_quiet_ms": small_quiet_ms,
        "small_busy_ms": small_busy_ms,
    }


def request_args(i: int, image) -> tuple:
    kind, top = KINDS[i % len(KINDS)]
    return image, kind, round(top * ((i * 37) % 100) / 100, 2), i


def concurrent_phase(url: str, image_path: Path, clients: int, requests: int) -> dict:
    from gradio_client import Client, handle_file

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker(c: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as e:  # noqa: BLE001 - a failure to count, not to crash on
            with lock:
                failures.extend([f"connect: {e}"] * requests)
            return
        for r in range(requests):
            t = time.perf_counter()
            try:
                client.predict(
                    *request_args(c * requests + r, handle_file(str(image_path))), api_name="/denoise"
                )
                with lock:
                    latencies.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001
                with lock:
                    failures.append(str(e)[:200])

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - start
    ms = sorted(x * 1e3 for x in latencies)
    return {
        "clients": clients,
        "requests": clients * requests,
        "successes": len(latencies),
        "failures": len(failures),
        "failure_examples": failures[:3],
        "p50_ms": statistics.median(ms) if ms else None,
        "p95_ms": ms[int(0.95 * (len(ms) - 1))] if ms else None,
        "requests_per_s": len(latencies) / wall,
        "wall_s": wall,
    }


def sequential_phase(
    url: str, image_path: Path, process: psutil.Process, count: int, warmup: int = 100
) -> dict:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    failures = 0
    for i in range(warmup):
        client.predict(*request_args(i, handle_file(str(image_path))), api_name="/denoise")
    before = process.memory_info().rss
    start = time.perf_counter()
    for i in range(count):
        try:
            client.predict(*request_args(i, handle_file(str(image_path))), api_name="/denoise")
        except Exception:  # noqa: BLE001
            failures += 1
    after = process.memory_info().rss
    return {
        "requests": count,
        "failures": failures,
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "rss_growth_mb": (after - before) / 2**20,
        "requests_per_s": count / (time.perf_counter() - start),
    }
