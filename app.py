"""The interactive denoising-autoencoder demo.

    python app.py                      # http://127.0.0.1:7860
    python app.py --share              # also ask Gradio for a public link
    python app.py --checkpoint DIR     # serve another checkpoint folder

Draw a digit or pick an MNIST test digit, choose a noise and its strength, and watch the
autoencoder reconstruct it. This file only lays out the page; what each event does lives in
`dae.demo` and `dae.preprocess`, as plain functions the tests call without a browser.
"""

from __future__ import annotations

import os

# No network at start-up: analytics and telemetry stay off unless a user turns them on.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from dae.checkpoint import CheckpointError  # noqa: E402
from dae.demo import Denoiser, Result, colorbar_html, error_image, metrics_markdown, result_json, upscale  # noqa: E402
from dae.noise import NOISE_KINDS  # noqa: E402
from dae.preprocess import InputError, digit_from_file, mnist_style, sketch_ink  # noqa: E402
from dae.samples import load_samples  # noqa: E402

ROOT = Path(__file__).parent
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "dae"
MODEL_TITLES = {"dae": "DAE (specified model)"}
BLANK_HINT = "✏️ Draw a digit on the canvas, pick an MNIST sample, or upload an image."
SELECT_BRUSH_JS = """() => { setTimeout(() => document.querySelector('#sketch button[aria-label="Brush"]')?.click(), 300); }"""
CSS = """
.pixelated img { image-rendering: pixelated; }
.dae-colorbar { max-width: 320px; margin: 0 auto; font-size: 0.8em; }
.dae-colorbar-bar { height: 12px; border-radius: 3px; }
.dae-colorbar-labels { display: flex; justify-content: space-between; }
.dae-colorbar-title { text-align: center; opacity: 0.8; }
"""


