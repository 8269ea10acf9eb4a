"""Latency of the app's server side, two ways (the browser's view: benchmarks/browser_latency.py).

    python -m benchmarks.app_latency [--handler] [--client] [--repeats N]

- handler: the page's render function as the server calls it (noise, models, classifier, error
  map, metrics, inline PNGs), per kind of request. p50/p95 in ms.
- client: `/denoise` through gradio_client against a do-nothing endpoint with the same inputs
  and outputs, alternately (A B A B) in one run, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
import torch

import app
from dae.samples import load_samples


def summary(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms (n={len(ms)})"


def event(demo, name: str):
    return next(f for f in demo.fns.values() if f.name == name)


def bench_handler(repeats: int) -> None:
    """The page's render function as the server calls it, per kind of request (everything it answers, inline)."""
    import base64
    import io

    from PIL import Image

    from dae import ui
    from dae.samples import load_test_indices

    samples, labels = load_samples()
    render = app.Busy(ui.DemoUI(app.load_denoiser(), samples, labels, load_test_indices()).render)
    layer = np.zeros((320, 320, 4), dtype=np.uint8)
    layer[60:260, 150:180] = (37, 99, 235, 255)
    png = io.BytesIO()
    Image.fromarray(layer).save(png, format="png")
    drawing = {"kind": "drawing", "png": "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()}
    cases = {
        "slider move over a sample": ({"kind": "sample", "index": 42}, False, []),
        "the same with Compare (U-Net too)": ({"kind": "sample", "index": 42}, True, []),
        "the same with the quality curve open": ({"kind": "sample", "index": 42}, False, ["curve"]),
        "a new drawing (320 x 320 canvas PNG -> 28 x 28, then the results)": (drawing, False, []),
    }
    for name, (source, compare, views) in cases.items():
        def request(i, source=source, compare=compare, views=views):
            return {"source": source, "noise": "gaussian", "strength": (i % 100) / 100, "seed": i, "compare": compare, "views": views}
        for i in range(10):
            render(request(i))
        times = []
        for i in range(repeats):
            t = time.perf_counter()
            render(request(i))
            times.append((time.perf_counter() - t) * 1e3)
        print(f"render, {name}: {summary(times)}", flush=True)


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--handler", action="store_true")
    p.add_argument("--client", action="store_true")
    p.add_argument("--repeats", type=int, default=100)
    args = p.parse_args()
    every = not (args.handler or args.client)
    torch.set_num_threads(1)  # as app.py serves
    print(f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, 1 thread (as app.py)")
    if args.handler or every:
        bench_handler(args.repeats)
    if args.client or every:
        bench_client(app.build_demo(app.load_denoiser()), args.repeats)


if __name__ == "__main__":
    main()
