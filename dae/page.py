"""The page's own CSS and JavaScript: what Gradio's layout needs on a phone and for the keyboard.

Kept apart from `app.py` (which lays the components out) because none of it is layout: it
fixes how Gradio's components behave at 390 px and without a mouse.
"""

# The page's controller, one object in the browser: it holds the input of each tab (the canvas,
# the picked sample, the uploaded digit) and the controls, sends one `render` request per change
# straight to Python (a server function: one POST, no queue), at most one in flight (the latest
# state wins, nothing queues up), and puts the answer on the page. Everything it shows was computed
# by dae.ui; it draws strokes, encodes the canvas and sets image sources, nothing more.
CONTROLLER_JS = """<script>
window.DAE = (() => {
  const IMAGES = ['clean', 'noisy', 'recon', 'error', 'unet-recon', 'unet-error'];
  const state = {tab: 'draw', noise: 'gaussian', strength: 0.5, seed: 0, compare: false, mapAt: null};
  const inputs = {draw: {kind: 'none'}, samples: {kind: 'none'}, upload: {kind: 'none'}};
  let server = null, results = null, views = null, canvas = null, picker = null, inflight = false, again = false, live = false;
  let uploadMessage = null, digit = null, viewsDue = false, pendingViews = null;
  const source = () => {
    if (state.tab === 'upload' && uploadMessage) return {kind: 'none'};
    const s = inputs[state.tab];
    return s.kind === 'canvas' ? {kind: 'drawing', png: canvas.toDataURL('image/png')} : s;
  };
  const openViews = () => views ? [...views.querySelectorAll('details[open]')].map((d) => d.id) : [];
  const send = async () => {
    if (!server || !results) return;
    if (inflight) { again = true; return; }
    inflight = true; again = false;
    const request = {source: source(), noise: state.noise, strength: state.strength, seed: state.seed,
                     compare: state.compare, views: openViews(), map_at: state.mapAt, live};
    const sentAt = performance.now();
    let answer;
    try { answer = await server.render(request); } catch (e) { answer = {busy: true, wait: 500}; }
    inflight = false;
    if (answer.busy) { setTimeout(send, answer.wait || 40); return; }
    show(answer);
    // for benchmarks and tests: when the request behind what is on screen was sent
    document.dispatchEvent(new CustomEvent('dae-shown', {detail: {sentAt, shownAt: performance.now(), live: request.live}}));
    if (!again && viewsDue && request.live) { viewsDue = false; live = false; again = true; }  // the views follow the results
    if (again) send();
  };
  const show = (a) => {
    const images = a.images || {};
    for (const id of IMAGES) {
      const img = results.querySelector('#' + id + ' img');
      if (images[id]) { img.src = images[id]; img.hidden = false; } else { img.removeAttribute('src'); img.hidden = true; }
      const guess = results.querySelector('#' + id + ' .dae-guess');
      if (guess) { guess.textContent = (a.guesses || {})[id] || ''; guess.classList.toggle('dae-wrong', (a.wrong || []).includes(id)); }
    }
    results.querySelector('.dae-unet').hidden = !a.compare;
    results.querySelector('#metrics').innerHTML = state.tab === 'upload' && uploadMessage ? '' : (a.status || '');
    if (state.tab === 'upload' && uploadMessage) results.querySelector('#metrics').textContent = uploadMessage;
    results.querySelector('#source-caption').textContent = a.caption || '';
    if (views) for (const [id, html] of Object.entries(a.views || {})) views.querySelector('#' + id + ' .dae-view-body').innerHTML = html;
    digit = a.digit || null;
    if (api.started) link();  // not before the page has read its own address (Gradio reads it from the Referer)
  };
  const link = () => {
    const q = new URLSearchParams();
    if (state.tab !== 'draw') q.set('tab', state.tab);
    if (state.tab === 'samples' && inputs.samples.kind === 'sample') q.set('sample', inputs.samples.index);
    q.set('noise', state.noise); q.set('strength', state.strength); q.set('seed', state.seed);
    if (state.compare) q.set('compare', '1');
    const open = openViews().filter((v) => v !== 'curve');
    if (open.length) q.set('views', open.join(','));
    history.replaceState(null, '', '?' + q.toString());
  };
  const highlight = () => {  // the picker may mount after a pick (tabs render when first shown)
    const index = inputs.samples.index;
    if (picker) picker.querySelectorAll('button.thumbnail-item').forEach((b, i) => {
      b.classList.toggle('selected', i === index); b.setAttribute('aria-pressed', i === index); });
  };
  const pick = (index) => {
    inputs.samples = {kind: 'sample', index};
    highlight();
    live = true; viewsDue = true;
    if (state.tab === 'samples') send();
  };
  const api = {
    attachViews(element) { views = element;
      views.querySelectorAll('details').forEach((d) => d.addEventListener('toggle', () => {
        if (d.open) { live = false; send(); } else if (api.started) link(); }));
      const map = views.querySelector('.dae-map-picture');
      if (map) map.addEventListener('click', (e) => {  // the point clicked, as fractions of the map: the server decodes it
        const r = map.getBoundingClientRect();
        state.mapAt = [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
        live = false; send(); });
      if (pendingViews) api.openViews(pendingViews);
      if (server) { live = false; send(); }
    },
    openViews(ids) {  // a link's views: opened once the views are on the page
      pendingViews = views ? null : ids;
      for (const id of ids || []) { const d = views && views.querySelector('details#' + id); if (d) d.open = true; }
    },
    attachServer(s, element) { server = s; results = element;
      const copy = results.querySelector('#copy-link');
      copy.addEventListener('click', async () => {
        try { await navigator.clipboard.writeText(location.href); copy.textContent = 'Link copied'; }
        catch (e) { prompt('Copy this link:', location.href); }
        setTimeout(() => { copy.textContent = 'Copy link'; }, 2000);
      });
      send(); },
    attachPicker(element) { picker = element; highlight();
      element.addEventListener('click', (e) => {
        const b = e.target.closest('button.thumbnail-item');
        if (b) { pick(Number(b.dataset.index)); return; }
        if (e.target.closest('#random')) {
          const n = element.querySelectorAll('button.thumbnail-item').length, now = inputs.samples.index;
          let i = Math.floor(Math.random() * (n - 1)); if (now !== undefined && i >= now) i += 1;
          pick(i);
        }
      }); },
    attachCanvas(root) {
      canvas = root.querySelector('canvas');
      const ctx = canvas.getContext('2d'), strokes = [];
      let tool = 'pen', current = null;
      const paint = () => {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        for (const s of strokes) {
          ctx.globalCompositeOperation = s.tool === 'eraser' ? 'destination-out' : 'source-over';
          ctx.strokeStyle = '#2563eb'; ctx.lineWidth = s.tool === 'eraser' ? 40 : 22; ctx.lineCap = ctx.lineJoin = 'round';
          ctx.beginPath(); s.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
          if (s.points.length === 1) ctx.lineTo(s.points[0][0] + 0.01, s.points[0][1]);
          ctx.stroke();
        }
        ctx.globalCompositeOperation = 'source-over';
      };
      const changed = (final) => {
        inputs.draw = strokes.some((s) => s.tool === 'pen') ? {kind: 'canvas'} : {kind: 'none'};
        live = true; viewsDue = final;
        root.querySelector('[data-action=undo]').disabled = !strokes.length;
        if (state.tab === 'draw') send();
      };
      const point = (e) => { const r = canvas.getBoundingClientRect();
        return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height]; };
      canvas.addEventListener('pointerdown', (e) => {
        if (e.button > 0) return;
        canvas.setPointerCapture(e.pointerId); current = {tool, points: [point(e)]}; strokes.push(current); paint(); changed(false); });
      canvas.addEventListener('pointermove', (e) => {
        if (!current) return;
        for (const c of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) current.points.push(point(c));
        paint(); changed(false); });
      const up = () => { if (current) { current = null; changed(true); } };
      canvas.addEventListener('pointerup', up); canvas.addEventListener('pointercancel', up);
      const setTool = (t) => { tool = t; root.querySelectorAll('[data-tool]').forEach((b) => b.setAttribute('aria-pressed', b.dataset.tool === t)); };
      const undo = () => { if (strokes.length) { strokes.pop(); paint(); changed(true); } };
      root.addEventListener('click', (e) => {
        const b = e.target.closest('button'); if (!b) return;
        if (b.dataset.tool) setTool(b.dataset.tool);
        if (b.dataset.action === 'undo') undo();
        if (b.dataset.action === 'clear') { strokes.length = 0; paint(); changed(true); }
      });
      root.addEventListener('keydown', (e) => { if ((e.ctrlKey || e.metaKey) && e.key === 'z') { e.preventDefault(); undo(); } });
      setTool('pen'); changed(true);
    },
    // Every change first gets its results alone (fast), then the open views in a second request.
    useTab(tab) { state.tab = tab; live = true; viewsDue = true; send(); },
    set(changes) {
      if (Object.entries(changes).every(([k, v]) => state[k] === v)) return;
      Object.assign(state, changes); live = true; viewsDue = true; send(); },
    nextSeed(seed) { const s = Number(seed); const next = Number.isInteger(s) && s >= 0 ? s + 1 : 0; api.set({seed: next}); return next; },
    setUpload(text) {
      const u = JSON.parse(text || '{}');
      uploadMessage = u.error || null;
      inputs.upload = u.digit ? {kind: 'digit', png: u.digit} : {kind: 'none'};
      if (state.tab === 'upload') { live = true; viewsDue = true; send(); }
    },
    start(controls, linked) {
      Object.assign(state, controls);
      const l = JSON.parse(linked || '{}');
      if (Number.isInteger(l.sample)) pick(l.sample);
      if (l.tab) state.tab = l.tab;
      api.openViews(l.views || []);
      api.started = true;
      live = true; viewsDue = true;
      send();
    },
    started: false,
    digit: () => digit || '',
  };
  return api;
})();
</script>"""

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
.dae-path-steps img { width: 100%; aspect-ratio: 1 / 1; border-radius: 3px; }
.dae-path-steps img.dae-step-now { outline: 3px solid var(--color-accent); outline-offset: 1px; }
.dae-path + .dae-path { margin-top: 8px; }

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

