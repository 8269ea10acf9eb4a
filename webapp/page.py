"""The page: Gradio's layout of the tabs, and each event wired to its handler.

The handlers (denoise_tab, latent_tab, links, api) take and return plain values and know nothing
of Gradio; `keyed` maps their results, keyed by output name, onto the components here. The
Denoise tab's canvas, picker, results and views are the page's own HTML (markup.py), run by its
controller (static/controller.js): the Gradio controls only tell the controller their values.
"""

from __future__ import annotations

import functools
import json
import uuid

import gradio as gr
import numpy as np
from PIL import Image

from dae.noise import CORRUPTIONS, NOISE_KINDS

from . import api, denoise_tab, latent_tab, links, train_tab
from .contract import Update
from .digits.decoding import limit_decoding
from .errors import InputError
from .markup import CANVAS_HTML, UPLOAD_HTML, controls_html, picker_html, results_html, train_html, views_html
from .pictures import colorbar_html, png_data_uri, upscale
from .routes import PageRoutes
from .served import Served
from .serving import CACHE_CLEANUP, HEAVY, LIGHT, QUEUE_SIZE

TITLE = "Denoising autoencoder on MNIST"
QUIET = dict(show_progress="hidden", trigger_mode="always_last", api_visibility="private")
JS_ONLY = dict(
    queue=False, show_progress="hidden", api_visibility="private"
)  # events that run in the browser only


