/* The drawing canvas: pointer events for the mouse, a finger or a pen; pen, eraser, undo, clear.
 *
 * What was done is kept as a list of actions (a stroke's points in canvas pixels, or a clear) and
 * repainted, so that undo is exact, Clear included. The controller sends the strokes since the
 * last clear with each request; the server draws the digit from them (webapp/digits/strokes.py):
 * what the page paints is only for the eye. A stroke ends where the pointer leaves the canvas, and
 * wherever the pointer is released.
 */
DAE.attachCanvas = (root) => {
  const canvas = root.querySelector('canvas');
  const ctx = canvas.getContext('2d'), actions = [];  // {tool, points} strokes and {tool: 'clear'} clears
  let tool = 'pen', current = null;
  const WIDTH = {pen: 22, eraser: 40};
  const round = (v) => Math.round(v * 10) / 10;
  const strokes = () => actions.slice(actions.map((a) => a.tool).lastIndexOf('clear') + 1);
  DAE.useStrokes({side: canvas.width, list: () => strokes().map((s) => ({tool: s.tool, width: WIDTH[s.tool], points: s.points}))});

  const paint = () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const s of strokes()) {
      ctx.globalCompositeOperation = s.tool === 'eraser' ? 'destination-out' : 'source-over';
      ctx.strokeStyle = '#2563eb'; ctx.lineWidth = WIDTH[s.tool]; ctx.lineCap = ctx.lineJoin = 'round';
      ctx.beginPath(); s.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      if (s.points.length === 1) ctx.lineTo(s.points[0][0] + 0.01, s.points[0][1]);
      ctx.stroke();
    }
    ctx.globalCompositeOperation = 'source-over';
  };
  const buttons = () => { root.querySelector('[data-action=undo]').disabled = !actions.length; };
  const changed = (final) => {
    buttons();
    root.querySelector('.dae-canvas-note').hidden = true;
    DAE.drawn(strokes().some((s) => s.tool === 'pen'), final);
  };
  const inside = (e) => {
    const r = canvas.getBoundingClientRect();
    return e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
  };
  const point = (e) => {  // in canvas pixels, kept on the canvas
    const r = canvas.getBoundingClientRect();
    const x = Math.min(Math.max(e.clientX, r.left), r.right), y = Math.min(Math.max(e.clientY, r.top), r.bottom);
    return [round((x - r.left) * canvas.width / r.width), round((y - r.top) * canvas.height / r.height)];
  };
  const end = (e) => {
    if (!current) return;
    if (e && e.clientX !== undefined) current.points.push(point(e));  // up to the edge, where it left
    current = null; paint(); changed(true);
  };

  canvas.addEventListener('pointerdown', (e) => {
    if (e.button > 0) return;
    e.preventDefault();
    current = {tool, points: [point(e)]}; actions.push(current); paint(); changed(false);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!current) return;
    if (!inside(e)) { end(e); return; }  // a finger (whose pointer the browser keeps on the canvas) left it
    for (const c of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) current.points.push(point(c));
    paint(); changed(false);
  });
  canvas.addEventListener('pointerleave', end);  // the mouse left the canvas: the stroke ends at its edge
  window.addEventListener('pointerup', () => end());  // released anywhere
  window.addEventListener('pointercancel', () => end());

  const setTool = (t) => { tool = t; root.querySelectorAll('[data-tool]').forEach((b) => b.setAttribute('aria-pressed', b.dataset.tool === t)); };
  const undo = () => { if (actions.length) { actions.pop(); paint(); changed(true); } };
  root.addEventListener('click', (e) => {
    const b = e.target.closest('button'); if (!b) return;
    if (b.dataset.tool) setTool(b.dataset.tool);
    if (b.dataset.action === 'undo') undo();
    if (b.dataset.action === 'clear' && strokes().length) { actions.push({tool: 'clear'}); paint(); changed(true); }
  });
  root.addEventListener('keydown', (e) => { if ((e.ctrlKey || e.metaKey) && e.key === 'z') { e.preventDefault(); undo(); } });
  DAE.linkedDrawing = () => { root.querySelector('.dae-canvas-note').hidden = false; };
  setTool('pen'); buttons();
};
