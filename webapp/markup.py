"""The page's own HTML: the canvas, the results, the views and the sample picker, filled in by
static/controller.js.

Markup only: the page's behaviour is in static/*.js, its styles in static/page.css.
"""

from __future__ import annotations

import html

from .captions import JUDGE_NOTE
from .views.code_space import map_legend

# Inline icons (no emoji font needed), each beside its word.
ICONS = {
    "pen": '<path d="M3 17.5V21h3.5L17.8 9.7l-3.5-3.5z'
    'M20.7 6.8a1 1 0 0 0 0-1.4l-2.1-2.1a1 1 0 0 0-1.4 0L15.5 5l3.5 3.5z"/>',
    "eraser": '<path d="M16.2 3.6 21 8.4a1.5 1.5 0 0 1 0 2.1L12 19.5h8V21H8.4l-5.4-5.4a1.5 1.5 0 0 1 0-2.1'
    'L14.1 3.6a1.5 1.5 0 0 1 2.1 0zM5.1 14.6 9.5 19h.4l3.4-3.4-4.7-4.7z"/>',
    "undo": '<path d="M12.5 8C9.9 8 7.5 9 5.6 10.6L2 7v9h9l-3.6-3.6'
    'A8 8 0 0 1 20.1 16l2.4-.8A10.5 10.5 0 0 0 12.5 8z"/>',
    "clear": '<path d="M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z"/>',
}


def icon(name: str) -> str:
    return (
        f'<svg class="dae-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">{ICONS[name]}</svg>'
    )


CANVAS_HTML = f"""<div class="dae-canvas-wrap">
  <div class="dae-canvas-box">
    <canvas width="{{side}}" height="{{side}}" \
aria-label="Drawing area: draw a digit with the mouse, a finger or a pen"></canvas>
    <p class="dae-canvas-note" hidden>The digit from the link is shown: draw to replace it.</p>
  </div>
  <div class="dae-tools" role="toolbar" aria-label="Drawing tools">
    <button type="button" data-tool="pen" aria-pressed="true">{icon("pen")} Pen</button>
    <button type="button" data-tool="eraser" aria-pressed="false">{icon("eraser")} Eraser</button>
    <button type="button" data-action="undo" aria-label="Undo (Ctrl+Z)">{icon("undo")} Undo</button>
    <button type="button" data-action="clear" \
aria-label="Clear the canvas (Undo brings it back)">{icon("clear")} Clear</button>
  </div>
</div>"""

UPLOAD_HTML = """<div class="dae-upload">
  <label class="dae-button dae-file">Choose an image of a digit
    <input type="file" id="upload-file" accept="image/*"></label>
  <p class="dae-note">\
A scan, a screenshot or a photo of a digit on paper, up to 10 MB; it is reduced to MNIST's 28 × 28.</p>
  <p id="upload-message" class="dae-problem" role="status" hidden></p>
  <img id="upload-preview" alt="Your picture" hidden>
</div>"""


def figure(elem_id: str, caption: str, short: str, alt: str, guess: bool = True) -> str:
    """One result: its caption (a short one on a phone), the image (28 x 28, shown large with square pixels)
    and the classifier's reading."""
    return (
        f'<figure id="{elem_id}" class="dae-figure"><figcaption><span class="dae-long">{caption}</span>'
        f'<span class="dae-short">{short}</span></figcaption>'
        f'<img alt="{alt}" hidden>'
        f'<div class="dae-guess" aria-live="polite">{"" if guess else "&nbsp;"}</div></figure>'
    )


def controls_html(kinds: list, beside: list) -> str:
    """The noise, its strength and seed, and the model beside the DAE: the page's own controls, above the
    results."""
    radios = "".join(
        f'<label class="dae-kind{"" if k.seen else " dae-unseen"}"><input type="radio" name="dae-kind" '
        f'value="{k.name}" data-max="{k.max_strength:g}" data-default="{k.default_strength:g}" '
        f'data-name="{html.escape(k.strength_name)}"'
        f"{' checked' if i == 0 else ''}> "
        f"{html.escape(k.label)}{'' if k.seen else ' <small>(never seen in training)</small>'}</label>"
        for i, k in enumerate(kinds)
    )
    first = kinds[0]
    options = "".join(f'<option value="{m.name}">{html.escape(m.title)}</option>' for m in beside)
    return f"""<div class="dae-controls">
  <fieldset id="kind"><legend>Noise</legend>{radios}</fieldset>
  <div class="dae-strength">
    <label for="strength">Strength: <span id="strength-name">{html.escape(first.strength_name)}</span></label>
    <div class="dae-slider"><input type="range" id="strength" min="0" max="{first.max_strength:g}" step="any"
      value="{first.default_strength:g}">\
<output id="strength-value" for="strength">{first.default_strength:.2f}</output></div>
  </div>
  <div class="dae-seed">
    <label for="seed">Noise seed</label>
    <input type="text" id="seed" inputmode="numeric" value="0" autocomplete="off" spellcheck="false"
      aria-describedby="seed-help"><button type="button" id="new-noise" class="dae-button">New noise</button>
    <span id="seed-help" class="dae-note">a whole number from 0 to 2,147,483,647; Enter to apply</span>
  </div>
  <label class="dae-beside"{"" if beside else " hidden"}>Beside the DAE, for comparison
    <select id="compare"><option value="">nothing</option>{options}\
<option value="yours" hidden>your model (Train tab)</option>
    </select></label>
</div>"""


