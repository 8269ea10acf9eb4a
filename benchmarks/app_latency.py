"""Latency of the app, three ways: the handler alone, through gradio_client, in a real browser.

    python benchmarks/app_latency.py [--handler] [--client] [--browser] [--repeats N]

- handler: the slider's event function as Gradio calls it (noise + model + error map + metrics),
  plus Gradio's own post-processing of its outputs (PNG encoding into the cache), and the
  drawing handler (sketch -> 28 x 28 preprocessing first). p50/p95 in ms.
- client: `/denoise` through gradio_client against a do-nothing endpoint with the same inputs
  and outputs, alternately (A B A B) in one run, and their ratio.
- browser: Debian's chromium driven by Playwright: the time from moving the strength slider to
  the updated reconstruction image being shown, p50/p95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import app  # noqa: E402
from dae.samples import load_samples  # noqa: E402


def summary(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms (n={len(ms)})"


def event(demo, name: str):
    return next(f for f in demo.fns.values() if f.name == name)


def time_event(block_fn, args_for, repeats: int) -> list[float]:
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        outputs = block_fn.fn(*args_for(i))  # {component: value}, as app.keyed hands it to Gradio
        for component, value in outputs.items():
            if value is not None and not isinstance(value, dict):
                component.postprocess(value)  # what Gradio does with a return value: PNG into the cache
        times.append((time.perf_counter() - t) * 1e3)
    return times


def sketch_value(size: int = 320) -> dict:
    layer = np.zeros((size, size, 4), dtype=np.uint8)
    layer[60:260, 150:180] = (37, 99, 235, 255)
    background = np.full((size, size, 4), 255, dtype=np.uint8)
    return {"background": background, "layers": [layer], "composite": background}


def bench_handler(demo, repeats: int) -> None:
    digit = load_samples()[0][42]
    slider = event(demo, "results")  # the function behind the slider (and the seed box)
    for _ in range(20):
        slider.fn(digit, "gaussian", 0.5, 0, False)
    ms = time_event(slider, lambda i: (digit, "gaussian", (i % 100) / 100, i, False), repeats)
    print(f"handler, slider move (noise + model + error map + PNG encoding): {summary(ms)}")
    sketch = event(demo, "drawn")
    value = sketch_value()
    ms = time_event(sketch, lambda i: (value, "mask", 0.5, i, False), repeats)
    print(f"handler, new drawing (320x320 sketch -> 28x28, then the same): {summary(ms)}")


def bench_client(demo, repeats: int) -> None:
    import gradio as gr
    from gradio_client import Client, handle_file

    denoise = event(demo, "denoise_api")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digit.png"
        from PIL import Image

        Image.fromarray((load_samples()[0][42] * 255).astype(np.uint8)).save(path)
        canned = denoise.fn(str(path), "gaussian", 0.5, 0)

        def do_nothing(image, noise, strength, seed, model="dae"):
            return canned

        with demo:  # same inputs and outputs as /denoise, no work
            gr.Button(visible=False).click(do_nothing, denoise.inputs, denoise.outputs, api_name="do_nothing",
                                       concurrency_id=denoise.concurrency_id)
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **app.LAUNCH)
        try:
            client = Client(demo.local_url, verbose=False)
            args = lambda i: (handle_file(str(path)), "gaussian", (i % 100) / 100, i)  # noqa: E731
            for api in ("/denoise", "/do_nothing"):
                for i in range(10):
                    client.predict(*args(i), api_name=api)
            times: dict[str, list[float]] = {"/denoise": [], "/do_nothing": []}
            for i in range(repeats):
                for api in times:
                    t = time.perf_counter()
                    client.predict(*args(i), api_name=api)
                    times[api].append((time.perf_counter() - t) * 1e3)
        finally:
            demo.close()
    for api, ms in times.items():
        print(f"gradio_client {api}: {summary(ms)}")
    ratio = statistics.median(times["/denoise"]) / statistics.median(times["/do_nothing"])
    print(f"ratio /denoise : /do_nothing (p50) = {ratio:.2f}x")


def bench_browser(demo, repeats: int) -> None:
    from playwright.sync_api import sync_playwright

    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **app.LAUNCH)
    times = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            page.goto(demo.local_url, wait_until="load")
            page.get_by_role("tab", name="MNIST samples").click()
            page.locator("#samples button.thumbnail-item").nth(42).click()
            page.wait_for_selector("#recon img")
            slider = page.locator("#strength input[type=range]")
            for i in range(repeats + 5):
                old = page.locator("#recon img").get_attribute("src")
                t = time.perf_counter()
                slider.fill(f"{0.2 + 0.6 * (i % 2) + 0.01 * (i % 7):.2f}")
                page.wait_for_function(
                    "old => { const img = document.querySelector('#recon img'); return img && img.src !== old && img.complete; }",
                    arg=old, timeout=20_000, polling="raf")
                if i >= 5:  # the first few warm the caches
                    times.append((time.perf_counter() - t) * 1e3)
            browser.close()
    finally:
        demo.close()
    print(f"browser, slider move -> new reconstruction shown: {summary(times)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--handler", action="store_true")
    p.add_argument("--client", action="store_true")
    p.add_argument("--browser", action="store_true")
    p.add_argument("--repeats", type=int, default=100)
    args = p.parse_args()
    every = not (args.handler or args.client or args.browser)
    torch.set_num_threads(1)  # as app.py serves
    print(f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, 1 thread (as app.py)")
    if args.handler or every:
        bench_handler(app.build_demo(app.load_denoiser()), max(args.repeats, 300))
    if args.client or every:
        bench_client(app.build_demo(app.load_denoiser()), args.repeats)
    if args.browser or every:
        bench_browser(app.build_demo(app.load_denoiser()), min(args.repeats, 50))


if __name__ == "__main__":
    main()
