"""The page's own CSS and JavaScript: what Gradio's layout needs on a phone and for the keyboard.

Kept apart from `app.py` (which lays the components out) because none of it is layout: it
fixes how Gradio's components behave at 390 px and without a mouse.
"""

# Selected on load and after "Clear canvas": the canvas ignores the mouse until its Brush tool is
# selected. Click the Brush button until the editor has taken it, every 200 ms for up to 15 s.
SELECT_BRUSH_JS = """() => {
  const start = Date.now();
  const tick = () => {
    const root = document.querySelector('#sketch');
    const brush = root && root.querySelector('button[aria-label="Brush"]');
    const waiting = !root || root.innerText.includes('select the draw tool');
    if (brush && waiting) brush.click();
    if ((waiting || !brush) && Date.now() - start < 15000) setTimeout(tick, 200);
  };
  setTimeout(tick, 200);
}"""

# Keyboard behaviour Gradio lacks, applied to elements whenever they appear (tabs mount lazily):
# - the noise kinds: Gradio names each radio differently (and renames them on every update), so
#   they form three groups and arrow keys do nothing; one shared name makes them one group;
# - the galleries: one Tab stop each (the highlighted thumbnail, else the first), arrow keys move
#   between thumbnails (roving tabindex, the WAI-ARIA grid pattern), Enter/Space pick.
KEYBOARD_JS = """() => {
  const oneRadioGroup = (root) => {
    const name = root.id + '-group';
    const fix = () => root.querySelectorAll('input[type=radio]').forEach((r) => { if (r.name !== name) r.name = name; });
    fix();
    new MutationObserver(fix).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['name']});
  };
  const thumbs = (root) => [...root.querySelectorAll('button.thumbnail-item')];
  const columns = (all) => Math.max(1, all.filter((b) => b.offsetTop === all[0].offsetTop).length);
  const oneTabStop = (root) => {
    let shown = null;
    const update = () => {
      const all = thumbs(root);
      if (!all.length) return;
      const selected = all.find((b) => b.classList.contains('selected'));
      const stop = all.includes(document.activeElement) ? document.activeElement : selected || all[0];
      all.forEach((b) => { const t = b === stop ? 0 : -1; if (b.tabIndex !== t) b.tabIndex = t; });
      const wrap = root.querySelector('.grid-wrap');
      if (selected && selected !== shown && wrap && wrap.clientHeight) {  // keep a newly highlighted thumbnail in view
        shown = selected;
        const top = selected.getBoundingClientRect().top - wrap.getBoundingClientRect().top + wrap.scrollTop;
        const bottom = top + selected.offsetHeight;
        if (top < wrap.scrollTop || bottom > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = top - (wrap.clientHeight - selected.offsetHeight) / 2;
      }
    };
    root.addEventListener('keydown', (e) => {
      const all = thumbs(root);
      const i = all.indexOf(document.activeElement);
      if (i < 0) return;
      const step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(all), ArrowUp: -columns(all), Home: -i, End: all.length - 1 - i}[e.key];
      if (step === undefined) return;
      e.preventDefault();
      const next = all[Math.min(all.length - 1, Math.max(0, i + step))];
      all.forEach((b) => { b.tabIndex = -1; });
      next.tabIndex = 0;
      next.focus();
    });
    update();
    new MutationObserver(update).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['class']});
  };
  const setups = [['#kind', oneRadioGroup], ['.dae-picker', oneTabStop]];
  const apply = () => setups.forEach(([selector, setup]) => document.querySelectorAll(selector).forEach((el) => {
    if (!el.dataset.daeKeyboard) { el.dataset.daeKeyboard = '1'; setup(el); }
  }));
  apply();
  new MutationObserver(apply).observe(document.body, {subtree: true, childList: true});
}"""

