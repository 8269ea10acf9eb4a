"""A real browser (Debian's chromium driven by Playwright) using the page like a person, on a
laptop (1400 x 1000) and a phone (390 x 844), with the mouse, a finger and the keyboard.

Every wait is for a condition, with generous time limits (a slow, shared 2-core CI box). After an action
on the Denoise tab the test waits for the page's own signal that the answer to it is on screen: the
controller dispatches a `dae-shown` event after every answer it shows, with the time its request was
sent (`act`); it never waits for an image to change, which may have happened already. Expected
pictures are made here (dae.noise, the bundled samples, a link's own pixels), never read back from the
page. Each link is opened in a fresh browser context, as a student opening it would.
Screenshots of the run go to $DAE_ARTIFACTS (default: test-artifacts/), never into git.
"""

import base64
import io
import json
import os
import shutil
import time
import unicodedata
import zlib
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
import torch
from PIL import Image

from dae.noise import add_noise
from dae.samples import load_samples, load_test_indices
from tests.support import real_mnist_root

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
TRAINING = 600_000  # ms: the longest a Train tab run of the fewest digits may take on that machine
RESULTS = ("clean", "noisy", "recon", "error")
SEED_RANGE = "a whole number from 0 to 2,147,483,647"  # how the page words the seed's range

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """The app served from this process as `python app.py` serves it: the committed models, the Train tab
    on (its MNIST from data/ or $DAE_MNIST_ROOT, else 16,000 synthetic training digits in MNIST's files)."""
    from webapp.page import build_demo
    from webapp.served import load_served
    from webapp.serving import launch
    from webapp.train_tab import SessionModels, Trainer

    served = load_served()
    from tools.synthetic import write_synthetic_mnist

    mnist = real_mnist_root() or write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), 16_000, 1_000)
    trainer = Trainer(mnist, SessionModels())
    served.yours = trainer.models
    demo = build_demo(served, trainer)
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()
        if trainer.worker is not None:
            trainer.worker.close()


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        yield browser
        browser.close()


# Installed before the page's own scripts: every answer the controller shows, in order, with whether the page
# had started (read its link) when it came; when the page started; and when a view was last opened or closed
# (as a link does).
LISTEN = """
window.__shown = [];
window.__toggledAt = 0;
window.__startedAt = Infinity;
document.addEventListener('dae-shown', (e) =>
  window.__shown.push(Object.assign({started: Boolean(window.DAE && window.DAE.started)}, e.detail)));
document.addEventListener('toggle', () => { window.__toggledAt = performance.now(); }, true);
let controller;
Object.defineProperty(window, 'DAE', {configurable: true, get: () => controller, set(value) {
  controller = value;
  const start = value.start;
  value.start = (...args) => { window.__startedAt = performance.now(); return start.apply(value, args); };
}});
"""
# The page has started and shown what it starts with: the full answer to a request sent after it read its link
# and after the views the link names were opened (every request carries the state as it is when it is sent).
SETTLED = """() => Boolean(window.DAE && window.DAE.started && document.querySelector('#metrics')
  && window.__shown.some((d) => !d.live && d.sentAt >= Math.max(window.__startedAt, window.__toggledAt)))"""


def open_page(browser, url, viewport, theme="light", query="", **context):
    """A page in a browser context of its own (a fresh browser: no storage, no cache), settled."""
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


def close(page) -> None:
    page.context.close()


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
    close(page)


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


def picture(uri: str | None) -> np.ndarray:
    """An inline PNG's pixels, as RGB (the error maps are in colour)."""
    assert uri and uri.startswith("data:image/png;base64,"), (uri or "")[:40]  # inline: no file fetch
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def pixels(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,"), uri[:40]  # inline: no file fetch
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("L"))


def shown_digit(page, elem_id: str = "clean") -> np.ndarray:
    """The 28 x 28 digit a result image shows."""
    return pixels(src(page, elem_id))


def sample_pixels(index: int) -> np.ndarray:
    return (load_samples()[0][index] * 255 + 0.5).astype(np.uint8)


def noisy_of(clean: np.ndarray, kind: str, strength: float, seed: int) -> np.ndarray:
    """A (28, 28) float digit with the noise the page should show, made here from dae.noise (0-255 levels)."""
    x = torch.from_numpy(np.asarray(clean, dtype=np.float32)).view(1, 1, 28, 28)
    return (add_noise(x, kind, strength, seed)[0, 0].numpy() * 255 + 0.5).astype(np.uint8)


def noisy_sample(index: int, kind: str, strength: float, seed: int) -> np.ndarray:
    """Bundled sample `index` with the noise the page should show."""
    return noisy_of(load_samples()[0][index], kind, strength, seed)