# ---- the page's own elements ---------------------------------------------------------------------

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
    return (f'<figure id="{elem_id}" class="dae-figure"><figcaption>{caption}</figcaption>'
            f'<img alt="{alt}" hidden><div class="dae-guess" aria-live="polite">{"" if guess else "&nbsp;"}</div></figure>')


VIEW_NOTES = {
    "layers": "What the DAE computes from the noisy digit, stage by stage, as the next stage receives it (after its activation). "
              "Bright is a large activation; each stage has one scale for all its maps. With Compare on, the U-Net's levels follow.",
}


def map_details(picture: str | None) -> str:
    """The code-space view: the map's picture (the same for everyone, sent once with the page) under this digit's marks."""
    if picture is None:
        return ""
    from .views import map_legend

    return f"""<details id="latent-map"><summary>The code space: where this digit's 256 numbers lie</summary>
  <p class="dae-note">Every dot is one of the 10,000 MNIST test digits, placed by its code: the DAE's 256 numbers projected
  on the two directions in which the codes vary most (PCA), coloured by its true digit.</p>
  <div class="dae-map-wrap"><img class="dae-map-picture" src="{picture}" alt="The codes of the 10,000 test digits, coloured by class">
  <div class="dae-view-body"></div></div>
  <div class="dae-legend-row dae-map-legend">{map_legend()}</div>
</details>"""


