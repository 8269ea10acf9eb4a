/* The Denoise tab's bundled MNIST digits: a grid of buttons, and "Random digit". */
DAE.attachPicker = (element) => {
  const thumbs = () => element.querySelectorAll('button.thumbnail-item');
  DAE.highlight = () => {  // the picker may mount after a pick (tabs render when first shown)
    const index = DAE.state.inputs.samples.index;
    thumbs().forEach((b, i) => { b.classList.toggle('selected', i === index); b.setAttribute('aria-pressed', i === index); });
  };
  DAE.highlight();
  element.addEventListener('click', (e) => {
    const b = e.target.closest('button.thumbnail-item');
    if (b) { DAE.pick(Number(b.dataset.index)); return; }
    if (e.target.closest('#random')) {  // any digit but the one on screen
      const n = thumbs().length, now = DAE.state.inputs.samples.index;
      let i = Math.floor(Math.random() * (n - 1)); if (now !== undefined && i >= now) i += 1;
      DAE.pick(i);
    }
  });
};
