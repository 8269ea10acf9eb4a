"""Train a denoising autoencoder (or the digit classifier that judges them) on MNIST.

    python train.py                                          # the specified DAE, into runs/dae-<date>-<time>
    python train.py --noise none --out runs/plain            # a plain autoencoder: never sees noise
    python train.py --noise gaussian --sigma 0.5 --out runs/g05
    python train.py --code-size 2 --out runs/code2           # a 2-number code
    python train.py --limit 2000 --epochs 1 --out runs/quick # a quick look
    python train.py --out runs/g05 --resume                  # continue a stopped run with its own settings
    python train.py --out runs/g05 --resume --epochs 20      # ... and train it for more epochs
    python app.py --checkpoint runs/g05                      # serve what you trained

A folder the app serves (checkpoints/...) is never written into unless --replace-served says so.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path

from dae.checkpoint import CheckpointError
from dae.classifier import CLASSIFIER
from dae.data import DataError
from dae.training import train
from dae.training.config import RUN_SETTINGS, TrainConfig, TrainingError, check_config, default_config, option
from dae.training.resume import resumed_config


def _base_type(hint):
    """int | None -> int; other hints as they are."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def build_parser() -> argparse.ArgumentParser:
    """One option per TrainConfig field that has help text; an option left out is absent from the result."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        meta = f.metadata
        if "help" not in meta:
            continue
        kind = _base_type(hints[f.name])
        default = meta.get("default_text", f.default if f.default is not MISSING else None)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = meta["help"] + (
            "" if shown is None or isinstance(shown, bool) else f" (default: {shown})"
        )
        if kind is bool:  # a switch that turns the default around
            flag = option(f.name) if not f.default else "--no-" + f.name.replace("_", "-")
            p.add_argument(
                flag,
                *meta.get("flags", ()),
                dest=f.name,
                action="store_const",
                const=not f.default,
                help=meta["help"],
            )
        elif typing.get_origin(kind) is tuple:
            args = typing.get_args(kind)
            p.add_argument(
                option(f.name),
                *meta.get("flags", ()),
                dest=f.name,
                type=args[0],
                nargs=len(args),
                metavar=meta.get("metavar"),
                help=help_text,
            )
        else:
            p.add_argument(
                option(f.name),
                *meta.get("flags", ()),
                dest=f.name,
                type=kind,
                choices=meta.get("choices"),
                metavar=meta.get("metavar"),
                help=help_text,
            )
    p.add_argument(
        "--replace-served",
        dest="replace_served",
        action="store_true",
        help="allow --out to be a checkpoint the app serves (checkpoints/...), overwriting it",
    )
    return p


SERVED = Path(__file__).resolve().parent / "checkpoints"  # the folders under it are what app.py serves


def served(out: str | Path) -> bool:
    """Whether `out` is a checkpoint folder the app serves (one under checkpoints/ that holds a model)."""
    folder = Path(out).resolve()
    return SERVED in folder.parents and (folder / "config.json").exists()


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The run the command line asks for; with --resume, the saved run with the given settings on top.

    Exits with status 2 and one line for settings that cannot work or would change a resumed run.
    """
    p = build_parser()
    given = vars(p.parse_args(argv))
    resume = given.pop("resume", False)
    replace_served = given.pop("replace_served", False)
    out = given.pop("out", None)
    if out is None and resume:
        p.error("--resume continues the run in --out: name the folder")
    out = out or f"runs/{given.get('arch', TrainConfig.arch)}-{time.strftime('%Y%m%d-%H%M%S')}"
    if served(out) and not replace_served:
        p.error(
            f"--out {out} is a checkpoint the app serves; train into another folder "
            "(or pass --replace-served to overwrite it)"
        )
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
        resumed_config(
            config.out, {"epochs": config.epochs, **{name: getattr(config, name) for name in RUN_SETTINGS}}
        )
    except (CheckpointError, TrainingError):
        return (
            f"interrupted before the first epoch was saved: nothing to resume in {config.out}; "
            "run the same command again."
        )
    return (
        f"interrupted. Every completed epoch is saved in {config.out}; "
        f"continue with:\n  {resume_command(config)}"
    )


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
        print(
            f"done in {metrics['train_seconds']:.1f} s of training ({metrics['images_per_second']:,} img/s); "
            f"test accuracy {100 * metrics['test_accuracy']:.2f} % "
            f"on {metrics['scored_test_images']:,} test digits -> {config.out}"
        )
        return 0
    print(
        f"done in {metrics['train_seconds']:.1f} s of training ({metrics['images_per_second']:,} img/s); "
        f"PSNR on the first {metrics['scored_test_images']:,} test digits at gaussian σ=0.5: "
        f"{metrics['psnr']['gaussian 0.5'][config.arch]:.2f} dB, "
        f"mask p=0.5: {metrics['psnr']['mask 0.5'][config.arch]:.2f} dB -> {config.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
