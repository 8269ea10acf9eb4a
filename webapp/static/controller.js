/* The page's controller: the one object in the browser that holds the page's state, sends it to the
 * server and shows the answer. Everything it shows was computed in Python (webapp/denoise_tab.py);
 * the browser draws strokes, encodes the canvas and sets image sources, nothing more.
 *
 * One `render` call (POST dae/render) per change, one at a time: changes made meanwhile are sent
 * together when the answer arrives (the latest state wins, nothing queues up); only a final change
 * (the pen lifted, a view opened) may go while a live frame is still out, and the server lets it
 * take that frame's place. While the pen moves the request is `live` (results only); the open views
 * follow in a second request. A failed answer is said where the results are, and asked again.
 *
 * The render contract (webapp/contract.py holds the same, as TypedDicts):
 *   request  {session: this page's random id,
 *             source: {kind: 'none' | 'sample' | 'strokes' | 'digit', index?: int, png?: data URL,
 *                      strokes?: [{tool: 'pen' | 'eraser', width, points: [[x, y], ...]}], side?: canvas px},
 *             noise: 'gaussian' | 'mask' | 'salt_pepper', strength: number, seed: int, compare: bool,
 *             views: [open view ids], map_at: [x, y] fractions of the code map | null, live: bool}
 *   answer   {busy?: bool, wait?: ms, superseded?: bool, images: {image id: data URL}, guesses: {image id: "7 · 98 %"},
 *             wrong: [image ids], views: {view id: html}, status: html, metrics: {...},
 *             digit: data URL, sample: int | null, caption: text, compare: bool}
 *
 * The other files add what their part of the page needs: canvas.js (attachCanvas), picker.js
 * (attachPicker), views.js (attachViews), keyboard.js.
 */
