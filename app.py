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
import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from dae import code_map, ui  # noqa: E402
from dae.checkpoint import CheckpointError, load_model, load_snapshots  # noqa: E402
from dae.inference import Denoiser, colorbar_html, png_data_uri, upscale  # noqa: E402
from dae.noise import NOISE_KINDS  # noqa: E402
from dae.page import CANVAS_HTML, CONTROLLER_JS, CSS, KEYBOARD_JS, picker_html, results_html, views_html  # noqa: E402
from dae.preprocess import InputError, limit_decoding  # noqa: E402
from dae.samples import load_samples, load_test_indices  # noqa: E402

ROOT = Path(__file__).parent
CHECKPOINTS = {name: ROOT / "checkpoints" / name for name in ("dae", "unet", "classifier")}
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
RENDER_SLOTS = {"drawing": 2, "digit": 2}  # server-function renders computed at once, by source; more are answered "busy"
MAX_BODY = 1_000_000  # bytes of one server-function call: a canvas PNG is far smaller
LAUNCH = dict(css=CSS, head=CONTROLLER_JS, max_file_size=MAX_UPLOAD, ssr_mode=False)  # what every launch (app, tests, benchmarks) passes
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


KIND_JS = "(k, s) => { DAE.set({noise: k, strength: Math.min(s, " + json.dumps({k.name: k.max_strength for k in NOISE_KINDS.values()}) + "[k])}); return [k, s]; }"


class Busy:
    """At most a fixed number of render calls at once; the others are answered "busy" at once (the page retries).

    Gradio's server functions skip its queue and concurrency limits: this is their bound. Drawings
    (a PNG to decode and re-stroke) have slots of their own, so a flood of them never takes the
    slots of a slider moving over a digit already on screen.
    """

    def __init__(self, fn, slots: dict[str, int] = RENDER_SLOTS) -> None:
        self.fn = fn
        self.slots = {kind: threading.BoundedSemaphore(n) for kind, n in slots.items()}
        functools.update_wrapper(self, fn)

    def __call__(self, request):
        source = request.get("source") if isinstance(request, dict) else None
        slots = self.slots["drawing" if isinstance(source, dict) and source.get("kind") == "drawing" else "digit"]
        if not slots.acquire(blocking=False):
            return {"busy": True}
        try:
            return self.fn(request)
        finally:
            slots.release()


bounded = Busy


class BodyLimit:
    """ASGI middleware: a server-function call must say its size (Content-Length, as every browser's fetch
    does) and be at most MAX_BODY bytes; anything else is refused (411, 413) before a byte of it is read."""

    def __init__(self, app, max_body: int = MAX_BODY) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or "/component_server" not in scope.get("path", ""):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is None or not declared.isdigit():
            return await self.refuse(send, 411, "Send the request's Content-Length.")
        if int(declared) > self.max_body:
            return await self.refuse(send, 413, f"Request larger than {self.max_body:,} bytes.")
        return await self.app(scope, receive, send)

    @staticmethod
    async def refuse(send, status: int, message: str):
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps({"error": message}).encode()})


def load_denoiser(checkpoint: str | Path = DEFAULT_CHECKPOINT, compare_checkpoint: str | Path | None = CHECKPOINTS["unet"]) -> Denoiser:
    """The served models, loaded once: the DAE, and the U-Net when its folder exists.

    A broken DAE checkpoint is fatal (CheckpointError); a broken comparison checkpoint only
    costs the comparison, with a warning.
    """
    denoiser = Denoiser.from_checkpoints({"dae": checkpoint})
    if CHECKPOINTS["classifier"].is_dir():
        try:
            denoiser.classifier = load_model(CHECKPOINTS["classifier"])[0]
        except CheckpointError as e:
            print(f"warning: the digit classifier is off: {e}", file=sys.stderr)
    if Path(checkpoint).is_dir():
        load_training_views(denoiser, Path(checkpoint))
    if compare_checkpoint is not None and Path(compare_checkpoint).is_dir():
        try:
            denoiser.models["unet"] = load_model(compare_checkpoint)[0]
        except CheckpointError as e:
            print(f"warning: the comparison model is off: {e}", file=sys.stderr)
    return denoiser


def load_training_views(denoiser: Denoiser, folder: Path) -> None:
    """What the code map and "How it learned" views need, read beside the DAE's checkpoint; each one missing or
    damaged only turns its view off (with a warning when damaged)."""
    try:
        denoiser.code_map = code_map.load(folder)
    except CheckpointError as e:
        print(f"warning: the code map view is off: {e}", file=sys.stderr)
    try:
        denoiser.snapshots = load_snapshots(folder)
        metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else None
        if metrics is not None and "train_loss_curve" in metrics:
            denoiser.training = metrics | {"batch_size": json.loads((folder / "config.json").read_text())["training"]["batch_size"]}
    except (CheckpointError, OSError, ValueError, KeyError, TypeError) as e:
        denoiser.snapshots, denoiser.training = [], None
        print(f"warning: the \"How it learned\" view is off: {e}", file=sys.stderr)


