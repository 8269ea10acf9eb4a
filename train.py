"""Train a denoising autoencoder on MNIST.

    python train.py --data-dir ../shared/data                 # the default checkpoint
    python train.py --noise gaussian --sigma 0.5 --out runs/g05
    python train.py --limit 2000 --epochs 1 --out runs/quick  # a quick look
    python train.py --out runs/g05 --resume                   # continue a stopped run
"""

from __future__ import annotations

import argparse
import sys

from dae.checkpoint import CheckpointError
from dae.data import DataError
from dae.model import ARCHITECTURES
from dae.noise import NOISE_KINDS
from dae.trainer import TrainConfig, TrainingError, check_config, train


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=d.data_dir, help="folder holding MNIST/raw; downloaded there when missing (default: data/)")
    p.add_argument("--out", default=None, help="checkpoint folder (default: checkpoints/<arch>, the folder the app serves)")
    p.add_argument("--arch", default=d.arch, choices=list(ARCHITECTURES), help="model architecture (default: dae, the specified one)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"], help="auto takes CUDA when present")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="train on the first N images only")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last completed epoch")
    p.add_argument("--noise", default=d.noise, choices=["blind", *NOISE_KINDS],
                   help="blind (default): a random kind and strength per image; or one fixed kind")
    p.add_argument("--strength", "--sigma", "--p", "--amount", dest="strength", type=float, default=None,
                   help="the fixed strength with --noise gaussian/mask/salt_pepper (σ, p or amount)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    a = p.parse_args(argv)
    config = TrainConfig(
        data_dir=a.data_dir, out=a.out or f"checkpoints/{a.arch}", arch=a.arch, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
        device=a.device, limit=a.limit, resume=a.resume, noise=a.noise, strength=a.strength, threads=a.threads,
    )
    try:
        check_config(config)
    except ValueError as e:
        p.error(str(e))  # one line, exit status 2
    return config


RESUME_SETTINGS = ("data_dir", "out", "arch", "epochs", "batch_size", "lr", "seed", "noise", "strength", "limit")


def resume_command(config: TrainConfig) -> str:
    """The command line that continues this run: --resume, --out and every other setting that differs from the defaults."""
    d = TrainConfig()
    args = [f"--{name.replace('_', '-')} {getattr(config, name)}" for name in RESUME_SETTINGS
            if name == "out" or getattr(config, name) != getattr(d, name)]
    return f"python train.py {' '.join(args)} --resume"


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        metrics = train(config)
    except (DataError, CheckpointError, TrainingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted. Every completed epoch is saved in {config.out}; continue with:\n  {resume_command(config)}", file=sys.stderr)
        return 130
    print(f"done in {metrics['train_seconds']:.1f} s of training ({metrics['images_per_second']:,} img/s); "
          f"PSNR at gaussian σ=0.5: {metrics['psnr']['gaussian 0.5'][config.arch]:.2f} dB, "
          f"mask p=0.5: {metrics['psnr']['mask 0.5'][config.arch]:.2f} dB -> {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
