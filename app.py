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

from dae.checkpoint import CheckpointError, load_model  # noqa: E402
from dae.demo import Denoiser, Result, colorbar_html, metrics_markdown, output_images, result_json, strip, upscale  # noqa: E402
from dae.noise import NOISE_KINDS  # noqa: E402
from dae.preprocess import InputError, digit_from_file, mnist_style, sketch_ink  # noqa: E402
from dae.samples import load_samples  # noqa: E402

ROOT = Path(__file__).parent
CHECKPOINTS = {"dae": ROOT / "checkpoints" / "dae", "unet": ROOT / "checkpoints" / "unet"}
DEFAULT_CHECKPOINT = CHECKPOINTS["dae"]
MODEL_TITLES = {"dae": "DAE (specified model)", "unet": "U-Net (stronger, for comparison)"}
BLANK_HINT = "✏️ Draw a digit on the canvas, pick an MNIST sample, or upload an image."
LATENT_STEPS = 11
# The canvas ignores the mouse until its Brush tool is selected (and "Clear" deselects it): click
# the Brush button until the editor has taken it, checking every 200 ms for up to 15 s.
SELECT_BRUSH_JS = """() => {
  const start = Date.now();
  const tick = () => {
    const root = document.querySelector('#sketch');
    const brush = root && root.querySelector('button[aria-label="Brush"]');
    const waiting = !root || root.innerText.includes('select the draw tool');
    if (brush && waiting) brush.click();
    if ((waiting || !brush) && Date.now() - start < 15000) setTimeout(tick, 200);
  };
  setTimeout(tick, 200);
}"""
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


