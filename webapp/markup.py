"""The page's own HTML: the canvas, the results, the views and the sample picker, filled in by static/controller.js.

Markup only: the page's behaviour is in static/*.js, its styles in static/page.css.
"""

from __future__ import annotations

from .views.code_space import map_legend

CANVAS_HTML = """<div class="dae-canvas-wrap">
  <canvas width="{side}" height="{side}" aria-label="Drawing area: draw a digit with the mouse, a finger or a pen"></canvas>
  <div class="dae-tools" role="toolbar" aria-label="Drawing tools">
    <button type="button" data-tool="pen" aria-pressed="true">✏️ Pen</button>
    <button type="button" data-tool="eraser" aria-pressed="false">🧽 Eraser</button>
    <button type="button" data-action="undo" aria-label="Undo the last stroke (Ctrl+Z)">↶ Undo</button>
    <button type="button" data-action="clear" aria-label="Clear the canvas">🗑 Clear</button>
  </div>
</div>"""


def figure(elem_id: str, caption: str, alt: str, guess: bool = True) -> str:
    """One result: a caption, the image (28 x 28, shown large with square pixels) and the classifier's guess."""
    return (
        f'<figure id="{elem_id}" class="dae-figure"><figcaption>{caption}</figcaption>'
        f'<img alt="{alt}" hidden><div class="dae-guess" aria-live="polite">{"" if guess else "&nbsp;"}</div></figure>'
    )


VIEW_NOTES = {
    "layers": "What the DAE computes from the noisy digit, stage by stage, as the next stage receives it (after its activation). "
    "Bright is a large activation; each stage has one scale for all its maps. With Compare on, the U-Net's levels follow.",
}


def map_details(picture: str | None) -> str:
    """The code-space view: the map's picture (the same for everyone, sent once with the page) under this digit's marks."""
    if picture is None:
        return ""
    return f"""<details id="latent-map"><summary>The code space: where this digit's 256 numbers lie</summary>
  <p class="dae-note">Every dot is one of the 10,000 MNIST test digits, placed by its code: the DAE's 256 numbers projected
  on the two directions in which the codes vary most (PCA), coloured by its true digit.</p>
  <div class="dae-map-wrap"><img class="dae-map-picture" src="{picture}" alt="The codes of the 10,000 test digits, coloured by class">
  <div class="dae-view-body"></div></div>
  <div class="dae-legend-row dae-map-legend">{map_legend()}</div>
</details>"""


def results_html(colorbar: str, hint: str) -> str:
    """The Denoise tab's results and views; the page's controller fills them in."""
    return f"""<div class="dae-panel">
  <p id="render-problem" class="dae-problem" role="status" hidden></p>
  <div id="source-caption" class="dae-caption"></div>
  <div class="dae-row">
    {figure("clean", "Input (as the model sees it)", "The input digit, 28 by 28 pixels")}
    {figure("noisy", "Noisy input", "The input with noise added")}
    {figure("recon", "DAE reconstruction", "The autoencoder's reconstruction of the noisy input")}
    {figure("error", "Error map", "Per-pixel error of the reconstruction, dark is no error", guess=False)}
  </div>
  <div class="dae-row dae-unet" hidden>
    <p class="dae-note"><b>U-Net</b>, same noisy input: it keeps a picture at every scale (skip connections) and
    predicts a correction to the noisy image. Its bottom has a 256-number global context too, which this checkpoint
    leaves at 0 for every digit (see Layer by layer).</p>
    {figure("unet-recon", "U-Net reconstruction", "The U-Net's reconstruction of the noisy input")}
    {figure("unet-error", "U-Net error map", "Per-pixel error of the U-Net's reconstruction", guess=False)}
  </div>
  {colorbar}
  <p class="dae-note">Under each image: the digit a classifier trained on clean MNIST digits reads there, and how sure it is;
  <span class="dae-wrong">red</span> where it no longer reads the input's digit.</p>
  <div id="metrics" aria-live="polite">{hint}</div>
  <button type="button" id="copy-link" class="dae-button">Copy link</button>
</div>"""


def views_html(map_picture: str | None = None) -> str:
    """The teaching views under the results, full width; each open one is filled in by the same answer as the results."""
    return f"""<div class="dae-panel dae-views">
  <details id="curve" open><summary>Quality against noise, for this digit</summary><div class="dae-view-body"></div></details>
  <details id="layers"><summary>Layer by layer: inside the network</summary><p class="dae-note">{VIEW_NOTES["layers"]}</p>
  <div class="dae-view-body"></div></details>
  {map_details(map_picture)}
  <details id="learning"><summary>How it learned: the training run</summary><div class="dae-view-body"></div></details>
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