CSS = """
.pixelated img, .dae-path img { image-rendering: pixelated; }

/* Results: square images that shrink with the screen, four in a row even on a phone, each with
   its label above it (not over the picture). */
.dae-results { flex-wrap: nowrap !important; gap: 8px !important; }
.dae-results > .block { min-width: 0 !important; flex: 1 1 0 !important; }
.dae-results label[data-testid=block-label] {
  position: static; display: block; max-width: 100%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  border: none; border-radius: 0; box-shadow: none;
}
.dae-results label[data-testid=block-label] > span { display: none; }
.dae-results .image-container, .dae-results .empty { height: auto !important; min-height: 0 !important; aspect-ratio: 1 / 1; }
.dae-results .image-container > button, .dae-results .image-frame { width: 100%; height: 100%; }
.dae-results .image-frame img { width: 100%; height: 100%; object-fit: contain; }

/* The error map's scale. */
.dae-colorbar { max-width: 320px; margin: 0 auto; font-size: 0.8em; }
.dae-colorbar-bar { height: 12px; border-radius: 3px; }
.dae-colorbar-labels { display: flex; justify-content: space-between; }
.dae-colorbar-title { text-align: center; opacity: 0.8; }

/* Metrics: numbers and headers never break inside; the model names may wrap between words. */
#metrics table { width: auto; }
#metrics th, #metrics td { white-space: nowrap; overflow-wrap: normal; word-break: normal; }
#metrics td:first-child { white-space: normal; }

/* The decoded latent path: one row of digits that wraps into two on a phone. */
.dae-path { margin: 0; }
.dae-path figcaption { font-size: var(--block-label-text-size); opacity: 0.8; margin-bottom: 4px; }
.dae-path-steps { display: grid; grid-template-columns: repeat(11, minmax(0, 112px)); gap: 4px; }
.dae-path-steps img { width: 100%; aspect-ratio: 1 / 1; }

/* Digit pickers: small square thumbnails, as many a row as asked (Gradio keeps them >= 100 px). */
.dae-picker .grid-container {
  grid-template-columns: repeat(var(--dae-columns, 5), minmax(0, 1fr)) !important; grid-template-rows: none !important;
  grid-auto-rows: auto !important; gap: 6px !important;
}
.dae-picker .caption-label { display: none; }
.dae-picker label[data-testid=block-label] { position: static; border: none; box-shadow: none; }
.dae-picker .grid-container.pt-6 { padding-top: 0; }
#latent-a, #latent-b { --dae-columns: 10; }

/* Focus you can see: radios, checkbox, sliders, thumbnails. */
#kind input[type=radio]:focus-visible, #compare input:focus-visible, .dae-picker button.thumbnail-item:focus-visible {
  outline: 3px solid var(--color-accent); outline-offset: 2px;
}
input[type=range]:focus-visible { outline: 3px solid var(--color-accent); outline-offset: 4px; border-radius: 4px; }

@media (max-width: 640px) {
  h1 { font-size: 1.6rem !important; margin-bottom: 0.25rem !important; }
  /* The brush tools as a row under the drawing area instead of a column over its left edge. */
  #sketch .toolbar-wrap { flex-direction: row; width: auto; top: auto; bottom: 4px; left: 50%; right: auto; transform: translateX(-50%); }
  #sketch .toolbar-wrap .half-container { flex-direction: row; padding: 0 var(--spacing-sm); }
  #sketch .toolbar-wrap .half-container:last-child { border-top: none; border-left: 1px solid var(--block-border-color); }
  /* Small results: small labels, no download buttons over the pictures. */
  .dae-results label[data-testid=block-label] { font-size: 11px; padding: 2px 1px; }
  #metrics th, #metrics td { padding: 6px 6px; }
  .dae-results .icon-button-wrapper { display: none; }
  .dae-path-steps { grid-template-columns: repeat(6, minmax(0, 1fr)); }
  #latent-a, #latent-b { --dae-columns: 5; }
  /* Short enough that the results under it show when a thumbnail is tapped. */
  #samples { height: auto !important; }
  #samples .grid-wrap { height: 260px !important; }
}
"""