def linked_digit(query: str) -> np.ndarray:
    """The 28 x 28 levels a link's `pixels` carries (zlib-deflated bytes in base64url), decoded here."""
    text = parse_qs(query.lstrip("?"))["pixels"][0]
    raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    assert len(raw) == 28 * 28, len(raw)
    return np.frombuffer(raw, np.uint8).reshape(28, 28)


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


def slide(page, value: str) -> None:
    """The strength slider (a plain range input: fill sets it and sends its input and change events)."""
    act(page, lambda: page.locator("#strength").fill(value))


def choose_kind(page, kind: str) -> None:
    act(page, page.locator(f"#kind input[name=dae-kind][value={kind}]").check)


def type_seed(page, text: str, key: str = "Enter") -> None:
    """Type `text` into the seed box and apply it with `key` (Enter, or Tab: leaving the box)."""

    def typed():
        page.locator("#seed").fill(text)
        page.keyboard.press(key)

    act(page, typed)


def choose_beside(page, name: str) -> None:
    """The model beside the DAE, by its name in #compare ("": none)."""
    page.locator("#compare").select_option(value=name)


UNET_TITLE, PLAIN_TITLE = "U-Net (stronger, for comparison)", "plain autoencoder, never saw noise"


def open_details(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('#views details[open]')].map((d) => d.id)")


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


def lines_of(page, selector: str) -> int:
    """How many lines the text of `selector` takes on screen."""
    return page.evaluate(
        """s => { const range = document.createRange(); range.selectNodeContents(document.querySelector(s));
        return new Set([...range.getClientRects()].map((r) => Math.round(r.bottom))).size; }""",
        selector,
    )


def render_requests(page) -> list:
    """Every render request the page sends from now on, as the JSON it sends (appended as they go)."""
    sent = []
    page.on(
        "request",
        lambda r: (
            sent.append(r.post_data_json) if r.method == "POST" and r.url.endswith("/dae/render") else None
        ),
    )
    return sent


# ---- a laptop, with the mouse --------------------------------------------------------------------


def test_draw_then_slider_seed_and_samples(laptop):
    page = laptop
    assert "Draw a digit" in page.locator("#metrics").inner_text()
    act(page, lambda: draw_stroke(page))
    assert all(src(page, elem) for elem in RESULTS)
    assert "noisy input" in page.locator("#metrics").inner_text()
    drawing = src(page, "clean")
    page.screenshot(path=ARTIFACTS / "laptop-1-drawn.png", full_page=True)

    # The strength slider updates every result, and says its value.
    before = {e: src(page, e) for e in ("noisy", "recon", "error")}
    slide(page, "0.9")
    assert all(src(page, e) != old for e, old in before.items())
    assert page.locator("#strength-value").inner_text() == "0.90"

    # The seed applies when the box is left with Tab, not only on Enter.
    old = src(page, "noisy")
    type_seed(page, "5", key="Tab")
    assert src(page, "noisy") != old and "seed=5" in address(page)

    # A gallery sample replaces the drawing, and is highlighted.
    input_tab(page, "MNIST samples")
    act(page, page.locator("#samples button.thumbnail-item").nth(33).click)
    assert np.array_equal(shown_digit(page), sample_pixels(33))
    assert sample_of(page, "samples") == 33

    # "Random digit": another digit each time, and the highlight follows the digit shown.
    previous = 33
    for _ in range(3):
        act(page, page.locator("#random").click)
        picked = sample_of(page, "samples")
        assert picked is not None and picked != previous
        assert np.array_equal(shown_digit(page), sample_pixels(picked)), picked
        previous = picked
    page.screenshot(path=ARTIFACTS / "laptop-2-random.png", full_page=True)

    # Back on the Draw tab, the results are the drawing's again.
    input_tab(page, "Draw")
    assert src(page, "clean") == drawing
    assert sample_of(page, "samples") is not None  # the samples tab keeps its own pick
    slide(page, "0.5")
    type_seed(page, "0")


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
    act(page, lambda: choose_beside(page, "unet"))
    assert src(page, "compare-recon") and src(page, "compare-error")
    assert page.locator(".dae-compare").is_visible()
    assert page.locator(".dae-compare-title").inner_text() == UNET_TITLE
    assert "U-Net" in page.locator("#metrics").inner_text() and "compare=unet" in address(page)
    unet = src(page, "compare-recon")
    page.screenshot(path=ARTIFACTS / "laptop-3-compare.png", full_page=True)
    # Another model in its place: its own reconstruction, title and link.
    act(page, lambda: choose_beside(page, "plain-ae"))
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
    act(page, lambda: choose_beside(page, ""))
    assert not src(page, "compare-recon") and page.locator(".dae-compare").is_hidden()
    assert "compare=" not in address(page)


