/* The page's controller: the one object in the browser that holds the page's state, sends it to the
 * server and shows the answer. Everything it shows was computed in Python (webapp/denoise_tab.py);
 * the browser keeps the strokes and the controls' values, sets image sources, nothing more.
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
 *             noise: a kind's name, strength: number, seed: the seed box's text or a number,
 *             compare: model name | null, views: [open view ids],
 *             map_at: {model: name, at: [x, y] fractions of its code map} | null, live: bool,
 *             final: bool}
 *   answer   {busy?: bool, wait?: ms, superseded?: bool, images: {image id: data URL}, guesses: {image id: "7 · 98 %"},
 *             unsure: [image ids], wrong: [image ids], views: {view id: html}, status: html, metrics: {...},
 *             digit: data URL, pixels: the digit for a link, sample: int | null, test_index: int | null,
 *             caption: text, compare: model name | null, compare_title: text, compare_note: text}
 *
 * The other files add what their part of the page needs: canvas.js (attachCanvas), picker.js
 * (attachPicker), upload.js (attachUpload), views.js (attachViews), train.js (attachTrain), keyboard.js.
 */
window.DAE = (() => {
  const IMAGES = ['clean', 'noisy', 'recon', 'error', 'compare-recon', 'compare-error'];
  const RENDER_URL = 'dae/render';  // relative to the page, as the page's scripts are
  const TIMEOUT_MS = 20000;  // an answer that takes longer than this counts as failed (and is asked again)

  // The page's state, all of it, in one place.
  const state = {
    tab: 'draw',  // the input tab on screen: 'draw', 'samples' or 'upload'
    noise: 'gaussian', strength: 0.5, seed: '0',  // seed: as typed (the server checks it and says what is wrong)
    compare: null,  // the model beside the DAE
    mapAt: null,  // the code map's clicked point: {model, at: [x, y]}
    inputs: {draw: {kind: 'none'}, samples: {kind: 'none'}, upload: {kind: 'none'}},  // each tab's digit
    uploadMessage: null,  // why the upload gave no digit
    digit: null, pixels: null, testIndex: null,  // the digit on screen, as the server sent it
    present: false,  // the projector view
    linkedViews: null,  // the views the page's link named, until the views are on the page
  };
  const page = {results: null, views: null, strokes: null};  // the elements it works with, and the canvas's strokes
  // This page's session: the server gives every session its turn (webapp/scheduler.py).
  const session = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
  let out = 0, liveOut = 0;  // requests sent and not answered (one at a time, but a final one may overtake a live frame)
  let again = false, live = false, viewsDue = false;
  let finalDue = false;  // the next live frame ends a stroke (the pen was lifted): it is served in a final turn
  let sent = 0, shown = 0;  // numbers of the latest request sent and of the one whose answer is on screen
  let failures = 0, retry = null;  // failed answers in a row, and the timer that asks again

  const source = () => {
    if (state.tab === 'upload' && state.uploadMessage) return {kind: 'none'};
    const s = state.inputs[state.tab];
    return s.kind === 'canvas' ? {kind: 'strokes', side: page.strokes.side, strokes: page.strokes.list()} : s;
  };
  const request = () => ({session, source: source(), noise: state.noise, strength: state.strength, seed: state.seed,
                          compare: state.compare, views: api.openViewIds(), map_at: state.mapAt, live,
                          final: live && finalDue});

  // One POST; whatever goes wrong comes back as {failed: a message for the person at the page}.
  const post = async (url, body) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                         body: JSON.stringify(body), signal: abort.signal});
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
    if (out > (live && !finalDue ? 0 : liveOut)) { again = true; return; }
    out += 1; again = false;
    if (live) liveOut += 1;
    const sending = request();
    if (sending.final) finalDue = false;
    const number = ++sent;
    const sentAt = performance.now();
    const answer = await post(RENDER_URL, sending);
    out -= 1;
    if (sending.live) liveOut -= 1;
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
      document.dispatchEvent(new CustomEvent('dae-shown', {detail: {sentAt, shownAt: performance.now(), live: sending.live}}));
      if (!again && viewsDue && sending.live) { viewsDue = false; live = false; again = true; }  // the views follow the results
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
      if (guess) {
        guess.textContent = (a.guesses || {})[id] || '';
        guess.classList.toggle('dae-wrong', (a.wrong || []).includes(id));
        guess.classList.toggle('dae-unsure', (a.unsure || []).includes(id));
      }
    }
    const beside = r.querySelector('.dae-compare');
    beside.hidden = !a.compare;
    beside.querySelector('.dae-compare-title').textContent = a.compare_title || '';
    beside.querySelector('.dae-compare-note').textContent = a.compare_note || '';
    beside.querySelector('#compare-recon .dae-long').textContent = a.compare_title ? `${a.compare_title}: reconstruction` : '';
    const metrics = r.querySelector('#metrics');
    if (state.tab === 'upload' && state.uploadMessage) metrics.textContent = state.uploadMessage;
    else metrics.innerHTML = a.status || '';
    r.querySelector('#source-caption').textContent = a.caption || '';
    if (page.views) api.showViews(a.views || {});
    state.digit = a.digit || null; state.pixels = a.pixels || null; state.testIndex = a.test_index ?? null;
    link();
  };

  // The address always says what is on screen, so that a copied link restores it (webapp/links.py reads it):
  // the digit (a test digit by its number, anything else by its 28 x 28 pixels), the controls, the views.
  const link = () => {
    if (!api.started) return;  // not before the page has read its own address (Gradio reads it from the Referer)
    const q = new URLSearchParams();
    if (state.tab !== 'draw') q.set('tab', state.tab);
    if (state.tab === 'samples' && state.testIndex !== null) q.set('digit', state.testIndex);
    else if (state.inputs[state.tab].kind !== 'none' && state.pixels && !(state.tab === 'upload' && state.uploadMessage)) {
      q.set('pixels', state.pixels);
    }
    q.set('noise', state.noise); q.set('strength', state.strength); q.set('seed', state.seed);
    if (state.compare) q.set('compare', state.compare);
    q.set('views', api.openViewIds().join(','));
    if (state.present) q.set('present', '1');
    history.replaceState(null, '', '?' + q.toString());
  };

  // A change: its results first (fast), then the open views in a second request.
  const changed = (tab) => { live = true; viewsDue = true; link(); if (tab === undefined || state.tab === tab) send(); };

  // The controls above the results: the noise kind, its strength, the seed, the model beside the DAE.
  const controls = (r) => {
    const kinds = [...r.querySelectorAll('input[name=dae-kind]')];
    const slider = r.querySelector('#strength'), value = r.querySelector('#strength-value');
    const seed = r.querySelector('#seed'), compare = r.querySelector('#compare');
    const showStrength = () => { value.textContent = Number(state.strength).toFixed(2); };
    const kindChosen = (input, keep) => {
      slider.max = input.dataset.max;
      slider.step = Number(input.dataset.max) > 10 ? 1 : 0.01;
      r.querySelector('#strength-name').textContent = input.dataset.name;
      state.noise = input.value;
      state.strength = keep ? Math.min(state.strength, Number(input.dataset.max)) : Number(input.dataset.default);
      slider.value = state.strength; showStrength();
    };
    kinds.forEach((k) => k.addEventListener('change', () => { kindChosen(k, false); changed(); }));
    slider.addEventListener('input', () => { state.strength = Number(slider.value); showStrength(); changed(); });
    const seedTyped = () => { if (seed.value !== state.seed) { state.seed = seed.value; changed(); } };
    seed.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); seedTyped(); } });
    seed.addEventListener('blur', seedTyped);
    r.querySelector('#new-noise').addEventListener('click', () => {
      const s = /^\d+$/.test(state.seed.trim()) ? Number(state.seed) : -1;
      state.seed = String(s >= 0 && s < 2147483647 ? s + 1 : 0); seed.value = state.seed; changed();
    });
    compare.addEventListener('change', () => { state.compare = compare.value || null; changed(); });
    // Put the controls where a link (or the state) says they are.
    return () => {
      const k = kinds.find((input) => input.value === state.noise) || kinds[0];
      k.checked = true; kindChosen(k, true);
      seed.value = state.seed; compare.value = state.compare || '';
    };
  };

  const api = {
    state,
    session,
    started: false,
    attachResults(element) {
      page.results = element;
      api.placeControls = controls(element);
      const copy = element.querySelector('#copy-link'), note = element.querySelector('#link-note');
      copy.addEventListener('click', async () => {
        link();
        try { await navigator.clipboard.writeText(location.href); copy.textContent = 'Link copied'; }
        catch (e) { prompt('Copy this link:', location.href); }
        setTimeout(() => { copy.textContent = 'Copy link'; }, 2000);
        const local = ['localhost', '127.0.0.1', '0.0.0.0', '[::1]'].includes(location.hostname);
        note.hidden = !local;
        note.textContent = local ? `This address (${location.host}) opens on this computer only. For students, run `
          + 'python app.py --share (a public link for a few days) or host the app on a Hugging Face Space.' : '';
      });
      element.querySelector('#present').addEventListener('click', () => api.setPresent(!state.present));
      element.querySelector('#save-figure').addEventListener('click', () => api.saveFigure());
      send();
    },
    setPresent(on) {
      state.present = on;
      document.body.classList.toggle('dae-present', on);
      const b = page.results && page.results.querySelector('#present');
      if (b) { b.setAttribute('aria-pressed', on); b.textContent = on ? 'Normal view' : 'Projector view'; }
      link();
    },
    // The results (and the open views) as one PNG, drawn by the server with its caption.
    async saveFigure() {
      const button = page.results.querySelector('#save-figure');
      button.disabled = true;
      try {
        const response = await fetch('dae/figure', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                    body: JSON.stringify({...request(), live: false})});
        if (!response.ok) {
          let refusal = {};
          try { refusal = await response.json(); } catch (e) { refusal = {}; }
          problem(refusal.error || 'No figure could be made.', 4000);
          return;
        }
        const url = URL.createObjectURL(await response.blob());
        const link = document.createElement('a');
        link.href = url; link.download = `dae-${state.noise}-${state.strength}-seed${state.seed}.png`; link.click();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } finally { button.disabled = false; }
    },
    // canvas.js: the strokes drawn ({side, list()}: the canvas's side and every stroke), and a change (final: the pen was lifted)
    useStrokes(strokes) { page.strokes = strokes; },
    drawn(hasInk, final) {
      state.inputs.draw = hasInk ? {kind: 'canvas'} : {kind: 'none'};
      live = true; viewsDue = final; finalDue = final;
      link();
      if (state.tab === 'draw') send();
    },
    // picker.js: a bundled digit picked
    pick(index) { state.inputs.samples = {kind: 'sample', index}; api.highlight(); changed('samples'); },
    highlight() {},  // picker.js shows the picked thumbnail
    // upload.js: the uploaded picture's digit (a 28 x 28 PNG data URL), or why there is none
    uploaded(digit, message) {
      state.uploadMessage = message || null;
      state.inputs.upload = digit ? {kind: 'digit', png: digit} : {kind: 'none'};
      changed('upload');
    },
    // views.js: the views' element, a view opened (its answer comes alone), a point of the code map clicked
    useViews(element) { page.views = element; if (page.results) { live = false; send(); } },
    viewOpened() { live = false; link(); send(); },
    viewClosed() { link(); },
    clickMap(at) { state.mapAt = at; live = false; send(); },
    openViewIds: () => [],  // views.js: the ids of the open views
    showViews() {},  // views.js: each view's HTML
    openViews() {},  // views.js: open exactly the views a link names
    // train.js: whether this page's session has a model of its own to put beside the DAE
    yours(has) {
      const option = page.results && page.results.querySelector('#compare option[value=yours]');
      if (option) option.hidden = !has;
      if (!has && state.compare === 'yours') { state.compare = null; api.placeControls(); changed(); }
    },
    trainOpened() {},  // train.js
    useTab(tab) { state.tab = tab; changed(); },
    set(changes) {
      if (Object.entries(changes).every(([k, v]) => state[k] === v)) return;
      Object.assign(state, changes); if (api.placeControls) api.placeControls(); changed();
    },
    // The page was opened: what its link says (webapp/links.py read it: the controls, the digit, the views).
    start(linked) {
      const l = JSON.parse(linked || '{}');
      Object.assign(state, l.controls || {});
      if (api.placeControls) api.placeControls();
      if (l.tab) state.tab = l.tab;
      if (Number.isInteger(l.sample)) { state.inputs.samples = {kind: 'sample', index: l.sample}; api.highlight(); }
      if (l.digit) state.inputs[l.tab || 'draw'] = {kind: 'digit', png: l.digit};
      if (l.digit && (l.tab || 'draw') === 'draw') api.linkedDrawing();
      if (l.views) { state.linkedViews = l.views; api.openViews(l.views); }
      api.started = true;
      api.setPresent(Boolean(l.present));
      changed();
    },
    linkedDrawing() {},  // canvas.js: says that the digit on screen came with the link
    digit: () => state.digit || '',  // the Latent tab's "from the Denoise tab" buttons
  };
  return api;
})();
