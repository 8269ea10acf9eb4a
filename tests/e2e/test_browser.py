"""A real browser (Debian's chromium driven by Playwright) using the page like a person, on a
laptop (1400 x 1000) and a phone (390 x 844), with the mouse and with the keyboard.

Every wait is for a condition, with generous time limits (a slow, shared 2-core CI box). After an action
on the Denoise tab the test waits for the page's own signal that the answer to it is on screen: the
controller dispatches a `dae-shown` event after every answer it shows, with the time its request was
sent (`act`); it never waits for an image to change, which may have happened already.
Screenshots of the run go to $DAE_ARTIFACTS (default: test-artifacts/), never into git.
"""

import base64
import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dae.noise import add_noise
from dae.samples import load_samples, load_test_indices
from tools.loadgen import app_in_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("DAE_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LAPTOP, PHONE = {"width": 1400, "height": 1000}, {"width": 390, "height": 844}
WAIT = 60_000  # ms: the longest any condition may take on a slow, busy machine
RESULTS = ("clean", "noisy", "recon", "error")

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def url():
    with app_in_process() as local_url:
        yield local_url


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        yield browser
        browser.close()


# Installed before the page's own scripts: every answer the controller shows, in order, with whether the page
# had started (read its link) when it came; and when a view was last opened or closed (as a link does).
LISTEN = """
window.__shown = [];
window.__toggledAt = 0;
document.addEventListener('dae-shown', (e) =>
  window.__shown.push(Object.assign({started: Boolean(window.DAE && window.DAE.started)}, e.detail)));
document.addEventListener('toggle', () => { window.__toggledAt = performance.now(); }, true);
"""
# The page has started and shown what it starts with: a change's results (live), then the full answer, and
# the full answer to a request sent after the views a link names were opened.
SETTLED = """() => {
  if (!(window.DAE && window.DAE.started && document.querySelector('#metrics'))) return false;
  const s = window.__shown.filter((d) => d.started);
  return s.some((d, i) => i > 0 && !d.live && s[i - 1].live)
    && s.some((d) => !d.live && d.sentAt >= window.__toggledAt); }"""


def open_page(browser, url, viewport, theme="light", query="", **context):
    page = browser.new_context(viewport=viewport, **context).new_page()
    page.add_init_script(LISTEN)
    page.set_default_timeout(WAIT)
    page.goto(
        url + "?" + "&".join(filter(None, ["__theme=dark" if theme == "dark" else "", query])),
        wait_until="load",
    )
    page.wait_for_selector("#sketch canvas", state="attached")  # a link may open another tab first
    page.wait_for_function(SETTLED)
    return page


def act(page, action) -> None:
    """Do `action` on the Denoise tab, then wait until the page shows the full answer (with the open views) to
    a request sent after it began: the `dae-shown` event of a request that is not `live`, sent after `since`.

    Every change the controller sends ends with such a request (the views follow the results), and each one
    carries the state as it is when it is sent; the page is settled before each action, so no request from an
    earlier one is still on its way."""
    since = page.evaluate("() => performance.now()")
    action()
    page.wait_for_function("since => window.__shown.some((d) => d.sentAt >= since && !d.live)", arg=since)


@pytest.fixture(scope="module")
def laptop(browser, url):
    page = open_page(browser, url, LAPTOP)
    yield page
    page.close()


def address(page) -> str:
    """The page's address query, as the controller last wrote it."""
    return page.evaluate("() => location.search")


def src(page, elem_id: str) -> str | None:
    img = page.locator(f"#{elem_id} img")
    return (img.first.get_attribute("src") or None) if img.count() else None


def changed(page, elem_id: str, old: str | None) -> str:
    """Wait until #elem_id shows an image other than `old`; return its source.

    For the Latent space tab's Gradio images only, whose every result is a new file (a new source).
    """
    page.wait_for_function(
        "([id, old]) => { const img = document.querySelector('#' + id + ' img');"
        " const s = img && img.getAttribute('src'); return s && s !== old; }",
        arg=[elem_id, old or ""],
    )
    return src(page, elem_id)


def pixels(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,"), uri[:40]  # inline: no file fetch
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("L"))


def shown_digit(page, elem_id: str = "clean") -> np.ndarray:
    """The 28 x 28 digit a result image shows."""
    return pixels(src(page, elem_id))


def noisy_sample(index: int, kind: str, strength: float, seed: int) -> np.ndarray:
    """Bundled sample `index` with the noise the page should show, made here from dae.noise."""
    clean = torch.from_numpy(load_samples()[0][index]).view(1, 1, 28, 28)
    return (add_noise(clean, kind, strength, seed)[0, 0].numpy() * 255 + 0.5).astype(np.uint8)


def sample_of(page, gallery: str) -> int | None:
    """The index of the highlighted thumbnail in a gallery, or None."""
    return page.evaluate(
        """id => {
        const all = [...document.querySelectorAll('#' + id + ' button.thumbnail-item')];
        const i = all.findIndex((b) => b.classList.contains('selected'));
        return i < 0 ? null : i; }""",
        gallery,
    )


def draw_stroke(page, dx=10, steps=20):
    box = page.locator("#sketch canvas").first.bounding_box()
    cx, top, height = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.25, box["height"] * 0.5
    page.mouse.move(cx, top)
    page.mouse.down()
    page.mouse.move(cx + dx, top + height, steps=steps)
    page.mouse.up()


def input_tab(page, name: str) -> None:
    """Show the input tab `name` ("Draw", "MNIST samples", "Upload"); another tab is a change (act)."""
    tab = page.get_by_role("tab", name=name)
    if tab.get_attribute("aria-selected") != "true":
        act(page, tab.click)


def pick_sample(page, index: int) -> None:
    """Denoise tab, MNIST samples, thumbnail `index`."""
    page.get_by_role("tab", name="Denoise").click()
    input_tab(page, "MNIST samples")
    act(page, page.locator("#samples button.thumbnail-item").nth(index).click)


def slide(page, elem_id: str, value: str) -> None:
    act(page, lambda: page.locator(f"#{elem_id} input[type=range]").fill(value))


def box(page, selector: str) -> dict:
    b = page.locator(selector).first.bounding_box()
    assert b is not None, f"{selector} is not visible"
    return b


def overlap(a: dict, b: dict, tolerance: float = 1.0) -> bool:
    return (
        a["x"] + a["width"] > b["x"] + tolerance
        and b["x"] + b["width"] > a["x"] + tolerance
        and a["y"] + a["height"] > b["y"] + tolerance
        and b["y"] + b["height"] > a["y"] + tolerance
    )


def inside_viewport(b: dict, viewport: dict) -> bool:
    return (
        b["x"] >= 0
        and b["y"] >= 0
        and b["x"] + b["width"] <= viewport["width"]
        and b["y"] + b["height"] <= viewport["height"]
    )


# ---- a laptop, with the mouse --------------------------------------------------------------------


def test_draw_then_slider_seed_and_samples(laptop):
    page = laptop
    assert "Draw a digit" in page.locator("#metrics").inner_text()
    act(page, lambda: draw_stroke(page))
    assert all(src(page, elem) for elem in RESULTS)
    assert "noisy input" in page.locator("#metrics").inner_text()
    drawing = src(page, "clean")
    page.screenshot(path=ARTIFACTS / "laptop-1-drawn.png", full_page=True)

    # The strength slider updates every result.
    before = {e: src(page, e) for e in ("noisy", "recon", "error")}
    slide(page, "strength", "0.9")
    assert all(src(page, e) != old for e, old in before.items())

    # The seed applies when the box is left with Tab, not only on Enter.
    old = src(page, "noisy")

    def new_seed():
        page.locator("#seed input").fill("5")
        page.keyboard.press("Tab")

    act(page, new_seed)
    assert src(page, "noisy") != old

    # A gallery sample replaces the drawing, and is highlighted.
    input_tab(page, "MNIST samples")
    act(page, page.locator("#samples button.thumbnail-item").nth(33).click)
    samples = load_samples()[0]
    assert np.array_equal(shown_digit(page), (samples[33] * 255 + 0.5).astype(np.uint8))
    assert sample_of(page, "samples") == 33

    # "Random digit": another digit each time, and the highlight follows the digit shown.
    previous = 33
    for _ in range(3):
        act(page, page.locator("#random").click)
        picked = sample_of(page, "samples")
        assert picked is not None and picked != previous
        assert np.array_equal(shown_digit(page), (samples[picked] * 255 + 0.5).astype(np.uint8)), picked
        previous = picked
    page.screenshot(path=ARTIFACTS / "laptop-2-random.png", full_page=True)

    # Back on the Draw tab, the results are the drawing's again.
    input_tab(page, "Draw")
    assert src(page, "clean") == drawing
    assert sample_of(page, "samples") is not None  # the samples tab keeps its own pick


def choose_beside(page, title: str) -> None:
    """Pick the model beside the DAE in the #compare dropdown by how the page names it ("nothing": none)."""
    page.locator("#compare input").click()
    page.get_by_role("option", name=title, exact=True).click()


UNET_TITLE, PLAIN_TITLE = "U-Net (stronger, for comparison)", "plain autoencoder, never saw noise"


def guesses_marked_unsure(page) -> list[tuple[str, bool]]:
    """Each result's guess as shown: (its text, whether it is styled unsure)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.dae-guess')].filter((g) => g.textContent)"
        ".map((g) => [g.textContent, g.classList.contains('dae-unsure')])"
    )


def test_compare_and_latent_space(laptop):
    page = laptop
    input_tab(page, "MNIST samples")
    act(page, page.locator("#samples button.thumbnail-item").nth(57).click)

    # The lesson checkpoints are committed: the comparison is always offered, one model at a time.
    assert not src(page, "compare-recon") and page.locator(".dae-compare").is_hidden()
    act(page, lambda: choose_beside(page, UNET_TITLE))
    assert src(page, "compare-recon") and src(page, "compare-error")
    assert page.locator(".dae-compare").is_visible()
    assert page.locator(".dae-compare-title").inner_text() == UNET_TITLE
    assert "U-Net" in page.locator("#metrics").inner_text() and "compare=unet" in address(page)
    unet = src(page, "compare-recon")
    page.screenshot(path=ARTIFACTS / "laptop-3-compare.png", full_page=True)
    # Another model in its place: its own reconstruction, title and link.
    act(page, lambda: choose_beside(page, PLAIN_TITLE))
    assert src(page, "compare-recon") and src(page, "compare-recon") != unet
    assert page.locator(".dae-compare-title").inner_text() == PLAIN_TITLE
    assert PLAIN_TITLE in page.locator("#metrics").inner_text() and "compare=plain-ae" in address(page)
    # A reading under 50 % is written with a ? and styled unsure; a sure one is not.
    marks = guesses_marked_unsure(page)
    assert len(marks) >= 4 and all(("?" in text) == unsure for text, unsure in marks), marks

    # The Latent space tab's images are Gradio's, updated by its own events (each result a new file).
    page.get_by_role("tab", name="Latent space").click()
    first = changed(page, "latent-point", None)
    assert page.locator("#latent-path .dae-path-decoded img").count() == 11
    assert page.locator("#latent-path .dae-path-faded img").count() == 11
    assert (
        page.locator("#latent-path .dae-path-decoded img").nth(5).get_attribute("class") == "dae-step-now"
    )  # t = 0.5
    assert (sample_of(page, "latent-a"), sample_of(page, "latent-b")) == (0, 99)
    fade = src(page, "latent-crossfade")
    page.locator("#latent-t input[type=range]").fill("0.9")
    first = changed(page, "latent-point", first)
    changed(page, "latent-crossfade", fade)
    page.wait_for_function(
        "() => document.querySelectorAll('#latent-path .dae-path-decoded img')[9]"
        ".classList.contains('dae-step-now')"
    )
    assert page.locator("#latent-path img.dae-step-now").count() == 2  # the same step marked on both paths

    # Pick the start from a thumbnail.
    old = src(page, "latent-start")
    page.locator("#latent-a button.thumbnail-item").nth(25).click()
    changed(page, "latent-start", old)
    assert sample_of(page, "latent-a") == 25

    # "End at the digit in the Denoise tab": the end picker moves to it.
    old = src(page, "latent-end")
    page.locator("#use-b").click()
    changed(page, "latent-end", old)
    page.wait_for_function(
        "() => document.querySelector('#latent-b button.thumbnail-item.selected')?.getAttribute('aria-label')"
        " === 'Thumbnail 58 of 100'"
    )
    assert f"MNIST test digit #{load_test_indices()[57]}, a 5" in page.locator("#latent-status").inner_text()
    page.screenshot(path=ARTIFACTS / "laptop-4-latent.png", full_page=True)
    page.get_by_role("tab", name="Denoise").click()
    act(page, lambda: choose_beside(page, "nothing"))
    assert not src(page, "compare-recon") and page.locator(".dae-compare").is_hidden()
    assert "compare=" not in address(page)


def test_a_bad_upload_clears_the_results_and_says_so_once(laptop, tmp_path):
    page = laptop
    pick_sample(page, 12)
    assert all(src(page, elem) for elem in RESULTS)

    input_tab(page, "Upload")
    fake = tmp_path / "digit.png"
    fake.write_text("this is not an image")
    act(page, lambda: page.locator("#upload input[type=file]").set_input_files(str(fake)))
    assert page.get_by_text("not an image that can be read").count() == 1
    assert not any(src(page, elem) for elem in RESULTS)  # nothing of the sample stays beside the bad file
    # Again: still one message, in one place, and no toasts.
    act(
        page, page.locator("#upload button[aria-label=Clear]").click
    )  # removing the file clears its message too
    assert page.get_by_text("not an image that can be read").count() == 0
    act(page, lambda: page.locator("#upload input[type=file]").set_input_files(str(fake)))
    assert page.get_by_text("not an image that can be read").count() == 1
    assert page.locator(".toast-body").count() == 0
    page.screenshot(path=ARTIFACTS / "laptop-5-bad-upload.png", full_page=True)

    # A good upload: the picture itself is shown beside the digit it became.
    good = tmp_path / "seven.png"
    Image.fromarray((load_samples()[0][70] * 255).astype(np.uint8)).resize((140, 140)).save(good)
    act(page, page.locator("#upload button[aria-label=Clear]").click)
    act(page, lambda: page.locator("#upload input[type=file]").set_input_files(str(good)))
    assert all(src(page, elem) for elem in RESULTS)
    page.wait_for_function("() => document.querySelector('#preview img')?.getAttribute('src')")


# ---- a laptop, with the keyboard -----------------------------------------------------------------


def test_keyboard_radio_group_gallery_stop_and_focus_rings(laptop):
    page = laptop
    input_tab(page, "MNIST samples")

    # The 100 thumbnails are one Tab stop, after "Random digit"; arrow keys move inside, Enter picks.
    page.locator("#random").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('#samples') !== null")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('#samples') === null")
    page.keyboard.press("Shift+Tab")
    start = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    page.keyboard.press("ArrowRight")
    moved = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert start.startswith("MNIST test digit") and moved.startswith("MNIST test digit") and moved != start
    act(page, lambda: page.keyboard.press("Enter"))
    assert np.array_equal(
        shown_digit(page), (load_samples()[0][sample_of(page, "samples")] * 255 + 0.5).astype(np.uint8)
    )

    # The noise kinds are one radio group: arrow keys move the choice, and the slider follows.
    if page.locator("#kind input:checked").get_attribute("value") != "gaussian":
        act(page, page.locator("#kind input[value=gaussian]").check)
    page.locator("#kind input[value=gaussian]").focus()
    act(page, lambda: page.keyboard.press("ArrowRight"))
    page.wait_for_function("() => document.querySelector('#kind input:checked')?.value === 'mask'")
    page.wait_for_function("() => document.querySelector('#strength input[type=range]').max === '0.9'")
    outline = page.evaluate(
        "() => getComputedStyle(document.activeElement)['outline-style'] + ' '"
        " + getComputedStyle(document.activeElement)['outline-width']"
    )
    assert outline.split()[0] != "none" and float(outline.split()[1].rstrip("px")) >= 2, outline
    page.locator("#strength input[type=range]").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible
    outline = page.evaluate(
        "() => getComputedStyle(document.activeElement)['outline-style'] + ' '"
        " + getComputedStyle(document.activeElement)['outline-width']"
    )
    assert page.evaluate("() => document.activeElement.type") == "range"
    assert outline.split()[0] != "none" and float(outline.split()[1].rstrip("px")) >= 2, outline


# ---- a phone ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_phone_layout(browser, url, theme):
    page = open_page(browser, url, PHONE, theme)
    try:
        # The drawing tools sit under the drawing area, on screen, and the canvas fits the screen.
        canvas = box(page, "#sketch canvas")
        assert not overlap(box(page, "#sketch .dae-tools"), canvas), (box(page, "#sketch .dae-tools"), canvas)
        assert inside_viewport(box(page, "#sketch .dae-tools"), PHONE) and inside_viewport(canvas, PHONE)

        # After drawing, the four results are on screen, without scrolling, none over another or the canvas.
        act(page, lambda: draw_stroke(page))
        assert all(src(page, elem) for elem in RESULTS)
        boxes = {elem: box(page, f"#{elem} img") for elem in RESULTS}
        for elem, b in boxes.items():
            assert inside_viewport(b, PHONE), (elem, b)
            assert b["width"] >= 60, (elem, b)
            assert not overlap(b, box(page, "#sketch")), elem
        assert not any(overlap(boxes[a], boxes[b]) for a in RESULTS for b in RESULTS if a < b)
        page.screenshot(path=ARTIFACTS / f"phone-{theme}-1-drawn.png")

        # The metrics table: every number and header on one line, the table within the screen.
        page.locator("#metrics table").scroll_into_view_if_needed()
        lines = page.evaluate("""() => [...document.querySelectorAll('#metrics tr')].slice(1).flatMap((row) =>
            [...row.children].slice(1).map((cell) => {
              const range = document.createRange(); range.selectNodeContents(cell);
              const bottoms = [...range.getClientRects()].map((r) => Math.round(r.bottom));
              return [cell.innerText, new Set(bottoms).size]; }))""")
        assert lines and all(n <= 1 for _, n in lines), lines
        table = box(page, "#metrics table")
        assert table["x"] >= 0 and table["x"] + table["width"] <= PHONE["width"], table
        page.screenshot(path=ARTIFACTS / f"phone-{theme}-2-page.png", full_page=True)

        # The latent tab: both ends, the point and every step of the path readable, the caption over none.
        page.get_by_role("tab", name="Latent space").click()
        changed(page, "latent-point", None)
        for elem in ("latent-start", "latent-point", "latent-end"):
            assert box(page, f"#{elem} img")["width"] >= 80, elem
        steps = [page.locator("#latent-path img").nth(i).bounding_box() for i in range(22)]
        assert all(s["width"] >= 40 and s["height"] >= 40 for s in steps), steps
        caption = box(page, "#latent-path .dae-path-faded figcaption")
        assert not any(overlap(caption, s) for s in steps)
        assert all(s["x"] >= 0 and s["x"] + s["width"] <= PHONE["width"] for s in steps)
        page.screenshot(path=ARTIFACTS / f"phone-{theme}-3-latent.png", full_page=True)
    finally:
        page.close()


# ---- the canvas, the controls and the link, one round trip each ----------------------------------------


def recon_sources_while(page, action) -> set:
    """Every reconstruction the page showed while `action` ran."""
    page.evaluate("""() => { window.__seen = new Set();
        const img = document.querySelector('#recon img');
        window.__watch = new MutationObserver(() => window.__seen.add(img.getAttribute('src')));
        window.__watch.observe(img, {attributes: true, attributeFilter: ['src']}); }""")
    action()
    return set(page.evaluate("() => { window.__watch.disconnect(); return [...window.__seen]; }"))


def test_the_reconstruction_follows_the_pen_and_undo_and_clear_work(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        canvas = page.locator("#sketch canvas").bounding_box()
        cx, top = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] * 0.2

        def slow_stroke():
            page.mouse.move(cx, top)
            page.mouse.down()
            for i in range(40):  # 2 s of drawing: results arrive while the pen is down
                page.mouse.move(cx + i, top + 4 * i)
                page.wait_for_timeout(50)
            page.mouse.up()

        seen = set()
        act(page, lambda: seen.update(recon_sources_while(page, slow_stroke)))
        assert len(seen) >= 3, len(seen)  # several reconstructions during one stroke, not only at the end
        one_stroke = src(page, "clean")
        act(page, lambda: draw_stroke(page, dx=-60))
        two_strokes = src(page, "clean")
        assert two_strokes and two_strokes != one_stroke
        act(page, page.locator("#sketch [data-action=undo]").click)
        assert src(page, "clean") == one_stroke  # the first stroke's own digit again, exactly
        act(page, page.locator("#sketch [data-action=clear]").click)
        assert not any(src(page, elem) for elem in RESULTS)
        assert "Draw a digit" in page.locator("#metrics").inner_text()
        # The eraser removes ink: a stroke erased over its whole length leaves no digit.
        act(page, lambda: draw_stroke(page))
        assert src(page, "clean")
        page.locator("#sketch [data-tool=eraser]").click()
        act(
            page, lambda: draw_stroke(page)
        )  # the eraser is wider than the pen: the same path takes all of the ink
        assert not src(page, "clean")
        page.locator("#sketch [data-tool=pen]").click()
    finally:
        page.close()


def test_drawing_with_a_finger(browser, url):
    page = open_page(browser, url, PHONE, has_touch=True, is_mobile=True)
    try:
        canvas = page.locator("#sketch canvas").bounding_box()
        cdp = page.context.new_cdp_session(page)
        x, y = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] * 0.2

        def touch_stroke():
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
            for i in range(1, 20):
                cdp.send(
                    "Input.dispatchTouchEvent",
                    {"type": "touchMove", "touchPoints": [{"x": x + i, "y": y + 8 * i}]},
                )
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

        act(page, touch_stroke)
        assert all(src(page, elem) for elem in RESULTS)
        assert page.evaluate("() => window.scrollY") == 0  # the stroke drew; it did not scroll the page
    finally:
        page.close()


def test_both_reset_buttons_and_the_seed_messages(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        input_tab(page, "MNIST samples")
        act(page, page.locator("#samples button.thumbnail-item").nth(20).click)
        default = noisy_sample(20, "gaussian", 0.5, 0)  # the page's defaults: Gaussian noise, σ = 0.5, seed 0
        assert np.array_equal(shown_digit(page, "noisy"), default)
        slide(page, "strength", "0.9")
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(20, "gaussian", 0.9, 0))
        act(page, page.locator("#strength button[aria-label='Reset to default value']").click)
        assert np.array_equal(
            shown_digit(page, "noisy"), default
        )  # back at 0.5: its results, not the old ones

        for bad in ("-1", "2.5"):

            def bad_seed(bad=bad):
                page.locator("#seed input").fill(bad)
                page.keyboard.press("Tab")

            act(page, bad_seed)
            assert "whole number" in page.locator("#metrics").inner_text()
            assert not src(page, "noisy") and src(page, "clean")  # the digit stays, no result of another seed
            assert page.locator(".toast-body").count() == 0  # the app's own message, no popup

        def good_seed():
            page.locator("#seed input").fill("3")
            page.keyboard.press("Tab")

        act(page, good_seed)
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(20, "gaussian", 0.5, 3))

        page.get_by_role("tab", name="Latent space").click()
        first = changed(page, "latent-point", None)
        page.locator("#latent-t input[type=range]").fill("0.9")
        moved = changed(page, "latent-point", first)
        page.locator("#latent-t button[aria-label='Reset to default value']").click()
        file = lambda u: np.asarray(Image.open(io.BytesIO(page.request.get(u).body())))  # noqa: E731
        page.wait_for_function("() => document.querySelector('#latent-t input[type=range]').value === '0.5'")
        expected, deadline = (
            file(first),
            time.monotonic() + 60,
        )  # back at t = 0.5 (an answer for 0.9 may still arrive first)
        while not np.array_equal(file(changed(page, "latent-point", moved)), expected):
            moved = src(page, "latent-point")
            assert time.monotonic() < deadline, "the point never came back to t = 0.5"
    finally:
        page.close()


def test_a_link_restores_the_view_pixel_for_pixel(browser, url):
    page = open_page(browser, url, LAPTOP, query="sample=34&noise=mask&strength=0.5&seed=7&compare=plain-ae")
    try:
        noisy = src(page, "noisy")
        assert noisy, ("page state:", page.url, page.locator("#metrics").inner_text())
        assert sample_of(page, "samples") == 34
        assert np.array_equal(pixels(noisy), noisy_sample(34, "mask", 0.5, 7))
        # the model the link names is beside the DAE, and the dropdown says which
        assert src(page, "compare-recon") and page.locator(".dae-compare-title").inner_text() == PLAIN_TITLE
        assert page.locator("#compare input").input_value() == PLAIN_TITLE
        caption = page.locator("#source-caption").inner_text()
        assert caption == f"MNIST test digit #{load_test_indices()[34]}, a 3"
        assert page.locator("#kind input:checked").get_attribute("value") == "mask"
        # The address follows the state as it changes.
        act(page, page.locator("#samples button.thumbnail-item").nth(35).click)
        assert all(
            part in address(page) for part in ("sample=35", "noise=mask", "seed=7", "compare=plain-ae")
        ), address(page)
    finally:
        page.close()


def test_the_curve_follows_the_slider(laptop):
    page = laptop
    pick_sample(page, 61)
    assert page.locator("#curve svg").count() == 2  # two panels: PSNR and the classifier's probability
    before = page.locator("#curve svg .marker").first.get_attribute("x1")
    now = page.locator("#strength input[type=range]").input_value()
    slide(page, "strength", "0.3" if now == "0.2" else "0.2")
    assert page.locator("#curve svg .marker").first.get_attribute("x1") != before


# what each view shows that depends on the noisy digit: a selector and the attribute read from it
VIEW_PARTS = {
    "layers": ("#layers .dae-layer img", "src"),  # the noisy input, first of the DAE's stages
    "layers-conv1": ("#layers .dae-layer:nth-child(2) img", "src"),
    "layers-code": ("#layers .dae-layer:nth-child(5) img", "src"),
    "latent-map": ("#latent-map .dae-map-noisy", "cx"),
    "latent-map-clean": ("#latent-map .dae-map-clean", "cx"),
    "learning": ("#learning .dae-figure:last-child img", "src"),
}


def view_state(page) -> dict:
    return {
        name: page.locator(selector).first.get_attribute(attribute)
        for name, (selector, attribute) in VIEW_PARTS.items()
    }


def open_views(page, ids=("layers", "latent-map", "learning")):
    for view in ids:
        if not page.locator(f"details#{view}").evaluate("d => d.open"):
            act(page, page.locator(f"details#{view} > summary").click)  # an opened view is asked for at once
    assert all(page.locator(f"#{view} .dae-view-body > *").count() for view in ids)


def test_every_view_follows_the_digit_and_the_slider_and_the_map_decodes_a_click(laptop):
    page = laptop
    pick_sample(page, 12)
    assert "sample=12" in address(page)
    open_views(page)
    state = view_state(page)
    assert all(state.values()), state
    assert (
        page.locator("#layers .dae-layers").first.locator(".dae-layer").count() == 9
    )  # the input and 8 stages
    shapes = page.locator("#layers .dae-layers").first.locator(".dae-shape").all_inner_texts()
    assert shapes == [
        "1 × 28 × 28",
        "16 × 15 × 15",
        "32 × 8 × 8",
        "64 × 4 × 4",
        "256",
        "64 × 4 × 4",
        "32 × 8 × 8",
        "16 × 16 × 16",
        "1 × 28 × 28",
    ]
    assert (
        page.locator("#learning .dae-figure").count() == 4
    )  # untrained, 300 steps, epoch 1, the served model

    # The slider: everything computed from the noisy digit follows; the clean digit's code stays where it was.
    slide(page, "strength", "0.95")
    moved = view_state(page)
    assert all(
        moved[n] != state[n] for n in ["layers", "layers-conv1", "layers-code", "latent-map", "learning"]
    ), moved
    assert moved["latent-map-clean"] == state["latent-map-clean"]
    # Another digit: its clean code moves too.
    act(page, page.locator("#samples button.thumbnail-item").nth(77).click)
    again = view_state(page)
    assert all(again[n] != moved[n] for n in VIEW_PARTS), again
    assert "views=layers%2Clatent-map%2Clearning" in address(
        page
    ) or "views=layers,latent-map,learning" in address(page)

    # A click on the map decodes that point; another point, another digit.
    picture = page.locator('#latent-map .dae-map-picture[data-model="dae"]')
    picture.scroll_into_view_if_needed()
    side = picture.bounding_box()["width"]
    act(page, lambda: picture.click(position={"x": side * 0.2, "y": side * 0.5}))
    first = src(page, "map-decoded-dae")
    mark = page.locator("#latent-map .dae-map-pick").get_attribute("d")
    assert first and mark
    act(page, lambda: picture.click(position={"x": side * 0.8, "y": side * 0.3}))
    assert src(page, "map-decoded-dae") != first
    assert page.locator("#latent-map .dae-map-pick").get_attribute("d") != mark
    # With the U-Net beside the DAE, its levels follow the DAE's.
    act(page, lambda: choose_beside(page, UNET_TITLE))
    assert page.locator("#layers .dae-layers").count() == 2
    assert "global context code" in page.locator("#layers .dae-layers").nth(1).inner_text()
    # A 2-number code beside it: its layers say so, and its own map (the code plane) shows and decodes a
    # click, the only clicked point (the DAE's map no longer decodes one).
    code2 = page.locator('#latent-map .dae-map[data-model="dae-code2"]')
    assert code2.is_hidden()
    act(page, lambda: choose_beside(page, "DAE with a 2-number code"))
    assert page.locator("#layers .dae-layers").nth(1).locator(".dae-shape").nth(4).inner_text() == "2"
    assert code2.is_visible() and code2.locator(".dae-map-noisy").count() == 1
    plane = code2.locator(".dae-map-picture")
    plane.scroll_into_view_if_needed()
    side = plane.bounding_box()["width"]
    act(page, lambda: plane.click(position={"x": side * 0.5, "y": side * 0.5}))
    assert src(page, "map-decoded-dae-code2") and not src(page, "map-decoded-dae")
    act(page, lambda: choose_beside(page, "nothing"))
    assert page.locator("#layers .dae-layers").count() == 1 and code2.is_hidden()
    page.screenshot(path=ARTIFACTS / "laptop-4-views.png", full_page=True)
    for view in ("layers", "latent-map", "learning"):
        page.locator(f"details#{view} > summary").click()


def test_a_link_opens_its_views_and_they_are_readable_on_a_phone(browser, url):
    page = open_page(
        browser,
        url,
        PHONE,
        theme="dark",
        query="sample=5&noise=salt_pepper&strength=0.3&seed=2&views=layers,latent-map,learning",
    )
    try:
        page.wait_for_function(
            "() => ['layers', 'latent-map', 'learning'].every((id) =>"
            " document.querySelector('details#' + id).open"
            " && document.querySelector('#' + id + ' .dae-view-body').children.length)"
        )
        for selector in (
            "#layers .dae-layer img",
            '#latent-map .dae-map-picture[data-model="dae"]',
            "#learning .dae-figure img",
            "#learning svg",
        ):
            for i in range(page.locator(selector).count()):
                b = page.locator(selector).nth(i).bounding_box()
                assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"] and b["width"] >= 60, (
                    selector,
                    i,
                    b,
                )
        assert (
            page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        )  # nothing sticks out sideways
        # the DAE's map only: a 2-number code's map shows while that model is beside the DAE
        assert page.locator('#latent-map .dae-map[data-model="dae-code2"]').is_hidden()
        wrap = box(page, "#latent-map .dae-map-wrap")["width"]
        assert (
            box(page, "#latent-map .dae-map-picture")["width"] >= wrap - 1 and wrap >= 250
        )  # the map takes the phone's whole width
        page.screenshot(path=ARTIFACTS / "phone-dark-4-views.png", full_page=True)
    finally:
        page.close()
