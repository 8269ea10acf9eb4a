/* The teaching views under the results: <details> elements whose bodies the answers fill in.
 * Opening one asks for it at once; a click on the code map sends the point (fractions of the map),
 * and the server decodes it.
 */
DAE.attachViews = (element) => {
  DAE.openViewIds = () => [...element.querySelectorAll('details[open]')].map((d) => d.id);
  const shown = {};  // each view's HTML on screen: an answer that repeats it leaves the view as it is
  // A view's body by its id in the answer: "curve", or "latent-map/<model>" for one model's code map.
  const body = (id) => {
    const [view, model] = id.split('/');
    return element.querySelector('#' + view + ' .dae-view-body' + (model ? `[data-model="${model}"]` : ''));
  };
  DAE.showViews = (views) => {
    for (const [id, html] of Object.entries(views)) {
      const target = body(id);
      if (target && shown[id] !== html) { target.innerHTML = html; shown[id] = html; }
    }
    // the maps: the DAE's always; another model's while it is beside the DAE (its answer fills it)
    if (Object.keys(views).some((id) => id.startsWith('latent-map/'))) {
      element.querySelectorAll('#latent-map .dae-map').forEach((m) => {
        m.hidden = m.dataset.model !== 'dae' && !(('latent-map/' + m.dataset.model) in views);
      });
    }
  };
  DAE.openViews = (ids) => {  // exactly these open, the others closed (a link's views)
    element.querySelectorAll('details').forEach((d) => { d.open = (ids || []).includes(d.id); });
  };
  element.querySelectorAll('details').forEach((d) => d.addEventListener('toggle', () => {
    if (d.open) DAE.viewOpened(); else DAE.viewClosed();
  }));
  element.addEventListener('click', (e) => {  // a code map (there may be two): the point, as fractions of it
    const map = e.target.closest('.dae-map-picture');
    if (!map) return;
    const r = map.getBoundingClientRect();
    DAE.clickMap({model: map.dataset.model, at: [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height]});
  });
  if (DAE.state.linkedViews) DAE.openViews(DAE.state.linkedViews);  // a link's views, if it came first
  DAE.useViews(element);
};