def test_upload_errors_are_said_in_one_style_then_a_good_upload_shows(laptop, tmp_path):
    page = laptop
    pick_sample(page, 12)
    assert all(src(page, elem) for elem in RESULTS)

    input_tab(page, "Upload")
    message, preview = page.locator("#upload-message"), page.locator("#upload-preview")
    # A text file named as a picture, then one named as what it is: the same message, the page's own.
    for name in ("digit.png", "notes.txt"):
        bad = tmp_path / name
        bad.write_text("this is not an image")
        act(page, lambda bad=bad: page.locator("#upload-file").set_input_files(str(bad)))
        assert message.is_visible(), name
        assert message.inner_text().count("not an image that can be read") == 1, message.inner_text()
        assert lines_of(page, "#upload-message") == 1, name
        assert page.locator(".toast-body").count() == 0  # no popup
        assert not any(src(page, elem) for elem in RESULTS)  # nothing of the sample stays beside the bad file
        assert preview.is_hidden()
        assert "pixels=" not in address(page) and "digit=" not in address(page)  # the link names no digit
    page.screenshot(path=ARTIFACTS / "laptop-5-bad-upload.png", full_page=True)

    # A good upload: the message goes, the picture itself is shown beside the digit it became.
    good = tmp_path / "seven.png"
    Image.fromarray(sample_pixels(70)).resize((140, 140)).save(good)
    act(page, lambda: page.locator("#upload-file").set_input_files(str(good)))
    assert all(src(page, elem) for elem in RESULTS)
    assert message.is_hidden() and page.locator(".toast-body").count() == 0
    page.wait_for_function(
        "() => { const p = document.querySelector('#upload-preview');"
        " return !p.hidden && p.complete && p.naturalWidth > 0; }"
    )
    assert preview.is_visible()


def test_drawing_tools_are_icons_with_words(laptop):
    page = laptop
    input_tab(page, "Draw")
    buttons = page.locator("#sketch .dae-tools button")
    words = []
    for i in range(buttons.count()):
        button = buttons.nth(i)
        icon = button.locator("svg.dae-icon")
        assert icon.count() == 1 and icon.is_visible(), i
        drawn = icon.bounding_box()
        assert drawn["width"] >= 12 and drawn["height"] >= 12, drawn
        text = button.text_content()
        # inline SVG, never an emoji (whose look depends on the fonts a computer has)
        assert not [c for c in text if unicodedata.category(c) == "So" or "\ufe00" <= c <= "\ufe0f"], text
        words.append(button.inner_text().strip())
    assert words == ["Pen", "Eraser", "Undo", "Clear"]


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
    assert np.array_equal(shown_digit(page), sample_pixels(sample_of(page, "samples")))

    # The noise kinds are one radio group (one name): arrow keys move the choice, and the slider follows.
    if page.locator("#kind input:checked").get_attribute("value") != "gaussian":
        choose_kind(page, "gaussian")
    page.locator("#kind input[value=gaussian]").focus()
    act(page, lambda: page.keyboard.press("ArrowRight"))
    page.wait_for_function("() => document.querySelector('#kind input:checked')?.value === 'mask'")
    page.wait_for_function("() => document.querySelector('#strength').max === '0.9'")
    outline = page.evaluate(
        "() => getComputedStyle(document.activeElement)['outline-style'] + ' '"
        " + getComputedStyle(document.activeElement)['outline-width']"
    )
    assert outline.split()[0] != "none" and float(outline.split()[1].rstrip("px")) >= 2, outline
    page.locator("#strength").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible
    outline = page.evaluate(
        "() => getComputedStyle(document.activeElement)['outline-style'] + ' '"
        " + getComputedStyle(document.activeElement)['outline-width']"
    )
    assert page.evaluate("() => document.activeElement.id") == "strength"
    assert outline.split()[0] != "none" and float(outline.split()[1].rstrip("px")) >= 2, outline
    choose_kind(page, "gaussian")


