"""The Train tab's run, as the app runs it: how soon the page sees progress, how long an epoch takes, how
quickly Stop answers, and how good one epoch's model is.

    python -m benchmarks.live_training [--data-dir data] [--digits 60000]

Uses webapp.train_tab.Trainer exactly as the app does (a worker process started ahead, one thread at low
priority on a CPU), polling its status as the page does (every 0.25 s here). Printed:
- start -> first progress report, and start -> done, for one run of `--digits` digits;
- PSNR on the first 1,000 MNIST test digits at Gaussian σ 0.5 (noise seed 0), the run's model against
  the committed DAE (10 epochs);
- a second run stopped after its first report: Stop -> the run has ended.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from dae import metrics
from dae.checkpoint import load_model
from dae.data import load_mnist, to_float
from dae.noise import add_noise
from webapp.train_tab import SessionModels, Trainer, parse_settings

SESSION = "benchmark-session"


def wait_for(trainer: Trainer, done, limit: float) -> tuple[dict, float]:
    """Poll the run's status until `done(status)`; the status and the seconds it took."""
    t0 = time.monotonic()
    while True:
        status = trainer.status(SESSION)
        if done(status):
            return status, time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            raise SystemExit(f"no change after {limit:.0f} s: {status.get('state')} {status.get('message')}")
        time.sleep(0.25)


@torch.inference_mode()
def psnr_at_sigma05(model: torch.nn.Module, images: torch.Tensor) -> float:
    noisy = add_noise(images, "gaussian", 0.5, 0)
    return metrics.psnr(model(noisy), images).mean().item()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("DAE_MNIST_ROOT", "data"))
    p.add_argument(
        "--digits", type=int, default=60_000, help="digits the run sees (one the Train tab offers)"
    )
    args = p.parse_args(argv)

    trainer = Trainer(args.data_dir, SessionModels(), zero_gpu=False)
    trainer.warm_up()  # as the page does when the Train tab is opened
    time.sleep(5)  # the page's student reads the settings meanwhile; the worker gets ready
    choice = {"noise": "blind", "code_size": 256, "digits": args.digits, "seed": 0}
    settings = parse_settings(choice, args.data_dir)
    t0 = time.monotonic()
    trainer.start(SESSION, settings)
    _, first = wait_for(trainer, lambda s: s.get("report") is not None, 120)
    status, _ = wait_for(trainer, lambda s: s["state"] in ("done", "stopped", "failed"), 3600)
    total = time.monotonic() - t0
    if status["state"] != "done":
        raise SystemExit(f"the run ended {status['state']}: {status['message']}")
    print(f"start -> first report: {first:.1f} s; start -> done ({args.digits:,} digits): {total:.1f} s")

    images = to_float(load_mnist(args.data_dir, train=False, download=False)[0][:1000])
    yours = trainer.models.get(SESSION).model
    served, _ = load_model("checkpoints/dae")
    print(
        f"PSNR at σ 0.5, first 1,000 test digits: this run {psnr_at_sigma05(yours, images):.2f} dB, "
        f"the committed DAE {psnr_at_sigma05(served, images):.2f} dB"
    )

    trainer.start(SESSION, settings)
    wait_for(trainer, lambda s: s["state"] == "running" and s.get("report") is not None, 120)
    trainer.stop(SESSION)
    status, stopped = wait_for(trainer, lambda s: s["state"] != "running", 60)
    print(f"Stop -> run ended ({status['state']}): {stopped:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