def results_html(colorbar: str, hint: str, map_picture: str | None = None) -> str:
    """The Denoise tab's results and views; the page's controller fills them in."""
    return f"""<div class="dae-panel">
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
    return (f'<button type="button" id="random" class="dae-button">Random digit</button>'
            f'<div class="grid-wrap"><div class="dae-thumbs">{buttons}</div></div>')


CSS += """
/* The page's own canvas, results and picker. */
.dae-canvas-wrap { display: flex; flex-direction: column; align-items: center; gap: 8px; }
.dae-canvas-wrap canvas { width: min(320px, 100%); aspect-ratio: 1 / 1; touch-action: none; cursor: crosshair;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); border-radius: 8px; }
.dae-tools { display: flex; flex-wrap: wrap; gap: 6px; justify-content: center; }
.dae-tools button, .dae-button { padding: 6px 12px; border-radius: 6px; border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill); color: var(--body-text-color); cursor: pointer; font: inherit; }
.dae-tools button[aria-pressed=true] { background: var(--color-accent); color: white; border-color: var(--color-accent); }
.dae-tools button:disabled { opacity: 0.5; cursor: default; }
.dae-tools button:focus-visible, .dae-button:focus-visible, .dae-thumbs button:focus-visible, .dae-panel summary:focus-visible {
  outline: 3px solid var(--color-accent); outline-offset: 2px; }
