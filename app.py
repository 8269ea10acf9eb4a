"""The interactive denoising-autoencoder demo.

    python app.py                      # http://127.0.0.1:7860
    python app.py --share              # also ask Gradio for a public link
    python app.py --checkpoint DIR     # serve another checkpoint folder

Draw a digit or pick an MNIST test digit, choose a noise and its strength, and watch the
autoencoder reconstruct it. This file only lays out the page and wires each event to a handler
of `dae.ui.DemoUI`, whose results are keyed by output name; what the handlers do, and the tests
of it, live in the package.
"""

from __future__ import annotations

import os

# No network at start-up: analytics and telemetry stay off unless a user turns them on.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from dae import ui  # noqa: E402
from dae.checkpoint import CheckpointError, load_model  # noqa: E402
from dae.demo import Denoiser, colorbar_html, upscale  # noqa: E402
from dae.noise import NOISE_KINDS  # noqa: E402
from dae.preprocess import InputError, limit_decoding  # noqa: E402
from dae.samples import load_samples  # noqa: E402
from dae.ui_page import CSS, KEYBOARD_JS, SELECT_BRUSH_JS  # noqa: E402

ROOT = Path(__file__).parent
CHECKPOINTS = {"dae": ROOT / "checkpoints" / "dae", "unet": ROOT / "checkpoints" / "unet"}
DEFAULT_CHECKPOINT = CHECKPOINTS["dae"]

# Serving limits (README, Reliability): requests waiting at once, all events together (more are
# refused at once with "queue full" instead of waiting minutes); the events that decode pictures
# run two at a time, and the cheap ones (sliders, buttons, pickers: milliseconds each) have their
# own slots, so a burst of big uploads never stalls anyone's slider.
QUEUE_SIZE = 64
HEAVY = dict(concurrency_id="pictures", concurrency_limit=2)
LIGHT = dict(concurrency_id="controls", concurrency_limit=8)
CACHE_CLEANUP = (600, 3600)  # every 10 minutes, delete result images and uploads older than an hour
MAX_UPLOAD = "10mb"
LAUNCH = dict(css=CSS, max_file_size=MAX_UPLOAD, ssr_mode=False)  # what every launch (app, tests, benchmarks) passes
QUIET = dict(show_progress="hidden", trigger_mode="always_last", api_visibility="private")


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


def keyed(fn, outputs: dict[str, gr.components.Component]):
    """Map a handler's {name: value} result onto Gradio's {component: value}; a ui.Update changes properties."""

    def gradio_value(component, value):
        if isinstance(value, ui.Update):
            return gr.update(**value)
        return own_file(value) if isinstance(component, gr.Image) and isinstance(value, np.ndarray) else value

    @functools.wraps(fn)
    def handler(*args):
        return {outputs[name]: gradio_value(outputs[name], value) for name, value in fn(*args).items()}

    return handler


def clicked(fn):
    """For a gallery's select event: the clicked thumbnail's index becomes fn's first argument."""

    def handler(evt: gr.SelectData, *args):
        return fn(evt.index, *args)

    handler.__name__ = fn.__name__
    return handler


def user_errors(fn):
    """For the API: an InputError becomes a gr.Error, a message for the client, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None

    return wrapper


def on(triggers, fn, inputs, outputs: dict, **options):
    """Wire fn's keyed results to `triggers` (the latest value wins, no spinners, not in the API)."""
    return gr.on(triggers, keyed(fn, outputs), inputs, list(outputs.values()), **(QUIET | options))


def load_denoiser(checkpoint: str | Path = DEFAULT_CHECKPOINT, compare_checkpoint: str | Path | None = CHECKPOINTS["unet"]) -> Denoiser:
    """The served models, loaded once: the DAE, and the U-Net when its folder exists.

    A broken DAE checkpoint is fatal (CheckpointError); a broken comparison checkpoint only
    costs the comparison, with a warning.
    """
    denoiser = Denoiser.from_checkpoints({"dae": checkpoint})
    if compare_checkpoint is not None and Path(compare_checkpoint).is_dir():
        try:
            denoiser.models["unet"] = load_model(compare_checkpoint)[0]
        except CheckpointError as e:
            print(f"warning: the comparison model is off: {e}", file=sys.stderr)
    return denoiser


def image(label: str, elem_id: str, **options) -> gr.Image:
    """A 28 x 28 result shown 8x, square pixels, PNG (never lossy WebP)."""
    return gr.Image(label=label, elem_id=elem_id, format="png", interactive=False, elem_classes="pixelated", buttons=["download"], **options)


def sample_gallery(samples, labels, scale: int = 2, **options) -> gr.Gallery:
    """The bundled MNIST test digits as clickable thumbnails (one Tab stop, arrow keys inside: ui_page)."""
    return gr.Gallery([(upscale(img, scale), str(label)) for img, label in zip(samples, labels)], allow_preview=False, format="png",
                      object_fit="contain", buttons=[], elem_classes=["pixelated", "dae-picker"], **options)