VIEW_NOTES = {
    "layers": "What the DAE computes from the noisy digit, stage by stage, as the next stage receives it "
    "(after its activation). Bright is a large activation; each stage has one scale for all its maps. With a "
    "model beside the DAE, its stages follow.",
    "kinds": "The digit under every kind of noise at the same share of each one's range as the slider, each "
    "with the DAE's reconstruction and the judge's reading. The last four were never seen in training.",
}


def map_details(models: list) -> str:
    """The code-space view: each map's picture (the same for everyone, sent once with the page) under its
    marks.

    The DAE's map shows from the start; another model's map (a 2-number code's plane) shows while that
    model is beside the DAE and its answer fills it.
    """
    maps = [m for m in models if m.map_picture is not None]
    if not maps:
        return ""
    blocks = []
    for m in maps:
        what = (
            f"its true code plane: {m.title}'s 2 numbers, as they are"
            if m.code_map.exact
            else f"the {m.title}'s {m.code_map.code_size} numbers projected on the two directions in which "
            "the codes vary most (PCA)"
        )
        blocks.append(
            f'<div class="dae-map" data-model="{m.name}"{"" if m.name == "dae" else " hidden"}>'
            '<p class="dae-note">Every dot is one of the 10,000 MNIST test digits, placed by its code: '
            f"{html.escape(what)}, coloured by its true digit.</p>"
            f'<div class="dae-map-wrap"><img class="dae-map-picture" data-model="{m.name}" '
            f'src="{m.map_picture}" alt="The codes of the 10,000 test digits, coloured by class">'
            f'<div class="dae-view-body" data-model="{m.name}"></div></div></div>'
        )
    # your model's map (Train tab) comes with its first answer: its place is kept here, after the served ones
    blocks.append(
        '<div class="dae-map" data-model="yours" hidden>'
        '<p class="dae-note">Your model\'s codes of the 10,000 '
        "test digits (its code plane, or their projection on two directions), coloured by the true digit.</p>"
        '<div class="dae-map-wrap"><div class="dae-view-body" data-model="yours"></div></div></div>'
    )
    return f"""<details id="latent-map"><summary>The code space: where this digit's code lies</summary>
  {"".join(blocks)}
  <div class="dae-legend-row dae-map-legend">{map_legend()}</div>
</details>"""


def results_html(controls: str, colorbar: str, hint: str) -> str:
    """The Denoise tab's controls and results; the page's controller fills them in."""
    return f"""<div class="dae-panel">
  {controls}
  <p id="render-problem" class="dae-problem" role="status" hidden></p>
  <div id="source-caption" class="dae-caption"></div>
  <div class="dae-row dae-results-row">
    {figure("clean", "Input (as the model sees it)", "Input", "The input digit, 28 by 28 pixels")}
    {figure("noisy", "Noisy input", "Noisy", "The input with noise added")}
    {figure("recon", "DAE reconstruction", "DAE", "The autoencoder's reconstruction of the noisy input")}
    {
        figure(
            "error",
            "Error map",
            "Error",
            "Per-pixel error of the reconstruction, dark is no error",
            guess=False,
        )
    }
  </div>
  <div class="dae-row dae-compare" hidden>
    <p class="dae-note"><b class="dae-compare-title"></b>, the same noisy input: \
<span class="dae-compare-note"></span></p>
    {
        figure(
            "compare-recon",
            "Its reconstruction",
            "Its",
            "The compared model's reconstruction of the noisy input",
        )
    }
    {
        figure(
            "compare-error",
            "Its error map",
            "Error",
            "Per-pixel error of the compared model's reconstruction",
            guess=False,
        )
    }
  </div>
  {colorbar}
  <p class="dae-note dae-judge">{JUDGE_NOTE}</p>
  <div id="metrics" aria-live="polite">{hint}</div>
  <div class="dae-actions">
    <button type="button" id="copy-link" class="dae-button">Copy link</button>
    <button type="button" id="save-figure" class="dae-button">Save figure</button>
    <button type="button" id="present" class="dae-button" aria-pressed="false">Projector view</button>
  </div>
  <p id="link-note" class="dae-note" role="status" hidden></p>
</div>"""


