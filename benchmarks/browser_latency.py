"""What a person feels in the browser: Chromium (Playwright) against a local `python app.py`.

    python -m benchmarks.browser_latency [--views] [--compare unet]
                                         [--strokes 10] [--delay-ms 150]

Each figure is timed inside the page, from the event to the moment the answer is on screen (the
page's controller announces every answer with the time its request was sent, so an answer to an
older request never counts for a newer event); medians over the tries:
- pen lifted -> the final reconstruction shown;
- one step of the strength slider -> its noisy image and reconstruction shown;
- reconstructions shown per second while a 2 s stroke is being drawn;
then the same through a local TCP proxy that delays every chunk by half of --delay-ms each way
(what a hosted Space's round trip adds). With --views every view under the results is open
(quality against noise, layer by layer, the code space, how it learned), and the time until they
follow (the answer to the request that carries them) is reported too; with --compare MODEL that
model is beside the DAE (two models in every answer). Everything runs on
127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import threading
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from tools.loadgen import app_server, free_port

WAIT_SHOWN = """t0 => new Promise((done) => {
  const on = (e) => {
    if (e.detail.sentAt >= t0) { document.removeEventListener('dae-shown', on); done(e.detail.shownAt - t0); }
  };
  document.addEventListener('dae-shown', on);
})"""


WAIT_BOTH = """t0 => new Promise((done) => {  // [results shown, views shown] for the event at t0
  let shown = null;
  const on = (e) => {
    if (e.detail.sentAt < t0) return;
    if (shown === null) shown = e.detail.shownAt - t0;
    if (!e.detail.live) {
      document.removeEventListener('dae-shown', on);
      done([shown, e.detail.shownAt - t0]);
    }
  };
  document.addEventListener('dae-shown', on);
})"""
VIEWS = ("curve", "layers", "latent-map", "learning")


# One step of the strength slider, as a drag fires it: the value set, then its `input` event.
MOVE_SLIDER = """value => { const s = document.querySelector('#strength');
  s.value = value; s.dispatchEvent(new Event('input', {bubbles: true})); }"""


def wait_both(page, t0: float) -> tuple[float, float]:
    """(ms until the results are shown, ms until the views are) for the event at t0."""
    return tuple(page.evaluate(WAIT_BOTH, t0))


def delaying_proxy(target_port: int, delay_s: float) -> int:
    """A TCP forwarder on 127.0.0.1 that delivers every chunk `delay_s` late, in order, both ways."""
    port = free_port()

    async def pump(reader, writer):
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver():
            while (item := await queue.get()) is not None:
                due, data = item
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(data)
                await writer.drain()
            writer.close()

        task = asyncio.create_task(deliver())
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay_s, data))
        queue.put_nowait(None)
        await task

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(
            pump(client_reader, server_writer), pump(server_reader, client_writer), return_exceptions=True
        )

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    time.sleep(0.3)
    return port


def measure(page, strokes: int, views: bool = False) -> dict:
    box = page.locator("#sketch canvas").bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.2
    pen_up, pen_up_views = [], []
    for i in range(strokes):
        page.locator("#sketch [data-action=clear]").click()
        page.mouse.move(x0 + i, y0)
        page.mouse.down()
        page.mouse.move(x0 + 20 + i, y0 + box["height"] * 0.6, steps=15)
        t0 = page.evaluate("() => performance.now()")
        page.mouse.up()
        if views:
            shown, followed = wait_both(page, t0 - 0.001)
            pen_up_views.append(followed)
        else:
            shown = page.evaluate(WAIT_SHOWN, t0 - 0.001)
        pen_up.append(shown)
        page.wait_for_timeout(100)
    # slider steps over the digit now on screen
    steps, steps_views = [], []
    for i in range(strokes):
        t0 = page.evaluate("() => performance.now()")
        page.evaluate(MOVE_SLIDER, 0.55 if i % 2 == 0 else 0.5)
        if views:
            shown, followed = wait_both(page, t0)
            steps_views.append(followed)
        else:
            shown = page.evaluate(WAIT_SHOWN, t0)
        steps.append(shown)
        page.wait_for_timeout(100)
    # a continuous 2 s stroke: how many live reconstructions appear while the pen is down
    page.locator("#sketch [data-action=clear]").click()
    page.evaluate(
        "() => { window.__live = 0; "
        "document.addEventListener('dae-shown', (e) => { if (e.detail.live) window.__live += 1; }); }"
    )
    page.mouse.move(x0, y0)
    page.mouse.down()
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < 2.0:
        i += 1
        page.mouse.move(x0 + 40 * (i % 20 > 10), y0 + 4 * (i % 50))
        page.wait_for_timeout(16)
    seconds = time.perf_counter() - start
    live = page.evaluate("() => window.__live")
    page.mouse.up()
    r = {
        "pen_up_ms": statistics.median(pen_up),
        "slider_ms": statistics.median(steps),
        "live_per_s": live / seconds,
    }
    if views:
        r |= {
            "pen_up_views_ms": statistics.median(pen_up_views),
            "slider_views_ms": statistics.median(steps_views),
        }
    return r


def open_views(page) -> None:
    """Open every view under the results and wait until each holds its first answer."""
    for view in VIEWS:
        if not page.locator(f"details#{view}").evaluate("d => d.open"):
            page.locator(f"details#{view} > summary").click()
    page.wait_for_function(
        "ids => ids.every((id) => document.querySelector('#' + id + ' .dae-view-body').children.length)",
        arg=list(VIEWS),
    )


def main() -> None:
    from playwright.sync_api import sync_playwright

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--strokes", type=int, default=10)
    p.add_argument("--delay-ms", type=float, default=150.0)
    p.add_argument("--views", action="store_true", help="measure with every view under the results open")
    p.add_argument("--compare", metavar="MODEL", help="a model beside the DAE: unet, plain-ae, ...")
    args = p.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with app_server() as (url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        proxied = f"http://127.0.0.1:{delaying_proxy(port, args.delay_ms / 2000)}/"
        for name, address in (("loopback", url), (f"+{args.delay_ms:g} ms round trip", proxied)):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(address, wait_until="load")
            page.wait_for_function("() => window.DAE && window.DAE.started")
            if args.compare:
                page.locator("#compare").select_option(args.compare)
            if args.views:
                page.locator("#sketch [data-action=clear]").wait_for()
                # a first digit, so that every view has something to show
                box = page.locator("#sketch canvas").bounding_box()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2)
                page.mouse.down()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8, steps=10)
                page.mouse.up()
                open_views(page)
                page.evaluate("() => window.scrollTo(0, 0)")
            r = measure(page, args.strokes, args.views)
            views = (
                f"; views follow: pen up -> {r['pen_up_views_ms']:.0f} ms, "
                f"slider step -> {r['slider_views_ms']:.0f} ms"
                if args.views
                else ""
            )
            print(
                f"{name}: pen up -> reconstruction {r['pen_up_ms']:.0f} ms, "
                f"slider step -> shown {r['slider_ms']:.0f} ms, "
                f"{r['live_per_s']:.1f} reconstructions/s while drawing (medians of {args.strokes}){views}",
                flush=True,
            )
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