def build_demo(denoiser: Denoiser) -> gr.Blocks:
    samples, labels = load_samples()
    kinds = list(NOISE_KINDS.values())
    first = kinds[0]
    has_unet = "unet" in denoiser.models
    sample_choices = [(f"{labels[i]} (sample {i % 10 + 1})", i) for i in range(len(samples))]

    def render(clean: np.ndarray | None, kind: str, strength: float, seed: float, compare: bool = False) -> tuple:
        """Noisy input, reconstruction and error map (DAE, then U-Net) and the metrics table."""
        if clean is None:
            return None, None, None, None, None, BLANK_HINT
        names = ("dae", "unet") if compare and has_unet else ("dae",)
        r: Result = denoiser(clean, kind, strength, seed, names)
        images = [image for name in ("dae", "unet") for image in (output_images(r, name) if name in r.outputs else (None, None))]
        return (upscale(r.noisy), *images, metrics_markdown(r, MODEL_TITLES))

    def show(clean: np.ndarray | None, kind, strength, seed, compare) -> tuple:
        return (clean, None if clean is None else upscale(clean), *render(clean, kind, strength, seed, compare))

    @user_errors
    def on_sketch(value, kind, strength, seed, compare):
        ink = sketch_ink(value)
        return show(mnist_style(ink) if ink is not None else None, kind, strength, seed, compare)

    @user_errors
    def on_sample(kind, strength, seed, compare, evt: gr.SelectData):
        return show(samples[evt.index], kind, strength, seed, compare)

    @user_errors
    def on_random(kind, strength, seed, compare):
        return show(samples[np.random.randint(len(samples))], kind, strength, seed, compare)

    @user_errors
    def on_upload(path, kind, strength, seed, compare):
        return show(None if path is None else digit_from_file(path), kind, strength, seed, compare)

    on_controls = user_errors(render)

    def on_kind(kind, strength):
        k = NOISE_KINDS.get(kind, first)
        return gr.Slider(maximum=k.max_strength, value=min(strength, k.max_strength), label=f"Strength: {k.strength_name}")

    @user_errors
    def denoise_api(path, kind, strength, seed, model="dae"):
        """Denoise an image file: returns the noisy image, the reconstruction, the error map and metrics."""
        if path is None:
            raise InputError("Send an image file.")
        if model not in denoiser.models:
            raise InputError(f"Unknown model {model!r}: choose one of {', '.join(denoiser.models)}.")
        r = denoiser(digit_from_file(path), kind, strength, seed, (model,))
        return (upscale(r.noisy), *output_images(r, model), result_json(r))

    def ends(a: np.ndarray | None, b: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        return (samples[0] if a is None else a), (samples[-1] if b is None else b)

    def latent_point(a: np.ndarray | None, b: np.ndarray | None, t: float) -> np.ndarray:
        """The decoded point at t on the line between the two codes."""
        return upscale(denoiser.interpolate(*ends(a, b), [float(np.clip(t, 0, 1))])[0])

    def latent_path(a: np.ndarray | None, b: np.ndarray | None, t: float) -> tuple:
        """Both digits, the decoded point at t, and the whole path as a strip of LATENT_STEPS digits."""
        a, b = ends(a, b)
        return upscale(a), upscale(b), latent_point(a, b, t), strip(denoiser.interpolate(a, b, np.linspace(0, 1, LATENT_STEPS)))

    with gr.Blocks(title="Denoising autoencoder on MNIST") as demo:
        gr.Markdown(
            "# Denoising autoencoder on MNIST\n"
            "Draw a digit (or pick a real MNIST test digit), corrupt it, and see what a 572k-parameter "
            "convolutional autoencoder makes of it. Each digit is first reduced to MNIST's 28 × 28 format."
        )
        with gr.Tab("Denoise"):
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
                                [(upscale(img, 2), str(label)) for img, label in zip(samples, labels)], columns=5, height=420, object_fit="contain",
                                allow_preview=False, format="png", label="Test-set digits (click one)", elem_id="samples",
                                elem_classes="pixelated",
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
                    compare = gr.Checkbox(False, label="Compare with a stronger model (U-Net)", visible=has_unet, elem_id="compare")
                    gr.Markdown(
                        "The models were trained *blind*: every training image got a random noise kind at a random "
                        "strength over these sliders' full range, so one checkpoint serves every setting."
                    )
            image = functools.partial(gr.Image, format="png", height=224, width=224, interactive=False, elem_classes="pixelated", buttons=["download"])
            with gr.Row(equal_height=True):
                clean_image = image(label="Clean input (28 × 28)", elem_id="clean")
                noisy_image = image(label="Noisy input", elem_id="noisy")
                recon_image = image(label="Reconstruction (DAE)", elem_id="recon")
                error_map = image(label="Error |reconstruction − clean|", elem_id="error")
            with gr.Row(equal_height=True, visible=False) as unet_row:
                gr.Markdown("**U-Net**, same noisy input: skip connections and a residual output instead of a 256-d bottleneck.")
                unet_image = image(label="Reconstruction (U-Net)", elem_id="unet-recon")
                unet_error = image(label="Error (U-Net)", elem_id="unet-error")
            gr.HTML(colorbar_html())
            metrics_table = gr.Markdown(BLANK_HINT, elem_id="metrics")  # the metrics, or a hint while there is no digit

            # Input events: a new digit. Control events: the same digit, new noise. Latest value wins.
            outputs = [noisy_image, recon_image, error_map, unet_image, unet_error, metrics_table]
            shown = [clean_state, clean_image, *outputs]
            controls = [kind, strength, seed, compare]
            quiet = dict(show_progress="hidden", trigger_mode="always_last", api_visibility="private")

            def redraw(event):
                """After `event`, re-noise and re-run the models on the current digit."""
                return event.then(on_controls, [clean_state, *controls], outputs, **quiet)

            sketch.change(on_sketch, [sketch, *controls], shown, **quiet)
            sketch.clear(None, js=SELECT_BRUSH_JS)
            gallery.select(on_sample, controls, shown, **quiet)
            random_button.click(on_random, controls, shown, **quiet)
            upload.upload(on_upload, [upload, *controls], shown, **quiet)
            strength.input(on_controls, [clean_state, *controls], outputs, **quiet)
            seed.submit(on_controls, [clean_state, *controls], outputs, **quiet)
            redraw(kind.change(on_kind, [kind, strength], strength, **quiet))
            redraw(new_noise.click(lambda s: int(s or 0) + 1, seed, seed, **quiet))
            redraw(compare.change(lambda c: gr.Row(visible=c), compare, unet_row, **quiet))

        with gr.Tab("Latent space"):
            gr.Markdown(
                "The encoder squeezes each digit into **256 numbers**; the decoder paints a digit from any such code. "
                "Pick two digits and walk the straight line between their codes: every point on it is decoded. "
                "A smooth, digit-like path means the autoencoder has learned a meaningful space, not a lookup table."
            )
            latent_a, latent_b = gr.State(None), gr.State(None)
            with gr.Row():
                pick_a = gr.Dropdown(sample_choices, value=0, label="Start digit", elem_id="latent-a")
                pick_b = gr.Dropdown(sample_choices, value=len(samples) - 1, label="End digit", elem_id="latent-b")
            with gr.Row():
                use_a = gr.Button("Start from the digit in the Denoise tab", elem_id="use-a")
                use_b = gr.Button("End at the digit in the Denoise tab", elem_id="use-b")
            t = gr.Slider(0, 1, value=0.5, step=0.01, label="Position on the path (0 = start, 1 = end)", elem_id="latent-t")
            with gr.Row(equal_height=True):
                a_image = image(label="Start", elem_id="latent-start")
                point_image = image(label="Decoded point", elem_id="latent-point")
                b_image = image(label="End", elem_id="latent-end")
            strip_image = gr.Image(format="png", interactive=False, label=f"The path in {LATENT_STEPS} steps (decoded)", elem_id="latent-strip", elem_classes="pixelated")

            latent_in, latent_out = [latent_a, latent_b, t], [a_image, b_image, point_image, strip_image]

            def redraw_path(event):
                return event.then(latent_path, latent_in, latent_out, **quiet)

            redraw_path(pick_a.change(lambda i: samples[int(i)], pick_a, latent_a, **quiet))
            redraw_path(pick_b.change(lambda i: samples[int(i)], pick_b, latent_b, **quiet))
            redraw_path(use_a.click(lambda c, a: a if c is None else c, [clean_state, latent_a], latent_a, **quiet))
            redraw_path(use_b.click(lambda c, b: b if c is None else c, [clean_state, latent_b], latent_b, **quiet))
            t.input(latent_point, latent_in, point_image, **quiet)

        # The API: one named endpoint taking an image file. Hidden components carry its types;
        # they accept anything, so that every value is checked (and explained) by dae.demo.
        with gr.Group(visible=False):
            api_inputs = [gr.File(label="image"), gr.Textbox(label="noise"), gr.Number(label="strength"), gr.Number(label="seed"),
                          gr.Textbox("dae", label="model")]
            api_metrics = gr.JSON()
            api_button = gr.Button()
        api_button.click(denoise_api, api_inputs, [noisy_image, recon_image, error_map, api_metrics], api_name="denoise")

        redraw_path(demo.load(None, js=SELECT_BRUSH_JS))
    return demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint folder (or Hub repo id) of the model to serve")
    p.add_argument("--compare-checkpoint", default=str(CHECKPOINTS["unet"]),
                   help="checkpoint of the stronger model offered for comparison (skipped when the folder is missing)")
    p.add_argument("--share", action="store_true", help="also create a public share link through Gradio")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # a 1.8 MFLOP model: threads cost more than they save, and requests run side by side
    try:
        denoiser = load_denoiser(args.checkpoint, args.compare_checkpoint)
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