# The noise kind's radio tells the controller the kind, and the strength kept within the kind's range.
def build_demo(served: Served, trainer: train_tab.Trainer | None = None) -> gr.Blocks:
    """The whole page around the served models, queued and bounded, ready for serving.launch.

    `trainer` runs the Train tab's runs (none: the tab says training is off here).
    """
    limit_decoding()  # before anything is served: uploads are decoded by PIL
    with gr.Blocks(title=TITLE, delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(
            f"# {TITLE}\n"
            "Draw a digit (or pick a real MNIST test digit), corrupt it, and see what a 572k-parameter "
            "convolutional autoencoder makes of it. Each digit is first reduced to MNIST's 28 × 28 format."
        )
        with gr.Tab("Denoise"):
            input_tabs = denoise_layout(served)
        with gr.Tab("Latent space"):
            latent_layout(served)
        with gr.Tab("Train") as train:
            gr.HTML(
                train_html(
                    list(NOISE_KINDS.values()),
                    train_tab.CODE_SIZES,
                    train_tab.DIGITS,
                    train_tab.DEFAULT_DIGITS,
                    train_tab.where(trainer),
                    on=trainer is not None,
                ),
                elem_id="train",
                js_on_load="DAE.attachTrain(element);",
            )
        train.select(None, js="() => DAE.trainOpened()", **JS_ONLY)
        api_layout(served)
        # A link restores the page: the input tab it names, then the controller starts with all the rest.
        linked = gr.Textbox(visible=False)

        def restore(request: gr.Request):  # the annotation is how Gradio knows to pass the request
            out = links.from_link(served, request)
            return gr.update(selected=out["tab"]) if out["tab"] else gr.update(), json.dumps(out)

        demo.load(restore, None, [input_tabs, linked], **JS_ONLY).then(
            None, [linked], js="(linked) => DAE.start(linked)", **JS_ONLY
        )
    demo.queue(max_size=QUEUE_SIZE)
    demo.page_routes = PageRoutes(
        functools.partial(denoise_tab.render, served), trainer, served
    )  # serving.launch
    return demo


def denoise_layout(served: Served) -> gr.Tabs:
    """The input on the left (drawing, samples, upload); on the right the controls, and the results right
    under them (on a phone: the input, then the controls and the results together); the views below, full
    width."""
    with gr.Row():
        with gr.Column(scale=3, min_width=320):
            with gr.Tabs(selected="draw") as input_tabs:
                with gr.Tab("Draw", id="draw") as draw_tab:
                    gr.HTML(
                        CANVAS_HTML.format(side=denoise_tab.CANVAS),
                        elem_id="sketch",
                        js_on_load="DAE.attachCanvas(element);",
                    )
                with gr.Tab("MNIST samples", id="samples") as samples_tab:
                    thumbnails = [png_data_uri(img) for img in served.samples]
                    gr.HTML(
                        picker_html(thumbnails, served.labels, served.test_indices),
                        elem_id="samples",
                        elem_classes="dae-picker",
                        js_on_load="DAE.attachPicker(element);",
                    )
                with gr.Tab("Upload", id="upload") as upload_tab:
                    gr.HTML(UPLOAD_HTML, elem_id="upload", js_on_load="DAE.attachUpload(element);")
        with gr.Column(scale=4, min_width=320):
            controls = controls_html(list(CORRUPTIONS.values()), served.beside())
            gr.HTML(
                results_html(controls, colorbar_html(), denoise_tab.BLANK_HINT),
                elem_id="results",
                js_on_load="DAE.attachResults(element);",
            )
    gr.HTML(views_html(list(served.models.values())), elem_id="views", js_on_load="DAE.attachViews(element);")
    for tab, name in ((draw_tab, "draw"), (samples_tab, "samples"), (upload_tab, "upload")):
        tab.select(None, js=f"() => DAE.useTab('{name}')", **JS_ONLY)
    return input_tabs


def latent_layout(served: Served) -> None:
    """The decoded path between two digits' codes; results first (left, or on top on a phone), pickers
    after."""
    gr.Markdown(
        "The encoder squeezes each digit into **256 numbers**; the decoder paints a digit from any such "
        "code. Pick two digits and walk the straight line between their codes: every point on it is decoded. "
        "Under it, a plain pixel cross-fade of the same two digits at the same steps, for comparison."
    )
    first, last = 0, len(served.samples) - 1
    initial = latent_tab.latent(served, served.samples[first], served.samples[last], 0.5)
    start, end = gr.State(served.samples[first]), gr.State(served.samples[last])
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            with gr.Row(elem_classes="dae-results"):
                start_image = image("Start", "latent-start", value=initial["start_image"])
                point_image = image("Decoded at t", "latent-point", value=initial["point"])
                crossfade_image = image("Cross-fade at t", "latent-crossfade", value=initial["crossfade"])
                end_image = image("End", "latent-end", value=initial["end_image"])
            t = gr.Slider(
                0,
                1,
                value=0.5,
                step=0.01,
                label="Position on the path (0 = start, 1 = end)",
                elem_id="latent-t",
            )
            path = gr.HTML(initial["path"], elem_id="latent-path")
            latent_status = gr.Markdown(initial["latent_status"], elem_id="latent-status")
        with gr.Column(scale=1, min_width=320):
            use_a = gr.Button("Start from the digit in the Denoise tab", elem_id="use-a", size="sm")
            start_pick = sample_gallery(
                served, selected_index=first, label="Start digit (click one)", elem_id="latent-a"
            )
            use_b = gr.Button("End at the digit in the Denoise tab", elem_id="use-b", size="sm")
            end_pick = sample_gallery(
                served, selected_index=last, label="End digit (click one)", elem_id="latent-b"
            )

    at_t = {"point": point_image, "crossfade": crossfade_image, "path": path, "latent_status": latent_status}
    drawn = {"start_image": start_image, "end_image": end_image} | at_t

    def pick_start(evt: gr.SelectData, end_digit, t_value):
        return keyed(functools.partial(latent_tab.pick_start, served), {"start": start} | drawn)(
            evt.index, end_digit, t_value
        )

    def pick_end(evt: gr.SelectData, start_digit, t_value):
        return keyed(functools.partial(latent_tab.pick_end, served), {"end": end} | drawn)(
            evt.index, start_digit, t_value
        )

    start_pick.select(pick_start, [end, t], [start, *drawn.values()], **QUIET, **LIGHT)
    end_pick.select(pick_end, [start, t], [end, *drawn.values()], **QUIET, **LIGHT)
    # The Denoise tab's digit lives in the page's controller: a browser-only step copies it into a hidden box
    # first.
    digit = gr.Textbox(visible=False)
    for button, handler, outputs in (
        (use_a, latent_tab.start_from, {"start": start, "start_pick": start_pick} | drawn),
        (use_b, latent_tab.end_at, {"end": end, "end_pick": end_pick} | drawn),
    ):
        button.click(None, None, [digit], js="() => DAE.digit()", **JS_ONLY).then(
            keyed(functools.partial(handler, served), outputs),
            [digit, start, end, t],
            list(outputs.values()),
            **QUIET,
            **LIGHT,
        )
    gr.on(
        [t.input, t.change],
        keyed(functools.partial(latent_tab.latent_point, served), at_t),
        [start, end, t],
        list(at_t.values()),
        **QUIET,
        **LIGHT,
    )


def api_layout(served: Served) -> None:
    """One named endpoint, /denoise. Hidden components carry its types and names (what view_api shows);
    they accept anything, so that every value is checked, and explained, by api.denoise."""
    with gr.Group(visible=False):
        inputs = [
            gr.File(label="image"),
            gr.Textbox(label="noise"),
            gr.Number(label="strength"),
            gr.Number(label="seed"),
            gr.Textbox("dae", label="model"),
        ]
        outputs = {
            "noisy": gr.Image(label="noisy", format="png"),
            "reconstruction": gr.Image(label="reconstruction", format="png"),
            "error_map": gr.Image(label="error_map", format="png"),
            "metrics": gr.JSON(label="metrics"),
        }
        button = gr.Button()

    def denoise(image, noise, strength, seed, model="dae"):  # the API's parameter names (view_api shows them)
        try:
            return keyed(functools.partial(api.denoise, served), outputs)(image, noise, strength, seed, model)
        except InputError as e:  # a message for the client, never a traceback
            raise gr.Error(str(e), print_exception=False) from None

    button.click(
        denoise,
        inputs,
        list(outputs.values()),
        api_name="denoise",
        api_description="Denoise an image file: the noisy input, the reconstruction and the error map "
        "(224 × 224 PNGs, each model pixel 8 × 8) and the metrics.",
        **HEAVY,
    )


# ---- components and results --------------------------------------------------------------------------


def keyed(fn, outputs: dict[str, gr.components.Component]):
    """Map a handler's {name: value} result onto Gradio's {component: value}; an Update changes properties."""

    def gradio_value(component, value):
        if isinstance(value, Update):
            return gr.update(**value)
        return own_file(value) if isinstance(component, gr.Image) and isinstance(value, np.ndarray) else value

    def handler(*args):
        return {outputs[name]: gradio_value(outputs[name], value) for name, value in fn(*args).items()}

    return handler


def own_file(image: np.ndarray) -> Image.Image:
    """A result image that Gradio caches as a file of its own.

    Gradio (6.31) stores byte-identical images in one cache file and rewrites it in place for
    every request that produces it again: a client fetching it meanwhile gets a truncated file
    (measured: 5 of 40 concurrent identical /denoise calls failed). Two people looking at the same
    sample with the same seed do exactly that, so every result carries a unique PNG text chunk.
    """
    picture = Image.fromarray(image)
    picture.info["request"] = uuid.uuid4().hex
    return picture


def image(label: str, elem_id: str, **options) -> gr.Image:
    """A 28 x 28 result shown 8x, square pixels, PNG (never lossy WebP)."""
    return gr.Image(
        label=label,
        elem_id=elem_id,
        format="png",
        interactive=False,
        elem_classes="pixelated",
        buttons=["download"],
        **options,
    )


def sample_gallery(served: Served, **options) -> gr.Gallery:
    """The bundled MNIST test digits as clickable thumbnails (one Tab stop, arrow keys inside:
    static/keyboard.js)."""
    return gr.Gallery(
        [(upscale(img, 1), str(label)) for img, label in zip(served.samples, served.labels)],
        allow_preview=False,
        format="png",
        object_fit="contain",
        buttons=[],
        columns=10,
        height=260,
        elem_classes=["pixelated", "dae-picker"],
        **options,
    )
