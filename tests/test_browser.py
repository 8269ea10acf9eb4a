"""A real browser (Debian's chromium driven by Playwright) using the page like a person.

Screenshots of the run go to $DAE_ARTIFACTS (default: test-artifacts/), never into git.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

import app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("DAE_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def url():
    demo = app.build_demo(app.load_denoiser())
    demo.queue(default_concurrency_limit=4)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, css=app.CSS, ssr_mode=False)
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(url):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1100})
        page.goto(url, wait_until="load")
        page.wait_for_selector("#sketch canvas")
        yield page
        browser.close()


def image_src(page, elem_id: str) -> str | None:
    img = page.locator(f"#{elem_id} img")
    return img.first.get_attribute("src") if img.count() else None


def wait_for_change(page, elem_id: str, old: str | None, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        src = image_src(page, elem_id)
        if src and src != old:
            return src
        time.sleep(0.02)
    raise AssertionError(f"#{elem_id} did not update within {timeout} s")


def draw_stroke(page):
    canvas = page.locator("#sketch canvas").first
    box = canvas.bounding_box()
    cx, top, height = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2, box["height"] * 0.6
    page.mouse.move(cx, top)
    page.mouse.down()
    page.mouse.move(cx + 10, top + height, steps=20)
    page.mouse.up()


def test_draw_move_slider_pick_sample(page):
    # 1. Ready to draw on load (the brush is selected), and the hint shows.
    assert "Draw a digit" in page.locator("#metrics").inner_text()
    page.wait_for_timeout(800)
    draw_stroke(page)
    for elem in ("clean", "noisy", "recon", "error"):
        wait_for_change(page, elem, None)
    metrics = page.locator("#metrics").inner_text()
    assert "noisy input" in metrics and "dB" in metrics
    page.screenshot(path=ARTIFACTS / "1-drawn.png", full_page=True)

    # 2. Moving the strength slider updates the outputs live.
    before = {e: image_src(page, e) for e in ("noisy", "recon", "error")}
    page.locator("#strength input[type=range]").fill("0.9")
    for elem, old in before.items():
        wait_for_change(page, elem, old)
    assert page.locator("#metrics").inner_text() != metrics
    page.screenshot(path=ARTIFACTS / "2-slider.png", full_page=True)

    # 3. A gallery sample replaces the drawing.
    clean_before = image_src(page, "clean")
    page.get_by_role("tab", name="MNIST samples").click()
    page.locator("#samples button").nth(33).click()
    wait_for_change(page, "clean", clean_before)
    page.screenshot(path=ARTIFACTS / "3-sample.png", full_page=True)

    # 4. Another noise kind changes the slider's range and the outputs.
    noisy_before = image_src(page, "noisy")
    page.get_by_role("radio", name="Mask (dropped pixels)").check()
    wait_for_change(page, "noisy", noisy_before)
    page.screenshot(path=ARTIFACTS / "4-mask.png", full_page=True)


def test_compare_and_latent_space(page):
    page.get_by_role("tab", name="Denoise").click()
    if page.locator("#compare input").is_visible():
        old = image_src(page, "unet-recon")
        page.locator("#compare input").check()
        wait_for_change(page, "unet-recon", old)
        assert "U-Net" in page.locator("#metrics").inner_text()
        page.screenshot(path=ARTIFACTS / "5-compare.png", full_page=True)
    page.get_by_role("tab", name="Latent space").click()
    first = wait_for_change(page, "latent-point", None)
    assert image_src(page, "latent-strip")
    page.locator("#latent-t input[type=range]").fill("0.9")
    wait_for_change(page, "latent-point", first)
    page.screenshot(path=ARTIFACTS / "6-latent.png", full_page=True)


def test_a_bad_upload_shows_a_message_and_the_page_keeps_working(page, tmp_path):
    page.get_by_role("tab", name="Denoise").click()
    page.get_by_role("tab", name="Upload").click()
    fake = tmp_path / "digit.png"
    fake.write_text("this is not an image")
    page.locator("#upload input[type=file]").set_input_files(str(fake))
    page.get_by_text("not an image that can be read").first.wait_for(timeout=20_000)
    page.screenshot(path=ARTIFACTS / "7-bad-upload.png", full_page=True)
    # the page still answers: a sample still gets denoised
    old = image_src(page, "clean")
    page.get_by_role("tab", name="MNIST samples").click()
    page.locator("#samples button").nth(12).click()
    wait_for_change(page, "clean", old)
