"""The interactive denoising-autoencoder demo.

    python app.py                      # http://127.0.0.1:7860
    python app.py --share              # also ask Gradio for a public link
    python app.py --checkpoint DIR     # serve another checkpoint folder

Draw a digit or pick an MNIST test digit, choose a noise and its strength, and watch the
autoencoder reconstruct it. The app itself is the `webapp` package; this file reads the command
line, loads the models, builds the page and serves it.
"""

from __future__ import annotations

import os

# No network at start-up: analytics and telemetry stay off unless a user turns them on.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

from dae.checkpoint import CheckpointError  # noqa: E402
from webapp.page import build_demo  # noqa: E402
from webapp.served import CHECKPOINTS, load_served  # noqa: E402
from webapp.serving import launch  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        default=str(CHECKPOINTS["dae"]),
        help="checkpoint folder (or Hub repo id) of the model to serve",
    )
    p.add_argument(
        "--compare-checkpoint",
        default=str(CHECKPOINTS["unet"]),
        help="checkpoint of the stronger model offered for comparison (skipped when the folder is missing)",
    )
    p.add_argument("--share", action="store_true", help="also create a public share link through Gradio")
    args = p.parse_args(argv)
    torch.set_num_threads(
        1
    )  # about 1.8 M multiply-adds per digit: threads cost more than they save, and requests run side by side
    try:
        served = load_served(args.checkpoint, args.compare_checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    demo = build_demo(served)
    # quiet: Gradio's own start-up lines would tell people to "set share=True in launch()"; ours name --share.
    launch(demo, share=args.share, quiet=True, prevent_thread_lock=True)
    print(f"Serving the demo at {demo.local_url}", flush=True)
    if args.share and not demo.share_url:
        print(
            "No public share link could be created (is this machine offline?); the app is still served locally.",
            file=sys.stderr,
        )
    elif not args.share:
        print("For a public link as well, run: python app.py --share", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