# ---- a phone, and every screen ----------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_phone_layout(browser, url, theme):
    page = open_page(browser, url, PHONE, theme)
    try:
        # The drawing tools sit under the drawing area, on screen, and the canvas fits the screen.
        canvas = box(page, "#sketch canvas")
        assert not overlap(box(page, "#sketch .dae-tools"), canvas), (box(page, "#sketch .dae-tools"), canvas)
        assert inside_viewport(box(page, "#sketch .dae-tools"), PHONE) and inside_viewport(canvas, PHONE)

        # After drawing, one scroll shows the four results (under the controls, with them), none over another
        # or the canvas.
        act(page, lambda: draw_stroke(page))
        assert all(src(page, elem) for elem in RESULTS)
        page.evaluate("() => document.querySelector('.dae-results-row').scrollIntoView({block: 'end'})")
        assert inside_viewport(box(page, "#strength"), PHONE)
        boxes = {elem: box(page, f"#{elem} img") for elem in RESULTS}
        for elem, b in boxes.items():
            assert inside_viewport(b, PHONE), (elem, b)
            assert b["width"] >= 80, (elem, b)
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
        close(page)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("screen", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_nothing_sticks_out_and_the_results_are_readable_beside_the_slider(browser, url, screen, theme):
    page = open_page(browser, url, screen, theme)
    try:
        assert page.evaluate("() => document.body.classList.contains('dark')") == (theme == "dark")
        act(page, lambda: draw_stroke(page))
        assert all(src(page, elem) for elem in RESULTS)
        # Nothing wider than the screen: no sideways scrolling.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= screen["width"]
        # Every result at least 80 px wide, every caption whole (none cut off with an ellipsis).
        for elem in RESULTS:
            assert box(page, f"#{elem} img")["width"] >= 80, (elem, box(page, f"#{elem} img"))
        captions = page.evaluate("""() => [...document.querySelectorAll('#results figcaption')]
            .filter((f) => f.getClientRects().length)
            .flatMap((f) => [...f.children].filter((s) => s.getClientRects().length).map((s) =>
              [s.textContent, f.scrollWidth, f.clientWidth, s.getBoundingClientRect().width]))""")
        assert len(captions) >= 4, captions
        for text, scroll, client, width in captions:
            assert text and scroll <= client + 1 and width <= client + 1, (text, scroll, client, width)
        # One scroll shows the strength slider and the results together.
        page.evaluate("() => document.querySelector('.dae-results-row').scrollIntoView({block: 'end'})")
        assert inside_viewport(box(page, "#strength"), screen), box(page, "#strength")
        for elem in RESULTS:
            assert inside_viewport(box(page, f"#{elem} img"), screen), (elem, box(page, f"#{elem} img"))
        name = "phone" if screen is PHONE else "laptop"
        page.screenshot(path=ARTIFACTS / f"{name}-{theme}-layout.png")
    finally:
        close(page)


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
        close(page)


def test_clear_is_undoable(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        act(page, lambda: draw_stroke(page))
        act(page, lambda: draw_stroke(page, dx=-60))
        drawing = src(page, "clean")
        assert drawing
        act(page, page.locator("#sketch [data-action=clear]").click)
        assert not any(src(page, elem) for elem in RESULTS)
        assert "Draw a digit" in page.locator("#metrics").inner_text()  # the hint, in place of the results
        # Undo brings back every stroke Clear took: the same digit, exactly, and its results.
        assert page.locator("#sketch [data-action=undo]").is_enabled()
        act(page, page.locator("#sketch [data-action=undo]").click)
        assert src(page, "clean") == drawing
        assert all(src(page, elem) for elem in RESULTS)
        assert "Draw a digit" not in page.locator("#metrics").inner_text()
    finally:
        close(page)


def test_a_stroke_that_leaves_the_canvas_ends_at_its_edge_and_a_release_anywhere_ends_it(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        sent = render_requests(page)
        canvas = box(page, "#sketch canvas")
        side = page.evaluate("() => document.querySelector('#sketch canvas').width")  # canvas pixels
        cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
        elsewhere = box(page, "[role=tab]:has-text('Latent space')")

        def out_and_away():
            # from the middle out of the right edge and far beyond, then up to a tab, released over it
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(canvas["x"] + canvas["width"] + 300, cy, steps=30)
            page.mouse.move(elsewhere["x"] + elsewhere["width"] / 2, elsewhere["y"] + elsewhere["height"] / 2)
            page.mouse.up()

        act(page, out_and_away)
        drawn = src(page, "clean")
        assert drawn and page.get_by_role("tab", name="Denoise").get_attribute("aria-selected") == "true"
        strokes = sent[-1]["source"]["strokes"]
        assert len(strokes) == 1, strokes
        points = strokes[0]["points"]
        # It ends where it left the canvas: on its right edge, at the height it was drawn at.
        assert points[-1][0] == side and abs(points[-1][1] - side / 2) <= 2, points[-3:]
        assert all(0 <= x <= side and 0 <= y <= side for x, y in points), points

        # The button is up: the mouse moving over the canvas draws nothing (the next answer, to another
        # strength, still has the one stroke and its digit).
        page.mouse.move(canvas["x"] + 20, canvas["y"] + 20)
        page.mouse.move(canvas["x"] + canvas["width"] - 20, canvas["y"] + canvas["height"] - 20, steps=20)
        slide(page, "0.8")
        assert sent[-1]["source"]["strokes"] == strokes
        assert src(page, "clean") == drawn
    finally:
        close(page)


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
        close(page)


def test_a_kind_starts_at_its_default_strength_and_the_latent_reset(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        pick_sample(page, 20)
        default = noisy_sample(20, "gaussian", 0.5, 0)  # the page's defaults: Gaussian noise, σ = 0.5, seed 0
        assert np.array_equal(shown_digit(page, "noisy"), default)
        slide(page, "0.9")
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(20, "gaussian", 0.9, 0))
        # Another kind starts at its own default strength, within its own range; back again, the default.
        choose_kind(page, "mask")
        assert page.locator("#strength").input_value() == "0.5" and page.locator("#strength").get_attribute(
            "max"
        ) == str(0.9)
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(20, "mask", 0.5, 0))
        choose_kind(page, "gaussian")
        assert page.locator("#strength-value").inner_text() == "0.50"
        assert np.array_equal(shown_digit(page, "noisy"), default)  # back at 0.5: its results, not the old

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
        close(page)


def test_seed_messages_are_in_plain_words_and_a_good_seed_brings_the_results_back(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        pick_sample(page, 20)
        for bad in ("-3", "2.5", "abc", "", "99999999999999999999"):
            type_seed(page, bad)
            status = page.locator("#metrics").inner_text()
            assert SEED_RANGE in status and f"'{bad}'" in status, (bad, status)  # the value as typed
            assert np.array_equal(shown_digit(page), sample_pixels(20))  # the digit stays
            assert not any(
                src(page, elem) for elem in ("noisy", "recon", "error")
            )  # no result of another seed
            assert page.locator(".toast-body").count() == 0  # the app's own message, no popup
            assert page.locator("#seed").input_value() == bad  # what was typed stays, to be corrected
        type_seed(page, "3")
        assert SEED_RANGE not in page.locator("#metrics").inner_text()
        assert all(src(page, elem) for elem in RESULTS)
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(20, "gaussian", 0.5, 3))
    finally:
        close(page)


def test_the_seed_typed_and_new_noise_are_in_the_address(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        pick_sample(page, 9)
        type_seed(page, "12345")
        assert "seed=12345" in address(page)
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(9, "gaussian", 0.5, 12345))
        act(page, page.locator("#new-noise").click)  # the next seed
        assert page.locator("#seed").input_value() == "12346" and "seed=12346" in address(page)
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(9, "gaussian", 0.5, 12346))
        fresh = open_page(browser, url, LAPTOP, query=address(page).lstrip("?"))
        try:
            assert fresh.locator("#seed").input_value() == "12346"
            assert np.array_equal(shown_digit(fresh, "noisy"), noisy_sample(9, "gaussian", 0.5, 12346))
        finally:
            close(fresh)
    finally:
        close(page)


def test_the_curve_follows_the_slider(laptop):
    page = laptop
    pick_sample(page, 61)
    assert page.locator("#curve svg").count() == 2  # two panels: PSNR and the classifier's probability
    before = page.locator("#curve svg .marker").first.get_attribute("x1")
    now = page.locator("#strength").input_value()
    slide(page, "0.3" if now == "0.2" else "0.2")
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
    assert f"digit={load_test_indices()[12]}" in address(page)
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
    slide(page, "0.95")
    moved = view_state(page)
    assert all(
        moved[n] != state[n] for n in ["layers", "layers-conv1", "layers-code", "latent-map", "learning"]
    ), moved
    assert moved["latent-map-clean"] == state["latent-map-clean"]
    # Another digit: its clean code moves too.
    act(page, page.locator("#samples button.thumbnail-item").nth(77).click)
    again = view_state(page)
    assert all(again[n] != moved[n] for n in VIEW_PARTS), again
    assert parse_qs(address(page).lstrip("?"))["views"] == ["curve,layers,latent-map,learning"]

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
    act(page, lambda: choose_beside(page, "unet"))
    assert page.locator("#layers .dae-layers").count() == 2
    assert "global context code" in page.locator("#layers .dae-layers").nth(1).inner_text()
    # A 2-number code beside it: its layers say so, and its own map (the code plane) shows and decodes a
    # click, the only clicked point (the DAE's map no longer decodes one).
    code2 = page.locator('#latent-map .dae-map[data-model="dae-code2"]')
    assert code2.is_hidden()
    act(page, lambda: choose_beside(page, "dae-code2"))
    assert page.locator("#layers .dae-layers").nth(1).locator(".dae-shape").nth(4).inner_text() == "2"
    assert code2.is_visible() and code2.locator(".dae-map-noisy").count() == 1
    plane = code2.locator(".dae-map-picture")
    plane.scroll_into_view_if_needed()
    side = plane.bounding_box()["width"]
    act(page, lambda: plane.click(position={"x": side * 0.5, "y": side * 0.5}))
    assert src(page, "map-decoded-dae-code2") and not src(page, "map-decoded-dae")
    act(page, lambda: choose_beside(page, ""))
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
        close(page)


# ---- links, opened in a fresh browser ----------------------------------------------------------------


def test_a_link_restores_the_view_pixel_for_pixel(browser, url):
    # a link of the older form (`sample=`: the picker's index) still works
    page = open_page(browser, url, LAPTOP, query="sample=34&noise=mask&strength=0.5&seed=7&compare=plain-ae")
    try:
        noisy = src(page, "noisy")
        assert noisy, ("page state:", page.url, page.locator("#metrics").inner_text())
        assert sample_of(page, "samples") == 34
        assert np.array_equal(pixels(noisy), noisy_sample(34, "mask", 0.5, 7))
        # the model the link names is beside the DAE, and the dropdown says which
        assert src(page, "compare-recon") and page.locator(".dae-compare-title").inner_text() == PLAIN_TITLE
        assert page.locator("#compare").input_value() == "plain-ae"
        caption = page.locator("#source-caption").inner_text()
        assert caption == f"MNIST test digit #{load_test_indices()[34]}, a 3"
        assert page.locator("#kind input:checked").get_attribute("value") == "mask"
        assert page.locator("#seed").input_value() == "7"
        # The address follows the state as it changes, naming the digit by its test-set number.
        act(page, page.locator("#samples button.thumbnail-item").nth(35).click)
        parts = (f"digit={load_test_indices()[35]}", "noise=mask", "seed=7", "compare=plain-ae")
        assert all(part in address(page) for part in parts), address(page)
    finally:
        close(page)


SHOWN = RESULTS + ("compare-recon", "compare-error")


def same_view(first, second) -> None:
    """Two pages show the same thing: every result image pixel for pixel, the same views open and filled
    alike, the same controls."""
    for elem in SHOWN:
        a, b = src(first, elem), src(second, elem)
        assert (a is None) == (b is None), elem
        if a:
            assert np.array_equal(picture(a), picture(b)), elem
    assert open_details(second) == open_details(first)
    bodies = (
        "() => [...document.querySelectorAll('#views details[open] .dae-view-body')].map((b) => b.innerHTML)"
    )
    assert second.evaluate(bodies) == first.evaluate(bodies)
    controls = """() => ['#kind input:checked', '#strength', '#seed', '#compare'].map((s) =>
        document.querySelector(s).value).concat(['#strength-value', '#source-caption'].map((s) =>
        document.querySelector(s).textContent))"""
    assert second.evaluate(controls) == first.evaluate(controls)


def test_a_link_restores_a_sample_its_comparison_and_views_in_a_fresh_browser(browser, url):
    first = open_page(browser, url, LAPTOP)
    try:
        pick_sample(first, 34)
        choose_kind(first, "mask")
        slide(first, "0.4")
        type_seed(first, "7")
        act(first, lambda: choose_beside(first, "plain-ae"))
        open_views(first, ("layers", "learning"))
        link = address(first)
        assert f"digit={load_test_indices()[34]}" in link and "compare=plain-ae" in link, link
        second = open_page(browser, url, LAPTOP, query=link.lstrip("?"))
        try:
            assert sample_of(second, "samples") == 34
            assert np.array_equal(shown_digit(second, "noisy"), noisy_sample(34, "mask", 0.4, 7))
            assert src(second, "compare-recon")
            assert open_details(second) == ["curve", "layers", "learning"]
            same_view(first, second)
        finally:
            close(second)
    finally:
        close(first)


def test_a_link_restores_a_drawing_in_a_fresh_browser(browser, url):
    first = open_page(browser, url, LAPTOP)
    try:
        act(first, lambda: draw_stroke(first, dx=40))
        slide(first, "0.7")
        type_seed(first, "11")
        open_views(first, ("kinds",))
        link = address(first)
        digit = linked_digit(link)  # the link carries the digit drawn, as the page reduced it
        assert np.array_equal(shown_digit(first, "clean"), digit)
        second = open_page(browser, url, LAPTOP, query=link.lstrip("?"))
        try:
            assert np.array_equal(shown_digit(second, "clean"), digit)
            assert np.array_equal(pixels(src(second, "noisy")), pixels(src(first, "noisy")))
            assert np.array_equal(shown_digit(second, "noisy"), noisy_of(digit / 255, "gaussian", 0.7, 11))
            assert open_details(second) == ["curve", "kinds"]
            same_view(first, second)
            assert second.locator(".dae-canvas-note").is_visible()  # says that the digit came with the link
        finally:
            close(second)
    finally:
        close(first)


def test_a_link_restores_an_upload_in_a_fresh_browser(browser, url, tmp_path):
    first = open_page(browser, url, LAPTOP)
    try:
        good = tmp_path / "seven.png"
        Image.fromarray(sample_pixels(70)).resize((112, 112)).save(good)
        input_tab(first, "Upload")
        act(first, lambda: first.locator("#upload-file").set_input_files(str(good)))
        link = address(first)
        assert "tab=upload" in link, link
        digit = linked_digit(link)
        assert np.array_equal(shown_digit(first, "clean"), digit)
        second = open_page(browser, url, LAPTOP, query=link.lstrip("?"))
        try:
            assert second.get_by_role("tab", name="Upload").get_attribute("aria-selected") == "true"
            assert np.array_equal(shown_digit(second, "clean"), digit)
            assert np.array_equal(pixels(src(second, "noisy")), pixels(src(first, "noisy")))
            assert np.array_equal(shown_digit(second, "noisy"), noisy_of(digit / 255, "gaussian", 0.5, 0))
            same_view(first, second)
        finally:
            close(second)
    finally:
        close(first)


# ---- when the server fails, and the projector view ----------------------------------------------------

TROUBLE = "The render service is down for a test."


def test_a_failing_render_is_said_on_the_page_and_the_page_recovers(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        pick_sample(page, 8)
        shown = {elem: src(page, elem) for elem in RESULTS}

        def refuse(route):
            route.fulfill(status=500, content_type="application/json", body=json.dumps({"error": TROUBLE}))

        page.route("**/dae/render", refuse)
        page.locator("#strength").fill("0.9")
        # Said where the results are, and asked again, later each time (the second failure's wait is 1 s).
        page.wait_for_function(
            """t => { const n = document.querySelector('#render-problem');
            return n && !n.hidden && n.textContent.includes(t) && n.textContent.includes('in 1.0 s'); }""",
            arg=TROUBLE,
        )
        note = page.locator("#render-problem")
        assert note.is_visible() and "not current" in note.inner_text()
        # The results it had stay on screen, marked and dimmed as not current.
        stale = page.evaluate("""() => {
            const s = document.querySelector('#render-problem').closest('.dae-stale');
            const row = s && s.querySelector('.dae-results-row');
            return row ? Number(getComputedStyle(row).opacity) : null; }""")
        assert stale is not None and stale < 1, stale
        assert {elem: src(page, elem) for elem in RESULTS} == shown
        assert page.locator(".toast-body").count() == 0

        # The server answers again: the page asks again by itself, shows the latest state and says no more.
        since = page.evaluate("() => performance.now()")
        page.unroute("**/dae/render")
        page.wait_for_function(
            """since => window.__shown.some((d) => d.sentAt >= since && !d.live)
            && document.querySelector('#render-problem').hidden && !document.querySelector('.dae-stale')""",
            arg=since,
        )
        assert np.array_equal(shown_digit(page, "noisy"), noisy_sample(8, "gaussian", 0.9, 0))
        assert all(src(page, elem) for elem in RESULTS)
    finally:
        close(page)


def test_the_projector_view_shows_the_results_larger(browser, url):
    digit = f"digit={load_test_indices()[40]}"
    page = open_page(browser, url, LAPTOP, query=digit)
    try:
        normal = {elem: box(page, f"#{elem} img")["width"] for elem in RESULTS}
        guess = page.locator("#clean .dae-guess").evaluate("(g) => parseFloat(getComputedStyle(g).fontSize)")
        toggle = page.locator("#present")
        assert toggle.get_attribute("aria-pressed") == "false"
        toggle.click()
        page.wait_for_function("() => document.body.classList.contains('dae-present')")
        large = {elem: box(page, f"#{elem} img")["width"] for elem in RESULTS}
        assert all(large[e] >= 1.2 * normal[e] for e in RESULTS), (normal, large)
        # Only the results: no controls; each with its short caption and its reading, in large type.
        assert page.locator("#strength").is_hidden() and page.locator("#kind").is_hidden()
        assert [page.locator(f"#{e} figcaption").inner_text() for e in RESULTS] == [
            "Input",
            "Noisy",
            "DAE",
            "Error",
        ]
        bigger = page.locator("#clean .dae-guess").evaluate("(g) => parseFloat(getComputedStyle(g).fontSize)")
        assert bigger >= 1.2 * guess, (guess, bigger)
        assert toggle.get_attribute("aria-pressed") == "true" and "present=1" in address(page)
        page.screenshot(path=ARTIFACTS / "laptop-6-projector.png")
        # Save figure: the results as one PNG, drawn by the server.
        with page.expect_download() as download:
            page.locator("#save-figure").click()
        figure = Image.open(download.value.path())
        assert figure.format == "PNG" and figure.width >= 400, (figure.format, figure.size)
    finally:
        close(page)

    # A link with present=1 opens in it; the toggle brings the normal view back.
    page = open_page(browser, url, LAPTOP, query=digit + "&present=1")
    try:
        assert page.evaluate("() => document.body.classList.contains('dae-present')")
        assert all(abs(box(page, f"#{e} img")["width"] - large[e]) <= 1 for e in RESULTS)
        toggle = page.locator("#present")
        assert toggle.get_attribute("aria-pressed") == "true"
        toggle.click()
        page.wait_for_function("() => !document.body.classList.contains('dae-present')")
        assert all(abs(box(page, f"#{e} img")["width"] - normal[e]) <= 1 for e in RESULTS)
        assert toggle.get_attribute("aria-pressed") == "false" and "present=" not in address(page)
        assert page.locator("#strength").is_visible()  # the controls are back, and the long captions
        assert page.locator("#clean figcaption").inner_text() == "Input (as the model sees it)"
    finally:
        close(page)


# ---- the Train tab: a real (small) run in the worker process --------------------------------------------

# Every progress line the Train tab shows, with its bar's value at that moment.
WATCH_PROGRESS = """() => { window.__progress = [];
  const line = document.querySelector('#train-progress'), bar = document.querySelector('#train-bar');
  new MutationObserver(() => window.__progress.push([line.textContent, bar.value]))
    .observe(line, {childList: true, characterData: true, subtree: true}); }"""


@pytest.mark.timeout(900)
def test_a_small_training_run_reports_progress_and_your_model_goes_beside_the_dae(browser, url):
    page = open_page(browser, url, LAPTOP)
    try:
        yours = page.locator("#compare option[value=yours]")
        assert yours.get_attribute("hidden") is not None  # no model of this page's own yet
        page.get_by_role("tab", name="Train").click()
        start = page.locator("#train-start")
        start.wait_for()
        # The fewest digits offered (the settings' other choices stay at the page's defaults).
        offered = page.locator("#train-digits option").evaluate_all(
            "(all) => all.map((o) => Number(o.value))"
        )
        page.locator("#train-digits").select_option(str(min(offered)))
        page.wait_for_function("() => document.querySelector('#train-estimate').textContent.includes('s')")
        page.evaluate(WATCH_PROGRESS)
        start.click()
        # At least three reports of the run as it goes, each further along (its digits and its bar).
        page.wait_for_function(
            """() => new Set(window.__progress
                .filter(([t, v]) => / of [\\d,]+ digits/.test(t) && v > 0 && v < 1)
                .map(([t, v]) => v)).size >= 3""",
            timeout=TRAINING,
        )
        along = [(t, v) for t, v in page.evaluate("() => window.__progress") if 0 < v < 1]
        assert [v for _, v in along] == sorted(v for _, v in along), along
        assert all(f"of {min(offered):,} digits" in t for t, _ in along), along  # the run chosen
        page.wait_for_function(
            "() => document.querySelector('#train-progress').textContent.startsWith('Done.')",
            timeout=TRAINING,
        )
        assert page.locator("#train-bar").evaluate("(b) => b.value") == 1
        assert page.locator("#train-chart svg").count() >= 1
        assert (
            page.locator("#train-recons img").count() == 16
        )  # 8 noisy test digits and what it makes of them
        assert page.locator("#train-yours").is_visible()
        page.screenshot(path=ARTIFACTS / "laptop-7-trained.png", full_page=True)

        # Your model is offered beside the DAE, and shows its own reconstruction.
        page.wait_for_function("() => !document.querySelector('#compare option[value=yours]').hidden")
        pick_sample(page, 3)
        act(page, lambda: choose_beside(page, "yours"))
        assert src(page, "compare-recon") and src(page, "compare-error")
        assert page.locator(".dae-compare-title").inner_text() == "your model"
        assert "compare=yours" in address(page)
    finally:
        close(page)