def denoise_tab(handlers: ui.DemoUI) -> gr.State:
    """Inputs on the left with their results right under them (so a phone shows both), controls on the right."""
    kinds = list(NOISE_KINDS.values())
    first = kinds[0]
    has_unet = "unet" in handlers.denoiser.models
    digit, sample = gr.State(None), gr.State(None)
    with gr.Row():
        with gr.Column(scale=3, min_width=320):
            with gr.Tabs():
                with gr.Tab("Draw") as draw_tab:
                    sketch = gr.Sketchpad(
                        canvas_size=(ui.CANVAS, ui.CANVAS), image_mode="RGBA", type="numpy", layers=False, transforms=(),
                        brush=gr.Brush(default_size=24, colors=["#2563eb"], color_mode="fixed"), label="Draw a digit", elem_id="sketch",
                    )
                with gr.Tab("MNIST samples") as samples_tab:
                    random_button = gr.Button("Random digit", elem_id="random")  # before the thumbnails in Tab order
                    gallery = sample_gallery(handlers.samples, handlers.labels, columns=5, height=420, label="Test-set digits (click one)", elem_id="samples")
                with gr.Tab("Upload") as upload_tab:
                    with gr.Row():
                        upload = gr.File(file_types=["image"], type="filepath", label="An image of a digit (any size or format)", elem_id="upload", min_width=160)
                        preview = gr.Image(label="Your picture", elem_id="preview", format="png", interactive=False, height=200, min_width=160, buttons=[])
            with gr.Row(elem_classes="dae-results"):
                clean_image = image("Input", "clean")
                noisy_image = image("Noisy input", "noisy")
                recon_image = image("Reconstruction", "recon")
                error_map = image("Error map", "error")
            with gr.Row(elem_classes="dae-results", visible=False) as unet_row:
                gr.Markdown("**U-Net**, same noisy input: skip connections and a residual output instead of a 256-d bottleneck.", scale=2)
                unet_image = image("U-Net reconstruction", "unet-recon")
                unet_error = image("U-Net error map", "unet-error")
            gr.HTML(colorbar_html())
            status = gr.Markdown(ui.BLANK_HINT, elem_id="metrics")  # the metrics, a hint while there is no digit, or what is wrong
        with gr.Column(scale=2, min_width=280):
            kind = gr.Radio([(k.label, k.name) for k in kinds], value=first.name, label="Noise", elem_id="kind")
            strength = gr.Slider(0, first.max_strength, value=first.default_strength, step=0.01, label=f"Strength: {first.strength_name}", elem_id="strength")
            with gr.Row():
                seed = gr.Number(0, precision=0, minimum=0, label="Noise seed (applies on Enter or leaving the box)", elem_id="seed")
                new_noise = gr.Button("New noise", elem_id="new-noise")
            compare = gr.Checkbox(False, label="Compare with a stronger model (U-Net)", visible=has_unet, elem_id="compare")
            gr.Markdown(
                "The models were trained *blind*: every training image got a random noise kind at a random "
                "strength over these sliders' full range, so one checkpoint serves every setting."
            )

    controls = [kind, strength, seed, compare]
    results = {"noisy": noisy_image, "recon": recon_image, "error": error_map, "unet_recon": unet_image, "unet_error": unet_error, "status": status}
    shown = {"digit": digit, "clean": clean_image} | results
    picked = {"sample": sample, "gallery": gallery} | shown
    on([sketch.change, draw_tab.select], handlers.drawn, [sketch, *controls], shown, **HEAVY)
    on([gallery.select], clicked(handlers.picked), controls, picked, **LIGHT)
    on([samples_tab.select], handlers.picked, [sample, *controls], picked, **LIGHT)
    on([random_button.click], handlers.random_pick, [sample, *controls], picked, **LIGHT)
    on([upload.upload, upload.clear, upload_tab.select], handlers.uploaded, [upload, *controls], {"preview": preview} | shown, **HEAVY)
    on([strength.input, seed.submit, seed.blur], handlers.results, [digit, *controls], results, **LIGHT)
    on([kind.change], handlers.kind_changed, [digit, *controls], {"strength": strength} | results, **LIGHT)
    on([new_noise.click], handlers.new_noise, [digit, *controls], {"seed": seed} | results, **LIGHT)
    on([compare.change], handlers.compare_changed, [digit, *controls], {"unet_row": unet_row} | results, **LIGHT)
    sketch.clear(None, js=SELECT_BRUSH_JS)
    return digit


