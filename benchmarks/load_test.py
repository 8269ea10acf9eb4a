"""Load test of the app's /denoise API, against a local server only.

    python benchmarks/load_test.py [--clients 50] [--requests 10] [--sequential 2000]

Starts `python app.py` on a free localhost port, then
1. `--clients` concurrent gradio_client clients each send `--requests` requests (varied noise
   kinds, strengths and seeds): successes, failures, p50/p95 latency, requests/s;
2. `--sequential` requests one after another, measuring the server process's resident memory
   (RSS) before and after: the growth should stay under 50 MB.
Every loop is bounded in count; the server is stopped at the end. The test suite runs a small
version of the same code (tests/test_reliability.py).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from PIL import Image  # noqa: E402

KINDS = (("gaussian", 1.0), ("mask", 0.9), ("salt_pepper", 0.5))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(timeout: float = 120.0):
    """`python app.py` on a free loopback port; yields (url, psutil.Process)."""
    port = free_port()
    env = os.environ | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
                client.predict(*request_args(c * requests + r, handle_file(str(image_path))), api_name="/denoise")
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
        "clients": clients, "requests": clients * requests, "successes": len(latencies), "failures": len(failures),
        "failure_examples": failures[:3], "p50_ms": statistics.median(ms) if ms else None,
        "p95_ms": ms[int(0.95 * (len(ms) - 1))] if ms else None, "requests_per_s": len(latencies) / wall, "wall_s": wall,
    }


def sequential_phase(url: str, image_path: Path, process: psutil.Process, count: int, warmup: int = 100) -> dict:
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
    return {"requests": count, "failures": failures, "rss_before_mb": before / 2**20, "rss_after_mb": after / 2**20,
            "rss_growth_mb": (after - before) / 2**20, "requests_per_s": count / (time.perf_counter() - start)}


def run(clients: int, requests: int, sequential: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, app_server() as (url, process):
        image = digit_file(Path(tmp))
        return {"concurrent": concurrent_phase(url, image, clients, requests), "sequential": sequential_phase(url, image, process, sequential)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=10, help="requests per concurrent client")
    p.add_argument("--sequential", type=int, default=2000)
    args = p.parse_args()
    result = run(args.clients, args.requests, args.sequential)
    c, s = result["concurrent"], result["sequential"]
    print(f"concurrent: {c['clients']} clients x {args.requests} requests: {c['successes']} succeeded, {c['failures']} failed; "
          f"p50 {c['p50_ms']:.0f} ms, p95 {c['p95_ms']:.0f} ms, {c['requests_per_s']:.1f} requests/s ({c['wall_s']:.1f} s)")
    for example in c["failure_examples"]:
        print(f"  failure: {example}")
    print(f"sequential: {s['requests']} requests, {s['failures']} failed, {s['requests_per_s']:.1f} requests/s; server RSS "
          f"{s['rss_before_mb']:.0f} MB -> {s['rss_after_mb']:.0f} MB (growth {s['rss_growth_mb']:+.1f} MB)")


if __name__ == "__main__":
    main()