def user_errors(fn):
    """Turn an InputError into a gr.Error: a message in the page, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            raise gr.Error(str(e), print_exception=False) from None

    return wrapper


def build_demo(denoiser: Denoiser) -> gr.Blocks:
    samples, labels = load_samples()
    kinds = list(NOISE_KINDS.values())
    first = kinds[0]

    def render(clean: np.ndarray | None, kind: str, strength: float, seed: float) -> tuple:
        """(noisy, reconstruction, error map, metrics) for the current digit and controls."""
        if clean is None:
            return None, None, None, BLANK_HINT
        r: Result = denoiser(clean, kind, strength, seed)
        return upscale(r.noisy), upscale(r.outputs["dae"]), error_image(np.abs(r.outputs["dae"] - r.clean)), metrics_markdown(r, MODEL_TITLES)

    def show(clean: np.ndarray | None, kind: str, strength: float, seed: float) -> tuple:
        return (clean, None if clean is None else upscale(clean), *render(clean, kind, strength, seed))

    @user_errors
    def on_sketch(value, kind, strength, seed):
        ink = sketch_ink(value)
        return show(mnist_style(ink) if ink is not None else None, kind, strength, seed)

    @user_errors
    def on_sample(kind, strength, seed, evt: gr.SelectData):
        return show(samples[evt.index], kind, strength, seed)

    @user_errors
    def on_random(kind, strength, seed):
        return show(samples[np.random.randint(len(samples))], kind, strength, seed)

    @user_errors
    def on_upload(path, kind, strength, seed):
        if path is None:
            return show(None, kind, strength, seed)
        return show(digit_from_file(path), kind, strength, seed)

    on_controls = user_errors(render)

    def on_kind(kind, strength):
        k = NOISE_KINDS.get(kind, first)
        return gr.Slider(maximum=k.max_strength, value=min(strength, k.max_strength), label=f"Strength: {k.strength_name}")

    @user_errors
    def denoise_api(path, kind, strength, seed):
        """Denoise an image file: returns the noisy image, the reconstruction, the error map and metrics."""
        if path is None:
            raise InputError("Send an image file.")
        r = denoiser(digit_from_file(path), kind, strength, seed)
        return upscale(r.noisy), upscale(r.outputs["dae"]), error_image(np.abs(r.outputs["dae"] - r.clean)), result_json(r)

    with gr.Blocks(title="Denoising autoencoder on MNIST") as demo:
        gr.Markdown(
            "# Denoising autoencoder on MNIST\n"
            "Draw a digit (or pick a real MNIST test digit), corrupt it, and see what a 572k-parameter "
            "convolutional autoencoder makes of it. Each digit is first reduced to MNIST's 28 × 28 format."
        )
        clean_state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3, min_width=340):
                with gr.Tabs():
                    with gr.Tab("Draw"):
                        sketch = gr.Sketchpad(
                            canvas_size=(320, 320), image_mode="RGBA", type="numpy", layers=False, transforms=(),
                            brush=gr.Brush(default_size=24, colors=["#2563eb"], color_mode="fixed"),
                            label="Draw a digit", elem_id="sketch",
                        )
                    with gr.Tab("MNIST samples"):
                        gallery = gr.Gallery(
                            [(upscale(img, 2), f"{label}") for img, label in zip(samples, labels)], columns=10, height=420,
                            allow_preview=False, format="png", label="Test-set digits (click one)", elem_id="samples",
                            elem_classes="pixelated", show_label=True,
                        )
                        random_button = gr.Button("Random digit", elem_id="random")
                    with gr.Tab("Upload"):
                        upload = gr.File(file_types=["image"], type="filepath", label="An image of a digit (any size or format)", elem_id="upload")
            with gr.Column(scale=2, min_width=280):
                kind = gr.Radio([(k.label, k.name) for k in kinds], value=first.name, label="Noise", elem_id="kind")
                strength = gr.Slider(0, first.max_strength, value=first.default_strength, step=0.01,
                                     label=f"Strength: {first.strength_name}", elem_id="strength")
                with gr.Row():
                    seed = gr.Number(0, precision=0, minimum=0, label="Noise seed", elem_id="seed")
                    new_noise = gr.Button("New noise", elem_id="new-noise")
                gr.Markdown(
                    "The model was trained *blind*: every training image got a random noise kind at a random "
                    "strength over these sliders' full range, so one checkpoint serves every setting."
                )
        with gr.Row(equal_height=True):
            image = functools.partial(gr.Image, format="png", height=224, width=224, interactive=False, elem_classes="pixelated", buttons=["download"])
            clean_image = image(label="Clean input (28 × 28)", elem_id="clean")
            noisy_image = image(label="Noisy input", elem_id="noisy")
            recon_image = image(label="Reconstruction", elem_id="recon")
            error_map = image(label="Error |reconstruction − clean|", elem_id="error")
        gr.HTML(colorbar_html())
        metrics_table = gr.Markdown(BLANK_HINT, elem_id="metrics")  # the metrics, or a hint while there is no digit

        # Input events: a new digit. Control events: the same digit, new noise. Latest value wins.
        shown = [clean_state, clean_image, noisy_image, recon_image, error_map, metrics_table]
        controls = [kind, strength, seed]
        quiet = dict(show_progress="hidden", trigger_mode="always_last", api_visibility="private")
        sketch.change(on_sketch, [sketch, *controls], shown, **quiet)
        sketch.clear(None, js=SELECT_BRUSH_JS)
        gallery.select(on_sample, controls, shown, **quiet)
        random_button.click(on_random, controls, shown, **quiet)
        upload.upload(on_upload, [upload, *controls], shown, **quiet)
        outputs = [noisy_image, recon_image, error_map, metrics_table]
        kind.change(on_kind, [kind, strength], strength, **quiet).then(on_controls, [clean_state, *controls], outputs, **quiet)
        strength.input(on_controls, [clean_state, *controls], outputs, **quiet)
        seed.submit(on_controls, [clean_state, *controls], outputs, **quiet)
        new_noise.click(lambda s: int(s or 0) + 1, seed, seed, **quiet).then(on_controls, [clean_state, *controls], outputs, **quiet)

        # The API: one named endpoint taking an image file. Hidden components carry its types;
        # they accept anything, so that every value is checked (and explained) by dae.demo.
        with gr.Group(visible=False):
            api_inputs = [gr.File(label="image"), gr.Textbox(label="noise"), gr.Number(label="strength"), gr.Number(label="seed")]
            api_metrics = gr.JSON()
            api_button = gr.Button()
        api_button.click(denoise_api, api_inputs, [noisy_image, recon_image, error_map, api_metrics], api_name="denoise")

        demo.load(None, js=SELECT_BRUSH_JS)
    return demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint folder (or Hub repo id) of the model to serve")
    p.add_argument("--share", action="store_true", help="also create a public share link through Gradio")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # a 1.8 MFLOP model: threads cost more than they save, and requests run side by side
    try:
        denoiser = Denoiser.from_checkpoints({"dae": args.checkpoint})
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    demo = build_demo(denoiser)
    demo.queue(default_concurrency_limit=4)
    demo.launch(share=args.share, max_file_size="10mb", css=CSS, ssr_mode=False, prevent_thread_lock=True)
    if args.share and not demo.share_url:
        print("No public share link could be created (is this machine offline?); the app is still served locally at "
              f"{demo.local_url}", file=sys.stderr)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
