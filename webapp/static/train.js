/* The Train tab: the settings a student chooses, Start and Stop, and the run's progress as the server reports it
 * (webapp/train_tab.py). Every call is POST dae/train {session, action, settings?}; the answer says the run's
 * state, its place in line, its progress, the loss chart and the strip of reconstructions, all drawn in Python.
 * While a run waits or trains the page asks every half second: a page that stops asking (closed) has its run
 * stopped by the server.
 */
DAE.attachTrain = (element) => {
  const $ = (selector) => element.querySelector(selector);
  const form = $('#train-settings'), start = $('#train-start'), stop = $('#train-stop');
  const progress = $('#train-progress'), bar = $('#train-bar');
  let polling = null, estimates = {}, lastState = null;

  const settings = () => {
    const noise = form.querySelector('input[name=train-noise]:checked').value;
    const strength = form.querySelector(`[data-strength-of="${noise}"]`);
    return {noise, strength: strength ? Number(strength.value) : null, code_size: Number($('#train-code').value),
            digits: Number($('#train-digits').value), seed: Number($('#train-seed').value)};
  };
  const call = async (action, extra = {}) => {
    try {
      const response = await fetch('dae/train', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                 body: JSON.stringify({session: DAE.session, action, ...extra})});
      const answer = await response.json();
      if (!response.ok) return {state: lastState || 'idle', message: answer.error || `HTTP ${response.status}`};
      return answer;
    } catch (e) {
      return {state: lastState || 'idle', message: 'The server cannot be reached; trying again.'};
    }
  };
  const estimate = () => { $('#train-estimate').textContent = estimates[$('#train-digits').value] || ''; };
  const show = (a) => {
    lastState = a.state;
    estimates = a.estimates || estimates; estimate();
    const busy = ['waiting', 'downloading', 'running'].includes(a.state);
    start.disabled = busy || start.hasAttribute('data-off'); stop.disabled = !busy;  // data-off: training is off
    form.querySelectorAll('input, select').forEach((i) => { i.disabled = busy; });
    const p = a.progress;
    let text = {idle: 'Choose the settings and press Start.', waiting: `Waiting: ${a.place === 1 ? 'next' : `number ${a.place} in line`} (one run at a time on this server).`,
                downloading: a.message, running: 'Training…', done: 'Done.', stopped: 'Stopped: what it learned so far is kept.',
                failed: a.message || 'The run failed.'}[a.state] || a.message || '';
    if (p) {
      const left = p.seconds_left === null || p.done ? '' : `, about ${Math.ceil(p.seconds_left)} s left`;
      text += ` ${p.seen.toLocaleString()} of ${p.digits.toLocaleString()} digits${left}; ${p.images_per_second.toLocaleString()} images/s on ${p.device}.`;
      bar.value = p.digits ? p.seen / p.digits : 0;
    } else if (a.state === 'idle') bar.value = 0;
    if (a.message && a.state !== 'downloading' && a.state !== 'failed') text += ' ' + a.message;
    progress.textContent = text;
    if (a.chart) $('#train-chart').innerHTML = a.chart;
    if (a.strip) {
      $('#train-recons').innerHTML = a.strip.map((s, i) => `<figure class="dae-figure"><img src="${s.noisy}" alt="noisy test digit ${i + 1}">`
        + `<img src="${s.output}" alt="its reconstruction"><div class="dae-guess${s.unsure ? ' dae-unsure' : ''}">${s.guess || ''}</div></figure>`).join('');
    }
    $('#train-download').hidden = !a.has_model;
    $('#train-yours').hidden = !a.has_model;
    DAE.yours(a.has_model);
    if (busy && !polling) polling = setInterval(async () => show(await call('status')), 500);
    if (!busy && polling) { clearInterval(polling); polling = null; }
  };
  $('#train-digits').addEventListener('change', estimate);
  start.addEventListener('click', async () => { start.disabled = true; show(await call('start', {settings: settings()})); });
  stop.addEventListener('click', async () => show(await call('stop')));
  $('#train-download').addEventListener('click', (e) => { e.preventDefault(); location.href = `dae/model?session=${DAE.session}`; });
  DAE.trainOpened = async () => show(await call('open'));
};
