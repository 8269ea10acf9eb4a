/* Keyboard behaviour Gradio lacks, applied to elements whenever they appear (tabs mount lazily):
 * the pickers: one Tab stop each (the highlighted thumbnail, else the first), arrow keys move
 * between thumbnails (roving tabindex, the WAI-ARIA grid pattern), Enter/Space pick.
 * (The noise kinds are the page's own radios, one group by their shared name, dae-kind.)
 */
(() => {
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
  const setups = [['.dae-picker', oneTabStop]];
  const apply = () => setups.forEach(([selector, setup]) => document.querySelectorAll(selector).forEach((el) => {
    if (!el.dataset.daeKeyboard) { el.dataset.daeKeyboard = '1'; setup(el); }
  }));
  const start = () => {
    apply();
    new MutationObserver(apply).observe(document.body, {subtree: true, childList: true});
  };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