def train_html(
    noises: list, code_sizes: tuple, digits: tuple, default_digits: int, where: str, on: bool = True
) -> str:
    """The Train tab: the settings that teach, each with what it changes; Start, Stop and the run's
    progress."""
    noise_rows = [
        ("blind", "blind: every kind at random strengths, never told which (the DAE the app serves)", None),
        ("none", "none: a plain autoencoder, it never sees noise", None),
    ] + [(k.name, f"{k.label} only, at", k) for k in noises]
    rows = "".join(
        "<label>"
        f'<input type="radio" name="train-noise" value="{name}"{" checked" if name == "blind" else ""}> '
        f"{html.escape(text)}"
        + (
            f' {html.escape(k.strength_name.split()[0])} <input type="number" data-strength-of="{name}" '
            f'min="0.01" max="{k.max_strength:g}" step="0.01" value="{k.default_strength:g}" '
            f'aria-label="{html.escape(k.label)} strength">'
            if k
            else ""
        )
        + "</label>"
        for name, text, k in noise_rows
    )
    codes = "".join(
        f'<option value="{c}"{" selected" if c == 256 else ""}>'
        f"{c}{' (the specification)' if c == 256 else ''}"
        "</option>"
        for c in code_sizes
    )
    lengths = "".join(
        f'<option value="{d}"{" selected" if d == default_digits else ""}>{d:,} digits '
        f"({d / 60_000:g} epoch{'s' if d > 60_000 else ''}{', the specification' if d == 600_000 else ''})"
        "</option>"
        for d in digits
    )
    off = "" if on else " disabled data-off"  # training is off on this server
    return f"""<div class="dae-panel dae-train">
  <p class="dae-note">\
Train the DAE yourself: the specification's recipe (batch 64, Adam, learning rate 0.001, weight
  decay 1e-5) with the settings below, on {html.escape(where)}. One run at a time on this server.</p>
  <form id="train-settings" onsubmit="return false">
    <fieldset><legend>The noise it sees in training</legend>{rows}
      <p class="dae-note">What it learns to remove; with none it only learns to copy.</p></fieldset>
    <label>Code size <select id="train-code">{codes}</select>
      <span class="dae-note">\
numbers in the bottleneck: fewer keep less detail, and less of the noise</span></label>
    <label>How long <select id="train-digits">{lengths}</select> \
<span id="train-estimate" class="dae-note"></span></label>
    <label>Seed <input type="number" id="train-seed" min="0" step="1" value="0">
      <span class="dae-note">the initial weights, the order of the digits and the noise</span></label>
  </form>
  <div class="dae-actions">
    <button type="button" id="train-start" class="dae-button dae-primary"{off}>Start training</button>
    <button type="button" id="train-stop" class="dae-button" disabled>Stop</button>
  </div>
  <progress id="train-bar" max="1" value="0"></progress>
  <p id="train-progress" role="status">Choose the settings and press Start.</p>
  <div id="train-chart"></div>
  <p class="dae-note">\
The same 8 noisy test digits (top) and what the model makes of them now (bottom), with the judge's
  reading:</p>
  <div id="train-recons" class="dae-row"></div>
  <p id="train-yours" class="dae-note" hidden>\
Your model is now offered on the Denoise tab, beside the DAE ("your model").
  <a id="train-download" href="#" hidden>Download it</a> (a checkpoint folder: \
<code>python app.py --checkpoint
  your-model</code> serves it).</p>
</div>"""


def views_html(models: list) -> str:
    """The teaching views under the results, full width; each open one is filled in by the same answer as the
    results."""
    return f"""<div class="dae-panel dae-views">
  <details id="curve" open><summary>Quality against noise, for this digit</summary>\
<div class="dae-view-body"></div></details>
  <details id="layers"><summary>Layer by layer: inside the network</summary>\
<p class="dae-note">{VIEW_NOTES["layers"]}</p>
  <div class="dae-view-body"></div></details>
  <details id="kinds"><summary>Every kind of noise at once</summary>\
<p class="dae-note">{VIEW_NOTES["kinds"]}</p>
  <div class="dae-view-body"></div></details>
  {map_details(models)}
  <details id="learning"><summary>How it learned: the training run</summary>\
<div class="dae-view-body"></div></details>
</div>"""


def picker_html(thumbnails: list[str], labels, test_indices) -> str:
    """The bundled MNIST test digits as buttons (one Tab stop, arrow keys inside: KEYBOARD_JS)."""
    buttons = "".join(
        f'<button type="button" class="thumbnail-item" data-index="{i}" aria-pressed="false" '
        f'aria-label="MNIST test digit #{int(n)}, a {int(label)}"><img src="{src}" alt=""></button>'
        for i, (src, label, n) in enumerate(zip(thumbnails, labels, test_indices))
    )
    return (
        f'<button type="button" id="random" class="dae-button">Random digit</button>'
        f'<div class="grid-wrap"><div class="dae-thumbs">{buttons}</div></div>'
    )
