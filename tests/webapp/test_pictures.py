"""The app's pictures (webapp.pictures): enlarged digits, the error map and its scale, inline PNGs, the latent
path."""

import numpy as np

from dae.samples import load_samples
from tests.support import decoded, pictures
from webapp.pictures import colorbar_html, error_image, path_html, png_data_uri, png_rgb_data_uri, upscale


def test_rendering():
    digit = load_samples()[0][7]
    big = upscale(digit)
    assert big.shape == (224, 224) and big.dtype == np.uint8
    assert np.array_equal(big[::8, ::8], (digit * 255 + 0.5).astype(np.uint8))  # nearest neighbour
    err = error_image(np.linspace(0, 1, 784).reshape(28, 28))
    assert err.shape == (224, 224, 3) and err.dtype == np.uint8
    assert err[0, 0].sum() < 60 and err[-1, -1].sum() > 600  # dark for no error, bright for full error
    assert "linear-gradient" in colorbar_html()


def test_inline_pngs_are_lossless():
    digit = np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28)
    assert np.array_equal(decoded(png_data_uri(digit)), (digit * 255 + 0.5).astype(np.uint8))
    colour = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3)
    assert np.array_equal(decoded(png_rgb_data_uri(colour)), colour)


def test_path_html_holds_each_step_as_a_lossless_png():
    steps = np.stack([np.full((28, 28), v, dtype=np.float32) for v in (0.0, 0.5, 1.0)])
    steps[1, 3, 4] = 0.25
    html = path_html(steps, "A <path>")
    pixels = pictures(html)
    assert [p.shape for p in pixels] == [(28, 28)] * 3
    assert (
        pixels[0].max() == 0 and pixels[2].min() == 255 and pixels[1][0, 0] == 128 and pixels[1][3, 4] == 64
    )
    assert "A &lt;path&gt;" in html  # the caption is text, not markup