def image(label: str, elem_id: str, **options) -> gr.Image:
    """A 28 x 28 result shown 8x, square pixels, PNG (never lossy WebP)."""
    return gr.Image(label=label, elem_id=elem_id, format="png", interactive=False, elem_classes="pixelated", buttons=["download"], **options)


def sample_gallery(samples, labels, scale: int = 2, **options) -> gr.Gallery:
    """The bundled MNIST test digits as clickable thumbnails (one Tab stop, arrow keys inside: ui_page)."""
    return gr.Gallery([(upscale(img, scale), str(label)) for img, label in zip(samples, labels)], allow_preview=False, format="png",
                      object_fit="contain", buttons=[], elem_classes=["pixelated", "dae-picker"], **options)


def denoise_tab(handlers: ui.DemoUI) -> dict:
    """Inputs on the left with their results right under them (so a phone shows both), controls on the right.

    The canvas, the sample picker and the results are the page's own HTML; the controller in
    dae.page sends every change to `handlers.render` as one server-function call and shows the
    answer. The Gradio controls only tell the controller their new values (JavaScript-only events).
    """
    kinds = list(NOISE_KINDS.values())
    first = kinds[0]
    has_unet = "unet" in handlers.denoiser.models
    with gr.Row():
        with gr.Column(scale=3, min_width=320):
            with gr.Tabs(selected="draw") as input_tabs:
                with gr.Tab("Draw", id="draw") as draw_tab:
                    gr.HTML(CANVAS_HTML.format(side=ui.CANVAS), elem_id="sketch", js_on_load="DAE.attachCanvas(element);")
                with gr.Tab("MNIST samples", id="samples") as samples_tab:
                    thumbnails = [png_data_uri(img) for img in handlers.samples]
                    gr.HTML(picker_html(thumbnails, handlers.labels, handlers.test_indices), elem_id="samples", elem_classes="dae-picker",
                            js_on_load="DAE.attachPicker(element);")
                with gr.Tab("Upload", id="upload") as upload_tab:
                    with gr.Row():
                        upload = gr.File(file_types=["image"], type="filepath", label="An image of a digit (any size or format)", elem_id="upload", min_width=160)
                        preview = gr.Image(label="Your picture", elem_id="preview", format="png", interactive=False, height=200, min_width=160, buttons=[])
            gr.HTML(results_html(colorbar_html(), ui.BLANK_HINT), elem_id="results", server_functions=[bounded(handlers.render)],
                    js_on_load="DAE.attachServer(server, element);")
        with gr.Column(scale=2, min_width=280):
            kind = gr.Radio([(k.label, k.name) for k in kinds], value=first.name, label="Noise", elem_id="kind")
            strength = gr.Slider(0, first.max_strength, value=first.default_strength, step=0.01, label=f"Strength: {first.strength_name}", elem_id="strength")
            with gr.Row():
                seed = gr.Number(0, label="Noise seed (applies on Enter or leaving the box)", elem_id="seed")
                new_noise = gr.Button("New noise", elem_id="new-noise")
            compare = gr.Checkbox(False, label="Compare with a stronger model (U-Net)", visible=has_unet, elem_id="compare")
            gr.Markdown(
                "The models were trained *blind*: every training image got a random noise kind at a random "
                "strength over these sliders' full range, and the model was never told which, so one checkpoint serves every setting."
            )
    gr.HTML(views_html(handlers.map_picture), elem_id="views", js_on_load="DAE.attachViews(element);")
    upload_digit = gr.Textbox(visible=False)
    js_only = dict(queue=False, show_progress="hidden", api_visibility="private")
    for tab, name in ((draw_tab, "draw"), (samples_tab, "samples"), (upload_tab, "upload")):
        tab.select(None, js=f"() => DAE.useTab('{name}')", **js_only)
    kind.change(keyed(handlers.kind_slider, {"strength": strength}), [kind, strength], [strength], js=KIND_JS, **js_only)
    gr.on([strength.input, strength.change], None, [strength], js="(v) => DAE.set({strength: v})", **js_only)
    gr.on([seed.submit, seed.blur], None, [seed], js="(v) => DAE.set({seed: v})", **js_only)
    new_noise.click(None, [seed], [seed], js="(s) => DAE.nextSeed(s)", **js_only)
    compare.change(None, [compare], js="(c) => DAE.set({compare: c})", **js_only)
    upload_event = dict(show_progress="hidden", api_visibility="private", **HEAVY)
    gr.on([upload.upload, upload.clear], keyed(handlers.uploaded, {"preview": preview, "upload_digit": upload_digit}), [upload], [preview, upload_digit],
          **upload_event).then(None, [upload_digit], js="(d) => DAE.setUpload(d)", **js_only)
    return {"kind": kind, "strength": strength, "seed": seed, "compare": compare, "input_tabs": input_tabs}


