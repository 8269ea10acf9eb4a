/* The teaching views under the results: <details> elements whose bodies the answers fill in.
 * Opening one asks for it at once; a click on the code map sends the point (fractions of the map),
 * and the server decodes it.
 */
DAE.attachViews = (element) => {
  DAE.openViewIds = () => [...element.querySelectorAll('details[open]')].map((d) => d.id);
  const shown = {};  // each view's HTML on screen: an answer that repeats it leaves the view as it is
  DAE.showViews = (views) => {
    for (const [id, html] of Object.entries(views)) {
      if (shown[id] !== html) { element.querySelector('#' + id + ' .dae-view-body').innerHTML = html; shown[id] = html; }
    }
  };
  DAE.openViews = (ids) => {
    for (const id of ids || []) { const d = element.querySelector('details#' + id); if (d) d.open = true; }
  };
  element.querySelectorAll('details').forEach((d) => d.addEventListener('toggle', () => {
    if (d.open) DAE.viewOpened(); else DAE.viewClosed();
  }));
  const map = element.querySelector('.dae-map-picture');
  if (map) map.addEventListener('click', (e) => {
    const r = map.getBoundingClientRect();
    DAE.clickMap([(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height]);
  });
  DAE.openViews(DAE.state.linkedViews);  // a link's views, if it opened before the views were on the page
  DAE.useViews(element);
};
