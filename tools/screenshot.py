"""The README's picture of the app: docs/screenshot.png.

    python -m tools.screenshot                 # from the repository root
    python -m tools.screenshot --sample 7 --out /tmp/app.png

Starts the real app in this process (the committed checkpoints, as `python app.py` serves them),
opens it in Debian's chromium through Playwright (`apt-get install chromium`; never `playwright
install`) at 1400 x 1000 in the light theme, picks an MNIST test digit in the "MNIST samples"
tab (or, where the page has no sample thumbnails, draws a stroke on the canvas), waits until
every result image is shown, and saves the page down to the metrics under the results (at
least the 1400 x 1000 window) as a PNG of at most 300 KB.
"""

from __future__ import annotations

import os

# Before gradio or huggingface_hub are imported: no analytics, no telemetry.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import argparse
import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshot.png"

# --- Everything the script knows about the page, in one place ---------------------------------------
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 1000}
THEME = "?__theme=light"
SAMPLES_TAB = "MNIST samples"  # the input tab with the test digits (a tab, by its name)
SAMPLE_THUMBNAILS = "#samples button"  # its thumbnails, in order
PICKED_THUMBNAIL = "#samples button.selected"  # the picked one, scrolled back into view before the picture
DRAW_TAB = "Draw"  # the fallback: the drawing tab and its canvas
SKETCH_CANVAS = "#sketch canvas"
RESULT_IMAGES = ("clean", "noisy", "recon", "error")  # elem_ids of the result images to wait for
RESULTS_END = "#metrics"  # the picture reaches down to the bottom of this (the metrics under the results)
WAIT_MS = 60_000  # the longest any step may take (the first result includes the models' warm-up)
MAX_BYTES = 300_000  # keep the committed PNG small


def pick_sample(page, index: int) -> bool:
    """Click thumbnail `index` in the samples tab; False when the page has no such tab or thumbnails."""
    tab = page.get_by_role("tab", name=SAMPLES_TAB)
    if not tab.count():
        return False
    tab.first.click()
    thumbnails = page.locator(SAMPLE_THUMBNAILS)
    try:
        thumbnails.first.wait_for(state="visible", timeout=10_000)
    except Exception:  # the thumbnails are not there (yet): draw instead
        return False
    thumbnails.nth(min(index, thumbnails.count() - 1)).click()
    return True


def draw_stroke(page) -> None:
    """A '1' drawn with the mouse on the canvas, as a person would."""
    tab = page.get_by_role("tab", name=DRAW_TAB)
    if tab.count():
        tab.first.click()
    canvas = page.locator(SKETCH_CANVAS).first
    canvas.wait_for(state="visible", timeout=WAIT_MS)
    page.wait_for_timeout(1000)  # the page selects the brush itself once the canvas is ready
    box = canvas.bounding_box()
    x, top, height = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.25, box["height"] * 0.5
    page.mouse.move(x - 15, top + 20)
    page.mouse.down()
    page.mouse.move(x, top, steps=8)
    page.mouse.move(x + 5, top + height, steps=25)
    page.mouse.up()


def wait_for_results(page) -> None:
    """Until every result image that the page has is shown and decoded."""
    page.wait_for_function(
        """ids => ids.every((id) => {
            const host = document.querySelector('#' + id);
            if (!host) return true;  // not on this page
            const img = host.querySelector('img');
            return img && img.src && img.complete && img.naturalWidth > 0;
        })""",
        arg=list(RESULT_IMAGES),
        timeout=WAIT_MS,
    )
    page.wait_for_timeout(500)  # let the layout settle after the last image


def show_down_to_results(page) -> None:
    """Make the window tall enough to show the page down to the end of the results, from the top."""
    page.evaluate("() => window.scrollTo(0, 0)")
    end = page.locator(RESULTS_END)
    box = end.first.bounding_box() if end.count() else None
    if box is not None and box["y"] + box["height"] + 24 > VIEWPORT["height"]:
        page.set_viewport_size({"width": VIEWPORT["width"], "height": int(box["y"] + box["height"] + 24)})
        page.wait_for_timeout(500)
    picked = page.locator(PICKED_THUMBNAIL)
    if picked.count():  # a re-layout may have scrolled the thumbnails back to the first row
        picked.first.evaluate("b => b.scrollIntoView({block: 'nearest'})")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)


def small_png(png: bytes) -> bytes:
    """The screenshot as a PNG under MAX_BYTES: optimised, and reduced to 256 colours if that is not
    enough."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for candidate in (image, image.quantize(256, method=Image.Quantize.MEDIANCUT)):
        buf = io.BytesIO()
        candidate.save(buf, format="png", optimize=True)
        if buf.tell() <= MAX_BYTES:
            break
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--out", type=Path, default=OUT, help=f"where to save it (default: {OUT.relative_to(ROOT)})"
    )
    p.add_argument("--sample", type=int, default=33, help="which bundled test digit to pick (0-99)")
    args = p.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from tools.loadgen import app_in_process

    with app_in_process() as url:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(WAIT_MS)
            page.goto(url + THEME, wait_until="load")
            page.locator(SKETCH_CANVAS).first.wait_for(state="visible")
            how = (
                f"sample {args.sample}"
                if pick_sample(page, args.sample)
                else "a drawn stroke (no sample thumbnails)"
            )
            if how.startswith("a drawn"):
                draw_stroke(page)
            wait_for_results(page)
            show_down_to_results(page)
            png = small_png(page.screenshot())
            browser.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    width, height = Image.open(io.BytesIO(png)).size
    print(f"{args.out}: {width} x {height}, {len(png) / 1024:.0f} KB, input: {how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