def latent_tab(handlers: ui.DemoUI) -> None:
    """The decoded path between two digits' codes; results first (left, or on top on a phone), pickers after."""
    gr.Markdown(
        "The encoder squeezes each digit into **256 numbers**; the decoder paints a digit from any such code. "
        "Pick two digits and walk the straight line between their codes: every point on it is decoded. "
        "Under it, a plain pixel cross-fade of the same two digits at the same steps, for comparison."
    )
    first, last = 0, len(handlers.samples) - 1
    initial = handlers.latent(handlers.samples[first], handlers.samples[last], 0.5)
    start, end = gr.State(handlers.samples[first]), gr.State(handlers.samples[last])
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            with gr.Row(elem_classes="dae-results"):
                start_image = image("Start", "latent-start", value=initial["start_image"])
                point_image = image("Decoded at t", "latent-point", value=initial["point"])
                crossfade_image = image("Cross-fade at t", "latent-crossfade", value=initial["crossfade"])
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

    at_t = {"point": point_image, "crossfade": crossfade_image, "path": path, "latent_status": latent_status}
    drawn = {"start_image": start_image, "end_image": end_image} | at_t
    on([start_pick.select], clicked(handlers.pick_start), [end, t], {"start": start} | drawn, **LIGHT)
    on([end_pick.select], clicked(handlers.pick_end), [start, t], {"end": end} | drawn, **LIGHT)
    # The Denoise tab's digit lives in the page's controller: a JavaScript-only step copies it into a hidden box first.
    digit = gr.Textbox(visible=False)
    js_only = dict(queue=False, show_progress="hidden", api_visibility="private")
    use_a.click(None, None, [digit], js="() => DAE.digit()", **js_only).then(
        keyed(handlers.start_from, {"start": start, "start_pick": start_pick} | drawn), [digit, start, end, t],
        [start, start_pick, *drawn.values()], **QUIET, **LIGHT)
    use_b.click(None, None, [digit], js="() => DAE.digit()", **js_only).then(
        keyed(handlers.end_at, {"end": end, "end_pick": end_pick} | drawn), [digit, start, end, t],
        [end, end_pick, *drawn.values()], **QUIET, **LIGHT)
    on([t.input, t.change], handlers.latent_point, [start, end, t], at_t, **LIGHT)


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
    handlers = ui.DemoUI(denoiser, samples, labels, load_test_indices())
    with gr.Blocks(title="Denoising autoencoder on MNIST", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(
            "# Denoising autoencoder on MNIST\n"
            "Draw a digit (or pick a real MNIST test digit), corrupt it, and see what a 572k-parameter "
            "convolutional autoencoder makes of it. Each digit is first reduced to MNIST's 28 × 28 format."
        )
        with gr.Tab("Denoise"):
            controls = denoise_tab(handlers)
        with gr.Tab("Latent space"):
            latent_tab(handlers)
        api(handlers)
        # A link restores the page: the controls take the address's values, then the controller starts with them.
        linked = gr.Textbox(visible=False)
        names = ["kind", "strength", "seed", "compare", "input_tabs"]
        from_link = keyed(handlers.from_link, controls | {"linked": linked})

        def restore(request: gr.Request):  # the annotation is how Gradio knows to pass the request
            return from_link(request)

        demo.load(restore, None, [*(controls[n] for n in names), linked],
                  queue=False, show_progress="hidden", api_visibility="private").then(
            None, [controls["kind"], controls["strength"], controls["seed"], controls["compare"], linked],
            js="(noise, strength, seed, compare, linked) => DAE.start({noise, strength, seed, compare}, linked)",
            queue=False, show_progress="hidden", api_visibility="private")
        demo.load(None, js=KEYBOARD_JS)
    demo.queue(max_size=QUEUE_SIZE)
    # Every launch (app, tests, benchmarks) gets the body limit; a fresh dict each time, as Gradio writes into it.
    demo.launch = functools.partial(demo.launch, app_kwargs={"middleware": [Middleware(BodyLimit)]})
    return demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="checkpoint folder (or Hub repo id) of the model to serve")
    p.add_argument("--compare-checkpoint", default=str(CHECKPOINTS["unet"]),
                   help="checkpoint of the stronger model offered for comparison (skipped when the folder is missing)")
    p.add_argument("--share", action="store_true", help="also create a public share link through Gradio")
    args = p.parse_args(argv)
    limit_decoding()
    torch.set_num_threads(1)  # about 1.8 M multiply-adds per digit: threads cost more than they save, and requests run side by side
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