.dae-panel { display: flex; flex-direction: column; gap: 8px; color: var(--body-text-color); }
.dae-row { display: flex; gap: 8px; align-items: flex-start; }
.dae-row[hidden], .dae-panel [hidden] { display: none !important; }
.dae-figure { flex: 1 1 0; min-width: 0; margin: 0; text-align: center; }
.dae-figure figcaption { font-size: 0.8em; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; opacity: 0.85; }
.dae-figure img { width: 100%; aspect-ratio: 1 / 1; image-rendering: pixelated; display: block; border-radius: 4px; }
.dae-unet .dae-note { flex: 2 1 0; min-width: 0; }
.dae-guess { font-size: 0.9em; font-variant-numeric: tabular-nums; min-height: 1.3em; white-space: nowrap; }
.dae-wrong { color: #dc2626; font-weight: 600; }
.dark .dae-wrong { color: #f87171; }
.dae-guess.dae-wrong::before { content: "✗ "; }
.dae-caption { font-weight: 600; min-height: 1.2em; }
.dae-note, .dae-legend { font-size: 0.8em; opacity: 0.85; margin: 0; }
table.dae-metrics { width: auto; border-collapse: collapse; }
table.dae-metrics th, table.dae-metrics td { padding: 4px 10px; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--border-color-primary); }
table.dae-metrics td:first-child { text-align: left; white-space: normal; }
.dae-panel details { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; }
.dae-panel summary { cursor: pointer; font-weight: 600; }
.dae-curve-svg { width: 100%; max-width: 640px; height: auto; font-size: 11px; fill: var(--body-text-color); }
.dae-curve-svg .grid { stroke: var(--border-color-primary); }
.dae-curve-svg .marker { stroke: var(--body-text-color); stroke-dasharray: 4 3; }
.dae-curve-svg .dae-reference { opacity: 0.5; }
.dark .dae-curve-svg .dae-reference { opacity: 0.8; }
.dae-legend-row { display: flex; flex-wrap: wrap; gap: 12px; font-size: 0.8em; }
.dae-legend-row i { display: inline-block; width: 14px; height: 3px; margin-right: 4px; vertical-align: middle; }
.dae-thumbs { display: grid; grid-template-columns: repeat(10, minmax(0, 1fr)); gap: 4px; }
.dae-thumbs button { padding: 0; border: 2px solid transparent; border-radius: 4px; background: black; cursor: pointer; }
.dae-thumbs button.selected { border-color: var(--color-accent); }
.dae-thumbs img { width: 100%; aspect-ratio: 1 / 1; image-rendering: pixelated; display: block; }
#samples .grid-wrap { max-height: 420px; overflow-y: auto; margin-top: 8px; }
@media (max-width: 640px) {
  .dae-thumbs { grid-template-columns: repeat(8, minmax(0, 1fr)); }
  #samples .grid-wrap { max-height: 200px; }
  .dae-figure figcaption { font-size: 10px; }
}
"""

CSS += """
/* The views: layer by layer, the code map, how it learned. */
.dae-layers-title { margin: 8px 0 4px; font-size: 0.9em; }
.dae-layers { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.dae-layer { margin: 0; font-size: 0.78em; min-width: 0; }
.dae-layer img { width: 100%; max-width: 170px; image-rendering: pixelated; display: block; margin: 0 auto 4px; border-radius: 4px; }
.dae-layer code { font-size: 0.92em; white-space: normal; overflow-wrap: anywhere; }
.dae-shape { opacity: 0.8; font-variant-numeric: tabular-nums; }
.dae-scale { opacity: 0.75; font-size: 0.9em; }
.dae-map-wrap { display: grid; grid-template-columns: minmax(0, 320px) minmax(0, 1fr); gap: 12px; align-items: start; }
.dae-map-picture { grid-area: 1 / 1; width: 100%; aspect-ratio: 1 / 1; cursor: crosshair; display: block;
  border: 1px solid var(--border-color-primary); border-radius: 6px; }
.dae-map-wrap > .dae-view-body { display: contents; }
.dae-map-marks { grid-area: 1 / 1; width: 100%; aspect-ratio: 1 / 1; pointer-events: none; overflow: visible; }
.dae-map-marks * { vector-effect: non-scaling-stroke; }
.dae-map-clean { fill: var(--body-text-color); stroke: var(--background-fill-primary); stroke-width: 2px; }
.dae-map-noisy { fill: none; stroke: var(--body-text-color); stroke-width: 3px; }
.dae-map-move { stroke: var(--body-text-color); stroke-width: 2px; stroke-dasharray: 5 3; }
.dae-map-pick { stroke: #dc2626; stroke-width: 3px; fill: none; }
.dark .dae-map-pick { stroke: #f87171; }
.dae-map-side { grid-area: 1 / 2; display: flex; flex-direction: column; gap: 8px; min-width: 0; }
.dae-map-side .dae-figure { max-width: 120px; }
.dae-map-side .dae-figure figcaption, #learning .dae-figure figcaption { white-space: normal; }
#learning .dae-figure { max-width: 160px; }
.dae-map-legend i { height: 10px; width: 10px; border-radius: 50%; }
.dae-mark-label { font-size: 10px; opacity: 0.8; }
@media (max-width: 640px) {
  .dae-map-wrap { grid-template-columns: minmax(0, 1fr); }
  .dae-map-side { grid-area: 2 / 1; }
  .dae-layers { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .dae-curve-svg { font-size: 22px; }  /* the plots are drawn 560 wide: about 11 px on a phone */
  .dae-mark-label { font-size: 17px; }
}
"""
