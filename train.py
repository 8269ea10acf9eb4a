"""Train a denoising autoencoder (or the digit classifier that judges them) on MNIST.

    python train.py                                           # the default checkpoint, checkpoints/dae
    python train.py --arch classifier                         # the judge: checkpoints/classifier
    python train.py --noise gaussian --sigma 0.5 --out runs/g05
    python train.py --limit 2000 --epochs 1 --out runs/quick  # a quick look
    python train.py --out runs/g05 --resume                   # continue a stopped run with its own settings
    python train.py --out runs/g05 --resume --epochs 20       # ... and train it for more epochs
"""

from __future__ import annotations

import argparse
import shlex
import sys
import types
import typing
from dataclasses import MISSING, fields

from dae.checkpoint import CheckpointError
from dae.config import CLASSIFIER, RUN_SETTINGS, TrainConfig, TrainingError, check_config, default_config, option, resumed_config
from dae.data import DataError
from dae.trainer import train


def _base_type(hint):
    """int | None -> int; other hints as they are."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def build_parser() -> argparse.ArgumentParser:
    """One option per TrainConfig field that has help text; an option left out is absent from the result."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter, argument_default=argparse.SUPPRESS)
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        meta = f.metadata
        if "help" not in meta:
            continue
        kind = _base_type(hints[f.name])
        default = meta.get("default_text", f.default if f.default is not MISSING else None)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = meta["help"] + ("" if shown is None or isinstance(shown, bool) else f" (default: {shown})")
        if kind is bool:  # a switch that turns the default around
            flag = option(f.name) if not f.default else "--no-" + f.name.replace("_", "-")
            p.add_argument(flag, *meta.get("flags", ()), dest=f.name, action="store_const", const=not f.default, help=meta["help"])
        elif typing.get_origin(kind) is tuple:
            args = typing.get_args(kind)
            p.add_argument(option(f.name), *meta.get("flags", ()), dest=f.name, type=args[0], nargs=len(args),
                           metavar=meta.get("metavar"), help=help_text)
        else:
            p.add_argument(option(f.name), *meta.get("flags", ()), dest=f.name, type=kind, choices=meta.get("choices"),
                           metavar=meta.get("metavar"), help=help_text)
    return p


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The run the command line asks for; with --resume, the saved run with the given settings on top.

    Exits with status 2 and one line for settings that cannot work or would change a resumed run.
    """
    p = build_parser()
    given = vars(p.parse_args(argv))
    resume = given.pop("resume", False)
    out = given.pop("out", None) or f"checkpoints/{given.get('arch', TrainConfig.arch)}"
    try:
        config = resumed_config(out, given) if resume else default_config(**given, out=out)
        check_config(config)
    except ValueError as e:
        p.error(str(e))  # usage, then one line; exit status 2
    except (CheckpointError, TrainingError) as e:
        p.exit(2, f"error: {e}\n")
    return config


def resume_command(config: TrainConfig) -> str:
    """The command line that continues this run: the saved run in --out knows its own settings."""
    return f"python train.py --out {shlex.quote(config.out)} --epochs {config.epochs} --resume"


def interrupted_message(config: TrainConfig) -> str:
    try:  # is there a saved epoch of this very run to continue?
        resumed_config(config.out, {"epochs": config.epochs, **{name: getattr(config, name) for name in RUN_SETTINGS}})
    except (CheckpointError, TrainingError):
        return f"interrupted before the first epoch was saved: nothing to resume in {config.out}; run the same command again."
    return f"interrupted. Every completed epoch is saved in {config.out}; continue with:\n  {resume_command(config)}"


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        metrics = train(config)
    except (DataError, CheckpointError, TrainingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{interrupted_message(config)}", file=sys.stderr)
        return 130
    if config.arch == CLASSIFIER:
        print(f"done in {metrics['train_seconds']:.1f} s of training ({metrics['images_per_second']:,} img/s); test accuracy "
              f"{100 * metrics['test_accuracy']:.2f} % on {metrics['scored_test_images']:,} test digits -> {config.out}")
        return 0
    print(f"done in {metrics['train_seconds']:.1f} s of training ({metrics['images_per_second']:,} img/s); "
          f"PSNR on the first {metrics['scored_test_images']:,} test digits at gaussian σ=0.5: "
          f"{metrics['psnr']['gaussian 0.5'][config.arch]:.2f} dB, "
          f"mask p=0.5: {metrics['psnr']['mask 0.5'][config.arch]:.2f} dB -> {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