def latent_tab(handlers: ui.DemoUI, digit: gr.State) -> None:
    """The decoded path between two digits' codes; results first (left, or on top on a phone), pickers after."""
    gr.Markdown(
        "The encoder squeezes each digit into **256 numbers**; the decoder paints a digit from any such code. "
        "Pick two digits and walk the straight line between their codes: every point on it is decoded. "
        "A smooth, digit-like path means the autoencoder has learned a meaningful space, not a lookup table."
    )
    first, last = 0, len(handlers.samples) - 1
    initial = handlers.latent(handlers.samples[first], handlers.samples[last], 0.5)
    start, end = gr.State(handlers.samples[first]), gr.State(handlers.samples[last])
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            with gr.Row(elem_classes="dae-results"):
                start_image = image("Start", "latent-start", value=initial["start_image"])
                point_image = image("Decoded point", "latent-point", value=initial["point"])
                end_image = image("End", "latent-end", value=initial["end_image"])
            t = gr.Slider(0, 1, value=0.5, step=0.01, label="Position on the path (0 = start, 1 = end)", elem_id="latent-t")
            path = gr.HTML(initial["path"], elem_id="latent-path")
            latent_status = gr.Markdown(initial["latent_status"], elem_id="latent-status")
        with gr.Column(scale=1, min_width=320):
            use_a = gr.Button("Start from the digit in the Denoise tab", elem_id="use-a", size="sm")
            start_pick = sample_gallery(handlers.samples, handlers.labels, scale=1, columns=10, height=260, selected_index=first,
                                        label="Start digit (click one)", elem_id="latent-a")
            use_b = gr.Button("End at the digit in the Denoise tab", elem_id="use-b", size="sm")
            end_pick = sample_gallery(handlers.samples, handlers.labels, scale=1, columns=10, height=260, selected_index=last,
                                      label="End digit (click one)", elem_id="latent-b")

    drawn = {"start_image": start_image, "end_image": end_image, "point": point_image, "path": path, "latent_status": latent_status}
    on([start_pick.select], clicked(handlers.pick_start), [end, t], {"start": start} | drawn, **LIGHT)
    on([end_pick.select], clicked(handlers.pick_end), [start, t], {"end": end} | drawn, **LIGHT)
    on([use_a.click], handlers.start_from, [digit, start, end, t], {"start": start, "start_pick": start_pick} | drawn, **LIGHT)
    on([use_b.click], handlers.end_at, [digit, start, end, t], {"end": end, "end_pick": end_pick} | drawn, **LIGHT)
    on([t.input], handlers.latent_point, [start, end, t], {"point": point_image}, **LIGHT)


def api(handlers: ui.DemoUI) -> None:
    """One named endpoint, /denoise. Hidden components carry its types and names (what view_api shows);
    they accept anything, so that every value is checked, and explained, by dae.ui."""
    with gr.Group(visible=False):
        inputs = [gr.File(label="image"), gr.Textbox(label="noise"), gr.Number(label="strength"), gr.Number(label="seed"), gr.Textbox("dae", label="model")]
        outputs = {"noisy": gr.Image(label="noisy", format="png"), "reconstruction": gr.Image(label="reconstruction", format="png"),
                   "error_map": gr.Image(label="error_map", format="png"), "metrics": gr.JSON(label="metrics")}
        button = gr.Button()
    button.click(user_errors(keyed(handlers.denoise_api, outputs)), inputs, list(outputs.values()), api_name="denoise",
                 api_description="Denoise an image file: the noisy input, the reconstruction and the error map (224 × 224 PNGs, "
                                 "each model pixel 8 × 8) and the metrics.", **HEAVY)


def build_demo(denoiser: Denoiser) -> gr.Blocks:
    """The whole page around `denoiser`, queued and bounded, ready to launch(**LAUNCH)."""
    limit_decoding()  # before anything is served: Gradio decodes drawings itself
    samples, labels = load_samples()
    handlers = ui.DemoUI(denoiser, samples, labels)
    with gr.Blocks(title="Denoising autoencoder on MNIST", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(
            "# Denoising autoencoder on MNIST\n"
            "Draw a digit (or pick a real MNIST test digit), corrupt it, and see what a 572k-parameter "
            "convolutional autoencoder makes of it. Each digit is first reduced to MNIST's 28 × 28 format."
        )
        with gr.Tab("Denoise"):
            digit = denoise_tab(handlers)
        with gr.Tab("Latent space"):
            latent_tab(handlers, digit)
        api(handlers)
        demo.load(None, js=SELECT_BRUSH_JS)
        demo.load(None, js=KEYBOARD_JS)
    demo.queue(max_size=QUEUE_SIZE)
    return demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint folder (or Hub repo id) of the model to serve")
    p.add_argument("--compare-checkpoint", default=str(CHECKPOINTS["unet"]),
                   help="checkpoint of the stronger model offered for comparison (skipped when the folder is missing)")
    p.add_argument("--share", action="store_true", help="also create a public share link through Gradio")
    args = p.parse_args(argv)
    limit_decoding()
    torch.set_num_threads(1)  # a 1.8 MFLOP model: threads cost more than they save, and requests run side by side
    try:
        denoiser = load_denoiser(args.checkpoint, args.compare_checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    demo = build_demo(denoiser)
    # quiet: Gradio's own start-up lines would tell people to "set share=True in launch()"; ours name --share.
    demo.launch(share=args.share, quiet=True, prevent_thread_lock=True, **LAUNCH)
    print(f"Serving the demo at {demo.local_url}", flush=True)
    if args.share and not demo.share_url:
        print("No public share link could be created (is this machine offline?); the app is still served locally.", file=sys.stderr)
    elif not args.share:
        print("For a public link as well, run: python app.py --share", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