window.DAE = (() => {
  const IMAGES = ['clean', 'noisy', 'recon', 'error', 'unet-recon', 'unet-error'];
  const RENDER_URL = 'dae/render';  // relative to the page, as the page's scripts are
  const TIMEOUT_MS = 20000;  // an answer that takes longer than this counts as failed (and is asked again)

  // The page's state, all of it, in one place.
  const state = {
    tab: 'draw',  // the input tab on screen: 'draw', 'samples' or 'upload'
    noise: 'gaussian', strength: 0.5, seed: 0, compare: false,
    mapAt: null,  // the code map's clicked point
    inputs: {draw: {kind: 'none'}, samples: {kind: 'none'}, upload: {kind: 'none'}},  // each tab's digit
    uploadMessage: null,  // why the upload gave no digit
    digit: null,  // the digit on screen, as the server sent it (a 28 x 28 PNG data URL)
    linkedViews: [],  // the views the page's link opened
  };
  const page = {results: null, views: null, strokes: null};  // the elements it works with, and the canvas's strokes
  // This page's session: the server gives every session its turn (webapp/scheduler.py).
  const session = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
  let out = 0, liveOut = 0;  // requests sent and not answered (one at a time, but a final one may overtake a live frame)
  let again = false, live = false, viewsDue = false;
  let sent = 0, shown = 0;  // numbers of the latest request sent and of the one whose answer is on screen
  let failures = 0, retry = null;  // failed answers in a row, and the timer that asks again

  const source = () => {
    if (state.tab === 'upload' && state.uploadMessage) return {kind: 'none'};
    const s = state.inputs[state.tab];
    return s.kind === 'canvas' ? {kind: 'strokes', side: page.strokes.side, strokes: page.strokes.list()} : s;
  };

  // One POST; whatever goes wrong comes back as {failed: a message for the person at the page}.
  const post = async (request) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(RENDER_URL, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                body: JSON.stringify(request), signal: abort.signal});
      let answer = null;
      try { answer = await response.json(); } catch (e) { answer = null; }
      if (!response.ok) return {failed: (answer && answer.error) || `The server answered with an error (HTTP ${response.status}).`};
      return answer && typeof answer === 'object' ? answer : {failed: 'The server sent an answer the page cannot read.'};
    } catch (e) {
      return {failed: e.name === 'AbortError' ? 'The server did not answer in time.' : 'The server cannot be reached.'};
    } finally {
      clearTimeout(timer);
    }
  };

  const send = async () => {
    if (!page.results || retry) { again = true; return; }  // a retry is due: it sends the latest state
    if (out > (live ? 0 : liveOut)) { again = true; return; }
    out += 1; again = false;
    if (live) liveOut += 1;
    const request = {session, source: source(), noise: state.noise, strength: state.strength, seed: state.seed,
                     compare: state.compare, views: api.openViewIds(), map_at: state.mapAt, live};
    const number = ++sent;
    const sentAt = performance.now();
    const answer = await post(request);
    out -= 1;
    if (request.live) liveOut -= 1;
    if (answer.failed || answer.busy) {
      if (number === sent) problem(answer.failed || `Many students are drawing: your turn comes in about ${(answer.wait / 1000).toFixed(1)} s.`,
                                   answer.failed ? null : answer.wait);
      else if (again) send();
      return;
    }
    if (!answer.superseded && number > shown) {
      shown = number;
      failures = 0;
      problem(null);
      show(answer);
      // for benchmarks and tests: when the request behind what is on screen was sent
      document.dispatchEvent(new CustomEvent('dae-shown', {detail: {sentAt, shownAt: performance.now(), live: request.live}}));
      if (!again && viewsDue && request.live) { viewsDue = false; live = false; again = true; }  // the views follow the results
    }
    if (again) send();
  };

  // A failed or refused answer: say so where the results are, mark them as not current, and ask again
  // later (after `wait` ms when the server said how long, else backing off: 0.5 s, 1 s, 2 s ... up to 8 s).
  const problem = (message, wait) => {
    const note = page.results.querySelector('#render-problem');
    page.results.classList.toggle('dae-stale', message !== null);
    note.hidden = message === null;
    if (message === null) return;
    failures += wait ? 0 : 1;
    const delay = wait || Math.min(500 * 2 ** (failures - 1), 8000);
    note.textContent = `${message} ${wait ? '' : `Trying again in ${(delay / 1000).toFixed(1)} s. `}The results below are not current.`;
    retry = setTimeout(() => { retry = null; send(); }, delay);
  };

  const show = (a) => {
    const r = page.results;
    const images = a.images || {};
    for (const id of IMAGES) {
      const img = r.querySelector('#' + id + ' img');
      if (images[id]) { img.src = images[id]; img.hidden = false; } else { img.removeAttribute('src'); img.hidden = true; }
      const guess = r.querySelector('#' + id + ' .dae-guess');
      if (guess) { guess.textContent = (a.guesses || {})[id] || ''; guess.classList.toggle('dae-wrong', (a.wrong || []).includes(id)); }
    }
    r.querySelector('.dae-unet').hidden = !a.compare;
    const metrics = r.querySelector('#metrics');
    if (state.tab === 'upload' && state.uploadMessage) metrics.textContent = state.uploadMessage;
    else metrics.innerHTML = a.status || '';
    r.querySelector('#source-caption').textContent = a.caption || '';
    if (page.views) api.showViews(a.views || {});
    state.digit = a.digit || null;
    if (api.started) link();  // not before the page has read its own address (Gradio reads it from the Referer)
  };

  // The address always says what is on screen, so that a copied link restores it (webapp/links.py reads it).
  const link = () => {
    const q = new URLSearchParams();
    if (state.tab !== 'draw') q.set('tab', state.tab);
    if (state.tab === 'samples' && state.inputs.samples.kind === 'sample') q.set('sample', state.inputs.samples.index);
    q.set('noise', state.noise); q.set('strength', state.strength); q.set('seed', state.seed);
    if (state.compare) q.set('compare', '1');
    const open = api.openViewIds().filter((v) => v !== 'curve');
    if (open.length) q.set('views', open.join(','));
    history.replaceState(null, '', '?' + q.toString());
  };

  // A change: its results first (fast), then the open views in a second request.
  const changed = (tab) => { live = true; viewsDue = true; if (tab === undefined || state.tab === tab) send(); };

  const api = {
    state,
    started: false,
    attachResults(element) {
      page.results = element;
      const copy = element.querySelector('#copy-link');
      copy.addEventListener('click', async () => {
        try { await navigator.clipboard.writeText(location.href); copy.textContent = 'Link copied'; }
        catch (e) { prompt('Copy this link:', location.href); }
        setTimeout(() => { copy.textContent = 'Copy link'; }, 2000);
      });
      send();
    },
    // canvas.js: the strokes drawn ({side, list()}: the canvas's side and every stroke), and a change (final: the pen was lifted)
    useStrokes(strokes) { page.strokes = strokes; },
    drawn(hasInk, final) {
      state.inputs.draw = hasInk ? {kind: 'canvas'} : {kind: 'none'};
      live = true; viewsDue = final;
      if (state.tab === 'draw') send();
    },
    // picker.js: a bundled digit picked
    pick(index) { state.inputs.samples = {kind: 'sample', index}; api.highlight(); changed('samples'); },
    highlight() {},  // picker.js shows the picked thumbnail
    // views.js: the views' element, a view opened (its answer comes alone), a point of the code map clicked
    useViews(element) { page.views = element; if (page.results) { live = false; send(); } },
    viewOpened() { live = false; send(); },
    viewClosed() { if (api.started) link(); },
    clickMap(at) { state.mapAt = at; live = false; send(); },
    openViewIds: () => [],  // views.js: the ids of the open views
    showViews() {},  // views.js: each view's HTML
    openViews() {},  // views.js: open the views a link names
    // The Gradio controls (webapp/page.py): each tells the controller its new value.
    useTab(tab) { state.tab = tab; changed(); },
    set(changes) {
      if (Object.entries(changes).every(([k, v]) => state[k] === v)) return;
      Object.assign(state, changes); changed();
    },
    nextSeed(seed) { const s = Number(seed); const next = Number.isInteger(s) && s >= 0 ? s + 1 : 0; api.set({seed: next}); return next; },
    setUpload(text) {
      const u = JSON.parse(text || '{}');
      state.uploadMessage = u.error || null;
      state.inputs.upload = u.digit ? {kind: 'digit', png: u.digit} : {kind: 'none'};
      changed('upload');
    },
    // The page was opened: the controls as the link set them, and what else the link names.
    start(controls, linked) {
      Object.assign(state, controls);
      const l = JSON.parse(linked || '{}');
      if (Number.isInteger(l.sample)) api.pick(l.sample);
      if (l.tab) state.tab = l.tab;
      state.linkedViews = l.views || [];
      api.openViews(state.linkedViews);
      api.started = true;
      changed();
    },
    digit: () => state.digit || '',  // the Latent tab's "from the Denoise tab" buttons
  };
  return api;
})();
