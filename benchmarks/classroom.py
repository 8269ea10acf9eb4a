"""A class on one server: N simulated students drawing at once, against `python app.py` on loopback.

    python -m benchmarks.classroom --students 1 10 30 [--seconds 30]

Each student is one page, and does what a student drawing digits does, in a loop:
  1. draws for 2 s: a live `render` request (POST /dae/render, live: true) with the drawing as it
     grows (a stroke's pointer positions, as the page sends them), the next one sent as soon as the
     previous answer arrives (one in flight, as the page does); an answer saying "busy" is asked
     again after the `wait` it names;
  2. lifts the pen, as the page does: the whole drawing's results (a live request marked final,
     served in a final turn; the time from sending it to its answer is the pen-up latency), then
     the request with the quality curve open (live: false: the views follow; its time from the
     pen-up is "views follow"). With
     --server-function (the earlier page) the pen-up is one request, live: false, with the curve;
  3. pauses 1 s.
Students start at random moments within the first 3 s. All of them run as coroutines of one
process on the same machine as the server (a load generator in the same run, as a class's
laptops are not, so the figures are a lower bound for the server).

Printed per run: live updates per second per student while drawing (median, worst tenth),
pen-up latency (median, p90), the views following it (median), failures (an HTTP error, a timeout
or an answer without the results), the server's RSS before, at its peak and 30 s after the phase,
and the CPU time the generator and the server used.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import math
import random
import statistics
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image, ImageDraw

from tools.loadgen import ROOT, app_server

DRAW_SECONDS, PAUSE_SECONDS = 2.0, 1.0


def stroke_frames(count: int = 40, points: int = 120) -> list[dict]:
    """A '2' drawn on the page's 320 x 320 canvas, as the drawing sources of its growing frames: the pen's
    path of `points` pointer positions, `points / count` more in each frame."""
    path = [
        [round(160 + 70 * math.sin(math.pi * t), 1), round(60 + 200 * t, 1)]
        for t in np.linspace(0, 1, points)
    ]
    return [
        {
            "kind": "strokes",
            "side": 320,
            "strokes": [{"tool": "pen", "width": 22, "points": path[: max(1, i * points // count)]}],
        }
        for i in range(1, count + 1)
    ]


def canvas_png(source: dict) -> dict:
    """The same drawing as the earlier page sent it (--server-function): the canvas as a PNG whose alpha is
    the ink."""
    side = source["side"]
    image = Image.new(
        "RGBA", (2 * side, 2 * side), (0, 0, 0, 0)
    )  # drawn twice as large and scaled down: soft edges
    for stroke in source["strokes"]:
        xy = [(2 * x, 2 * y) for x, y in stroke["points"]]
        ImageDraw.Draw(image).line(
            xy * (2 if len(xy) == 1 else 1), fill=(37, 99, 235, 255), width=2 * stroke["width"], joint="curve"
        )
    buffer = io.BytesIO()
    image.resize((side, side), Image.Resampling.LANCZOS).save(buffer, format="png")
    return {
        "kind": "drawing",
        "png": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
    }


class Student:
    def __init__(
        self, client: httpx.AsyncClient, frames: list[str], seed: int, results_id: int | None = None
    ) -> None:
        self.client, self.frames = client, frames
        self.results_id = (
            results_id  # with --server-function: the component whose server function the page called
        )
        self.session = uuid.uuid4().hex
        self.random = random.Random(seed)
        self.updates, self.drawing_time = 0, 0.0
        self.pen_up: list[float] = []
        self.views_follow: list[float] = []
        self.failures = 0

    async def render(self, source: dict, live: bool, final: bool = False) -> bool:
        """One request, asked again while the server says busy; True when it was answered with results."""
        request = {
            "session": self.session,
            "source": source,
            "noise": "gaussian",
            "strength": 0.5,
            "seed": 0,
            "compare": None,
            "views": [] if live else ["curve"],
            "map_at": None,
            "live": live,
            "final": final,
        }
        for _ in range(1000):
            try:
                if self.results_id is None:
                    response = await self.client.post("dae/render", json=request)
                else:  # the earlier page: a Gradio server function, "busy" asked again after 40 ms
                    body = {
                        "data": request,
                        "component_id": self.results_id,
                        "fn_name": "render",
                        "session_hash": self.session,
                    }
                    response = await self.client.post("gradio_api/component_server/", json=body)
                answer = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                answer = None
            if answer is None:
                self.failures += 1
                return False
            if answer.get("busy"):
                await asyncio.sleep(answer.get("wait", 40) / 1000)
                continue
            if "recon" not in answer.get("images", {}):
                self.failures += 1
                return False
            return True
        self.failures += 1
        return False

    async def run(self, until: float) -> None:
        await asyncio.sleep(self.random.uniform(0, 3))
        while time.monotonic() < until:
            start, frame = time.monotonic(), 0
            while time.monotonic() - start < DRAW_SECONDS:
                source = self.frames[min(frame, len(self.frames) - 1)]
                frame += 1
                if await self.render(source, live=True):
                    self.updates += 1
            self.drawing_time += time.monotonic() - start
            sent = time.perf_counter()
            if self.results_id is not None:  # the earlier page: one final request with the curve
                if await self.render(self.frames[-1], live=False):
                    self.pen_up.append(1000 * (time.perf_counter() - sent))
            # this page: the last frame's results (a live request), then the open views follow
            elif await self.render(self.frames[-1], live=True, final=True):
                self.pen_up.append(1000 * (time.perf_counter() - sent))
                if await self.render(self.frames[-1], live=False):
                    self.views_follow.append(1000 * (time.perf_counter() - sent))
            await asyncio.sleep(PAUSE_SECONDS)


async def phase(
    url: str, students: int, seconds: float, frames: list[str], server_function: bool
) -> list[Student]:
    limits = httpx.Limits(max_connections=students + 4, max_keepalive_connections=students + 4)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as client:
        results_id = None
        if server_function:
            config = (await client.get("config")).json()
            results_id = next(
                c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "results"
            )
            frames = [canvas_png(f) for f in frames]
        crowd = [Student(client, frames, i, results_id) for i in range(students)]
        until = time.monotonic() + seconds
        await asyncio.gather(*(s.run(until) for s in crowd))
    return crowd


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))] if values else float("nan")


def run_class(
    url: str,
    server: psutil.Process,
    students: int,
    seconds: float,
    frames: list[str],
    server_function: bool = False,
) -> dict:
    before = server.memory_info().rss
    peak = [before]
    me = psutil.Process()
    cpu_me, cpu_server = me.cpu_times(), server.cpu_times()

    async def main() -> list[Student]:
        async def watch() -> None:
            while True:
                peak[0] = max(peak[0], server.memory_info().rss)
                await asyncio.sleep(0.2)

        watcher = asyncio.create_task(watch())
        try:
            return await phase(url, students, seconds, frames, server_function)
        finally:
            watcher.cancel()

    crowd = asyncio.run(main())
    used_me = sum(me.cpu_times()[:2]) - sum(cpu_me[:2])
    used_server = sum(server.cpu_times()[:2]) - sum(cpu_server[:2])
    time.sleep(30)
    rates = [s.updates / s.drawing_time for s in crowd if s.drawing_time > 0]
    pen_up = [ms for s in crowd for ms in s.pen_up]
    views = [ms for s in crowd for ms in s.views_follow]
    return {
        "students": students,
        "rate_median": statistics.median(rates),
        "rate_worst_tenth": percentile(rates, 0.1),
        "pen_up_median": statistics.median(pen_up) if pen_up else float("nan"),
        "pen_up_p90": percentile(pen_up, 0.9),
        "pen_ups": len(pen_up),
        "views_median": statistics.median(views) if views else float("nan"),
        "failures": sum(s.failures for s in crowd),
        "rss_mb": (before / 2**20, peak[0] / 2**20, server.memory_info().rss / 2**20),
        "cpu_s": (used_me, used_server),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, nargs="+", default=[1, 10, 30])
    p.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    p.add_argument(
        "--app", type=Path, default=ROOT, help="the checkout whose app.py to serve (default: this one)"
    )
    p.add_argument(
        "--server-function",
        action="store_true",
        help="call render as the earlier page did: a Gradio server function answering busy, asked again "
        "after 40 ms (for an --app checkout of that version)",
    )
    args = p.parse_args(argv)
    frames = stroke_frames()
    size = np.mean([len(json.dumps(f)) for f in frames]) / 1000
    print(f"canvas frames: {len(frames)}, {size:.1f} kB on average as sent")
    with app_server(root=args.app) as (url, server):
        for students in args.students:
            r = run_class(url, server, students, args.seconds, frames, args.server_function)
            before, peak, after = r["rss_mb"]
            print(
                f"{students:3d} students: live updates/s per student median {r['rate_median']:.1f}, "
                f"worst tenth {r['rate_worst_tenth']:.1f}; pen-up median {r['pen_up_median']:.0f} ms, "
                f"p90 {r['pen_up_p90']:.0f} ms ({r['pen_ups']} pen-ups), "
                f"views follow {r['views_median']:.0f} ms; failures {r['failures']}; "
                f"server RSS {before:.0f} -> peak {peak:.0f} -> {after:.0f} MB 30 s later; "
                f"CPU s: generator {r['cpu_s'][0]:.1f}, server {r['cpu_s'][1]:.1f} in {args.seconds:.0f} s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
