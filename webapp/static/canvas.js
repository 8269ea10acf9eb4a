/* The drawing canvas: pointer events for the mouse, a finger or a pen; pen, eraser, undo, clear.
 *
 * The strokes are kept as point lists (canvas pixels) and repainted, so undo is exact. The
 * controller sends them as they are with each request; the server draws the digit from them
 * (webapp/digits/strokes.py): what the page paints is only for the eye.
 */
DAE.attachCanvas = (root) => {
  const canvas = root.querySelector('canvas');
  const ctx = canvas.getContext('2d'), strokes = [];
  let tool = 'pen', current = null;
  const WIDTH = {pen: 22, eraser: 40};
  const round = (v) => Math.round(v * 10) / 10;
  DAE.useStrokes({side: canvas.width, list: () => strokes.map((s) => ({tool: s.tool, width: WIDTH[s.tool], points: s.points}))});

  const paint = () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const s of strokes) {
      ctx.globalCompositeOperation = s.tool === 'eraser' ? 'destination-out' : 'source-over';
      ctx.strokeStyle = '#2563eb'; ctx.lineWidth = WIDTH[s.tool]; ctx.lineCap = ctx.lineJoin = 'round';
      ctx.beginPath(); s.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      if (s.points.length === 1) ctx.lineTo(s.points[0][0] + 0.01, s.points[0][1]);
      ctx.stroke();
    }
    ctx.globalCompositeOperation = 'source-over';
  };
  const changed = (final) => {
    root.querySelector('[data-action=undo]').disabled = !strokes.length;
    DAE.drawn(strokes.some((s) => s.tool === 'pen'), final);
  };
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return [round((e.clientX - r.left) * canvas.width / r.width), round((e.clientY - r.top) * canvas.height / r.height)];
  };

  canvas.addEventListener('pointerdown', (e) => {
    if (e.button > 0) return;
    canvas.setPointerCapture(e.pointerId); current = {tool, points: [point(e)]}; strokes.push(current); paint(); changed(false);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!current) return;
    for (const c of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) current.points.push(point(c));
    paint(); changed(false);
  });
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
};
