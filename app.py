"""The interactive denoising-autoencoder demo.

    python app.py                      # http://127.0.0.1:7860
    python app.py --share              # also ask Gradio for a public link
    python app.py --checkpoint DIR     # serve another checkpoint folder (one the Train tab made, say)
    python app.py --data-dir DIR       # where the Train tab finds MNIST (DIR/MNIST/raw), or downloads it

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
from pathlib import Path  # noqa: E402

import spaces  # noqa: E402, F401  (on a ZeroGPU Space it must come before torch touches CUDA)
import torch  # noqa: E402

from dae.checkpoint import CheckpointError  # noqa: E402
from webapp.page import build_demo  # noqa: E402
from webapp.served import CHECKPOINTS, load_served  # noqa: E402
from webapp.serving import launch  # noqa: E402
from webapp.train_tab import SessionModels, Trainer  # noqa: E402

MNIST_CACHE = (
    Path.home() / ".cache" / "dae-mnist"
)  # where the Train tab downloads MNIST when nothing else has it


def data_folder(given: str | None) -> Path:
    """Where the Train tab reads MNIST: --data-dir, $DAE_MNIST_ROOT, this checkout's data/ (train.py's), the
    cache."""
    for candidate in (given, os.environ.get("DAE_MNIST_ROOT"), Path(__file__).parent / "data"):
        if candidate and (Path(candidate) / "MNIST" / "raw").is_dir():
            return Path(candidate)
    return Path(given) if given else MNIST_CACHE


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        default=str(CHECKPOINTS / "dae"),
        help="checkpoint folder (or Hub repo id) of the DAE to serve (default: checkpoints/dae)",
    )
    p.add_argument(
        "--lessons",
        default=str(CHECKPOINTS),
        help="folder holding the models offered beside the DAE (unet, plain-ae, dae-sigma05, dae-code2, "
        "dae-code16; each skipped when missing; default: checkpoints/)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder holding MNIST/raw for the Train tab (default: $DAE_MNIST_ROOT, data/, else "
        "downloaded once into ~/.cache/dae-mnist)",
    )
    p.add_argument("--no-training", action="store_true", help="turn the Train tab off")
    p.add_argument("--share", action="store_true", help="also create a public share link through Gradio")
    args = p.parse_args(argv)
    # About 1.8 M multiply-adds per digit: threads cost more than they save, and requests run side by side.
    torch.set_num_threads(1)
    try:
        served = load_served(args.checkpoint, args.lessons)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    trainer = None
    if not args.no_training:
        trainer = Trainer(data_folder(args.data_dir), SessionModels(), judge=served.denoiser.probabilities)
    served.yours = trainer.models if trainer is not None else None
    demo = build_demo(served, trainer)
    # quiet: Gradio's own start-up lines would tell people to "set share=True in launch()"; ours name --share.
    launch(demo, share=args.share, quiet=True, prevent_thread_lock=True)
    print(f"Serving the demo at {demo.local_url}", flush=True)
    if args.share and not demo.share_url:
        print(
            "No public share link could be created (is this machine offline?); "
            "the app is still served locally.",
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
