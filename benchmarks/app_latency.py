"""Latency of the app's server side, two ways (the browser's view: benchmarks/browser_latency.py).

    python -m benchmarks.app_latency [--handler] [--client] [--repeats N]

- handler: the page's render function as the server calls it (noise, models, classifier, error
  map, metrics, inline PNGs), per kind of request, the kinds alternating. p50/p95 in ms, and the
  cost of each view under the results (the quality curve warm and cold, layer by layer, the code
  space, how it learned), against the plain render.
- client: `/denoise` through gradio_client against a do-nothing endpoint with the same inputs
  and outputs, alternately (A B A B) in one run, and their ratio.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
import torch

from dae.samples import load_samples
from webapp.page import build_demo
from webapp.served import load_served
from webapp.serving import launch


def summary(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms (n={len(ms)})"


def event(demo, api_name: str):
    return next(f for f in demo.fns.values() if f.api_name == api_name)


def bench_handler(repeats: int) -> None:
    """The page's render function as the server calls it, per kind of request (everything it answers).

    The kinds alternate request by request, each round in a new order, so a busy spell of the
    shared machine slows them all alike. The quality curve is timed three ways: warm (a slider
    move: the same digit, kind and seed, the curve from the cache), cold (a new digit and seed
    each time, the curve computed) and on its own (Denoiser.curve + curve_svg on a new digit, no
    render). Its cost is given as the median of the per-round differences to the plain render,
    and as the ratio of the medians.
    """
    import json

    from webapp import denoise_tab
    from webapp.views import VIEWS
    from webapp.views.curve import curve_svg

    served = load_served()
    samples = served.samples

    # as the server calls it: serving.RenderRoute runs demo.render_handler, this partial (webapp.page)
    render = functools.partial(denoise_tab.render, served)
    # a '2' of 120 pointer positions on the 320 x 320 canvas, as the page sends a drawing
    points = [
        [round(160 + 70 * math.sin(math.pi * t), 1), round(60 + 200 * t, 1)] for t in np.linspace(0, 1, 120)
    ]
    drawing = {"kind": "strokes", "side": 320, "strokes": [{"tool": "pen", "width": 22, "points": points}]}
    # name -> request for round i: (source, compare, views, seed); `same` is the digit on screen (a
    # slider move), a new seed (and digit) means a curve not cached yet
    same = lambda i: {"kind": "sample", "index": 42}  # noqa: E731
    fresh = lambda i: {"kind": "sample", "index": i % len(samples)}  # noqa: E731
    cases = {
        "slider move over a sample": lambda i: (same(i), None, [], 0),
        "the same with the quality curve open, warm (slider move)": lambda i: (same(i), None, ["curve"], 0),
        "the same with the quality curve open, cold (new digit)": (
            lambda i: (fresh(i), None, ["curve"], 10**6 + i)
        ),
        "the same with Compare (U-Net too)": lambda i: (same(i), "unet", [], 0),
        "Compare and the quality curve, warm (slider move)": lambda i: (same(i), "unet", ["curve"], 0),
        "Compare and the quality curve, cold (new digit)": (
            lambda i: (fresh(i), "unet", ["curve"], 2 * 10**6 + i)
        ),
        "a new drawing (120 stroke points -> 28 x 28, then the results)": (lambda i: (drawing, None, [], 0)),
        "with layer by layer open": lambda i: (same(i), None, ["layers"], 0),
        "with the code space open": lambda i: (same(i), None, ["latent-map"], 0),
        "with how it learned open": lambda i: (same(i), None, ["learning"], 0),
        "with every view open, warm curve": lambda i: (same(i), None, list(VIEWS), 0),
        "Compare and every view open, warm curve": lambda i: (same(i), "unet", list(VIEWS), 0),
    }
    denoiser, reference = served.denoiser, served.means

    def curve_alone(i: int, names: tuple[str, ...]) -> None:  # what the curve view adds, new digit and seed
        curve_svg(
            denoiser.curve(samples[i % len(samples)], "gaussian", 3 * 10**6 + 2 * i + len(names), names),
            "gaussian",
            0.5,
            reference,
        )

    def request(case, i: int) -> dict:
        source, compare, views, seed = case(i)
        return {
            "source": source,
            "noise": "gaussian",
            "strength": (i % 100) / 100,
            "seed": seed,
            "compare": compare,
            "views": views,
        }

    jobs = {name: (lambda i, case=case: render(request(case, i))) for name, case in cases.items()}
    jobs["curve alone (Denoiser.curve + curve_svg), DAE"] = lambda i: curve_alone(i, ("dae",))
    jobs["curve alone, DAE and U-Net"] = lambda i: curve_alone(i, ("dae", "unet"))
    order, shuffle = list(jobs), random.Random(0).shuffle
    times: dict[str, list[float]] = {name: [] for name in jobs}
    # 10 rounds of warm-up; each round in another order, so no job always follows the same one
    for i in range(-10, repeats):
        shuffle(order)
        for name in order:
            t = time.perf_counter()
            jobs[name](i)
            times[name].append((time.perf_counter() - t) * 1e3)
    times = {name: ms[10:] for name, ms in times.items()}
    for name, ms in times.items():
        print(f"render, {name}: {summary(ms)}" if name in cases else f"{name}: {summary(ms)}", flush=True)
    print(
        "what each view costs, median of per-round differences to the render without it, "
        "and the ratio of the medians:"
    )
    for curve_case, plain_case in (
        ("the same with the quality curve open, warm (slider move)", "slider move over a sample"),
        ("the same with the quality curve open, cold (new digit)", "slider move over a sample"),
        ("Compare and the quality curve, warm (slider move)", "the same with Compare (U-Net too)"),
        ("Compare and the quality curve, cold (new digit)", "the same with Compare (U-Net too)"),
        ("with layer by layer open", "slider move over a sample"),
        ("with the code space open", "slider move over a sample"),
        ("with how it learned open", "slider move over a sample"),
        ("with every view open, warm curve", "slider move over a sample"),
        ("Compare and every view open, warm curve", "the same with Compare (U-Net too)"),
    ):
        extra = statistics.median(a - b for a, b in zip(times[curve_case], times[plain_case]))
        ratio = statistics.median(times[curve_case]) / statistics.median(times[plain_case])
        print(f"  +{extra:.1f} ms, {ratio:.2f}x: {curve_case}")
    for compare in (None, "unet"):  # what the views add to an answer
        answer = denoise_tab.render(
            served,
            {
                "source": {"kind": "sample", "index": 42},
                "noise": "gaussian",
                "strength": 0.5,
                "seed": 0,
                "compare": compare,
                "views": list(VIEWS),
            },
        )
        sizes = ", ".join(f"{name} {len(markup) / 1000:.1f} k" for name, markup in answer["views"].items())
        size = len(json.dumps(answer)) / 1000
        print(f"answer size{' with Compare' if compare else ''}: {size:.0f} k characters; views: {sizes}")
    picture = len(served.models["dae"].map_picture or "") / 1000
    print(f"the code map's picture, sent once with the page: {picture:.0f} k characters")


def bench_client(demo, repeats: int) -> None:
    import gradio as gr
    from gradio_client import Client, handle_file

    denoise = event(demo, "denoise")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digit.png"
        from PIL import Image

        Image.fromarray((load_samples()[0][42] * 255).astype(np.uint8)).save(path)
        canned = denoise.fn(str(path), "gaussian", 0.5, 0)

        def do_nothing(image, noise, strength, seed, model="dae"):
            return canned

        with demo:  # same inputs and outputs as /denoise, no work
            gr.Button(visible=False).click(
                do_nothing,
                denoise.inputs,
                denoise.outputs,
                api_name="do_nothing",
                concurrency_id=denoise.concurrency_id,
            )
        launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
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
        bench_client(build_demo(load_served()), args.repeats)


if __name__ == "__main__":
    main()
