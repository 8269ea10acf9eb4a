"""The page's wiring (webapp.page): handler results mapped onto Gradio components, result images as files of
their own. The whole page served and used: tests/e2e."""

import gradio as gr
import numpy as np
from PIL import Image

from webapp.contract import Update
from webapp.page import keyed, own_file


def test_each_result_image_is_a_file_of_its_own():
    """Gradio rewrites a shared cache file in place for byte-identical images (a client reading it
    meanwhile gets a truncated file); own_file gives every result its own file."""
    image = gr.Image(format="png")
    picture = np.zeros((224, 224), dtype=np.uint8)
    assert image.postprocess(picture).path == image.postprocess(picture).path  # what Gradio does alone
    a, b = image.postprocess(own_file(picture)), image.postprocess(own_file(picture))
    assert a.path != b.path and np.array_equal(np.asarray(Image.open(a.path)), picture)


def test_keyed_maps_names_onto_components():
    with gr.Blocks():
        picture, text, slider = gr.Image(), gr.Textbox(), gr.Slider()
    pixels = np.zeros((4, 4), dtype=np.uint8)
    handler = keyed(
        lambda n: {"picture": pixels, "text": f"n = {n}", "slider": Update(maximum=n)},
        {"picture": picture, "text": text, "slider": slider},
    )
    out = handler(3)
    assert set(out) == {picture, text, slider} and out[text] == "n = 3"
    assert isinstance(out[picture], Image.Image) and np.array_equal(np.asarray(out[picture]), pixels)
    assert out[slider] == gr.update(maximum=3)  # new properties, not a new value
