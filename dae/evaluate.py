"""Evaluation on the MNIST test set: PSNR, MSE, SSIM and recognition per noise level, against
classical denoisers.

    python -m dae.evaluate --checkpoint checkpoints/dae checkpoints/unet \
        --accuracy-figure checkpoints/dae/accuracy.png

Every level uses its own fixed noise seed, so every model and baseline sees exactly the same
noisy images, and two runs give the same table. The classical columns show what the network
buys: a 3x3 median filter, a Gaussian blur (σ = 1 px) and scikit-image's non-local means with
its filter strength set from the true corruption (h = 0.8·RMS(noisy − clean), an oracle setting
that favours the baseline).

Recognition: the digit classifier (dae.classifier, trained on clean digits only; --classifier,
checkpoints/classifier by default) reads every column's images, and its accuracy against the
true labels says whether each digit is still that digit after the noise and the denoiser.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import metrics
from .baselines import BASELINES
from .classifier import CLASSIFIER
from .noise import NOISE_KINDS, add_noise

NOISE_LEVELS: dict[str, tuple[float, ...]] = {
    "gaussian": (0.1, 0.2, 0.3, 0.5, 0.7, 1.0),
    "mask": (0.1, 0.25, 0.5, 0.7, 0.9),
    "salt_pepper": (0.05, 0.1, 0.2, 0.3, 0.5),
}
# Corruptions no model was trained on (dae.noise.UNSEEN_KINDS): `--unseen` scores these instead.
UNSEEN_LEVELS: dict[str, tuple[float, ...]] = {
    "blur": (1.0, 2.0, 3.0),
    "shift": (2.0, 4.0, 8.0),
    "rotate": (15.0, 30.0, 60.0),
    "block": (0.2, 0.4, 0.6),
}
SAMPLE_SETTINGS = (("gaussian", (0.3, 0.5, 0.8)), ("mask", (0.3, 0.5, 0.8)))  # the panels of samples.png
NOISE_SEED = 1234
DEFAULT_CLASSIFIER = "checkpoints/classifier"  # the judge of recognition, when it is there


def level_seed(kind: str, level: float, seed: int = NOISE_SEED) -> int:
    """A fixed seed per (kind, level), independent of the order levels are evaluated in."""
    return seed + 1000 * list(NOISE_LEVELS | UNSEEN_LEVELS).index(kind) + round(level * 100)


def noisy_test_set(clean: Tensor, kind: str, level: float, seed: int = NOISE_SEED) -> Tensor:
    """The level's noisy images, drawn on the CPU so that every device scores the very same inputs."""
    return add_noise(clean.cpu(), kind, level, level_seed(kind, level, seed)).to(clean.device)


COLUMN_TITLES = {
    "noisy": "noisy input",
    "dae": "DAE",
    "unet": "U-Net",
    "median3": "median 3×3",
    "gaussian_blur": "Gaussian blur",
    "nl_means": "non-local means",
}


# ---- the evaluation loop ---------------------------------------------------------------------


@torch.inference_mode()
def reconstruct(model: nn.Module, noisy: Tensor, batch_size: int = 256) -> Tensor:
    """The model's outputs, computed on the model's device in batches, returned on `noisy`'s device."""
    weight = next(model.parameters(), None)
    device = noisy.device if weight is None else weight.device
    return torch.cat([model(b.to(device)) for b in noisy.split(batch_size)]).to(noisy.device)


def _scores(out: Tensor, clean: Tensor) -> dict[str, float]:
    return {
        "psnr": metrics.psnr(out, clean).mean().item(),
        "mse": metrics.mse(out, clean).mean().item(),
        "ssim": metrics.ssim(out, clean).mean().item(),
    }


def _wins(challenger: Tensor, reference: Tensor, clean: Tensor) -> dict[str, float]:
    """Digit by digit: the share of images where the challenger's PSNR is at least the reference's, and
    the mean gain (a mean over images can hide a model that is better on most digits, or worse)."""
    gain = metrics.psnr(challenger, clean) - metrics.psnr(reference, clean)
    return {"share": (gain >= 0).float().mean().item(), "mean_gain_db": gain.mean().item()}


def evaluate(
    models: dict[str, nn.Module],
    clean: Tensor,
    levels: dict[str, tuple[float, ...]] = NOISE_LEVELS,
    baselines: bool = True,
    seed: int = NOISE_SEED,
    progress: Callable[[str], None] | None = None,
    classifier: nn.Module | None = None,
    labels: Tensor | None = None,
) -> list[dict[str, Any]]:
    """One row per (noise kind, level): scores of the noisy input, each model and each baseline.

    `clean` is a float (N, 1, 28, 28) tensor in [0, 1] on the device to score on (the models'
    device, typically). With two or more models, each row also has "wins": every later model
    against the first, digit by digit. With a `classifier` (and the digits' `labels`), each row
    also has "accuracy": {column: the classifier's accuracy on that column's images}.
    """
    if (classifier is None) != (labels is None):
        raise ValueError("the accuracy needs both the classifier and the labels")
    rows = []
    # Spawned, not forked: this process already runs torch's threads, and a fork copies them mid-state.
    pool = ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn")) if baselines else None
    names = list(models)
    try:
        for kind, kind_levels in levels.items():
            for level in kind_levels:
                noisy = noisy_test_set(clean, kind, level, seed)
                outputs: dict[str, Tensor] = {"noisy": noisy}
                outputs |= {name: reconstruct(model, noisy) for name, model in models.items()}
                if baselines:
                    outputs |= {name: baseline(noisy, clean, pool) for name, baseline in BASELINES.items()}
                row = {
                    "noise": kind,
                    "level": level,
                    "scores": {k: _scores(v, clean) for k, v in outputs.items()},
                }
                if classifier is not None:
                    row["accuracy"] = {k: accuracy(classifier, v, labels) for k, v in outputs.items()}
                if len(names) > 1:
                    row["wins"] = {
                        f"{name} vs {names[0]}": _wins(outputs[name], outputs[names[0]], clean)
                        for name in names[1:]
                    }
                rows.append(row)
                if progress:
                    progress(
                        f"{kind} {level}: "
                        + ", ".join(f"{k} {s['psnr']:.2f}" for k, s in row["scores"].items())
                    )
    finally:
        if pool:
            pool.shutdown()
    return rows


@torch.inference_mode()
def sample_panels(models: dict[str, nn.Module], clean: Tensor) -> list[tuple[str, dict[str, Tensor]]]:
    """What samples.png shows: per SAMPLE_SETTINGS level, the clean digits, their noisy versions and
    each model's output."""
    panels = []
    for kind, kind_levels in SAMPLE_SETTINGS:
        for level in kind_levels:
            noisy = noisy_test_set(clean, kind, level)
            title = f"{NOISE_KINDS[kind].label}, {'σ' if kind == 'gaussian' else 'p'} = {level}"
            outputs = {n: reconstruct(m, noisy).cpu() for n, m in models.items()}
            panels.append((title, {"clean": clean.cpu(), "noisy": noisy.cpu(), **outputs}))
    return panels


# ---- recognition: the classifier's accuracy on what each column hands it -------------------------


def predicted_digits(classifier: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """The classifier's digit per image (the largest logit; the first of equal ones), on their device."""
    return reconstruct(classifier, images, batch_size).argmax(1)


def accuracy(classifier: nn.Module, images: Tensor, labels: Tensor) -> float:
    """The share of images whose predicted digit is their label."""
    return (predicted_digits(classifier, images) == labels.to(images.device)).float().mean().item()


def clean_accuracy(
    models: dict[str, nn.Module], classifier: nn.Module, clean: Tensor, labels: Tensor
) -> dict[str, float]:
    """Accuracy on the clean test digits ("clean") and on each model's reconstruction of them (no noise)."""
    return {"clean": accuracy(classifier, clean, labels)} | {
        name: accuracy(classifier, reconstruct(model, clean), labels) for name, model in models.items()
    }


def markdown_table(rows: list[dict[str, Any]], metric: str = "psnr") -> str:
    """The table the README shows: one row per level, one column per method; best in bold."""
    columns = list(rows[0]["scores"])
    unit = {"psnr": "PSNR (dB)", "ssim": f"SSIM ({metrics.SSIM_DEFINITION})", "mse": "MSE"}[metric]
    digits = {"psnr": 2, "ssim": 3, "mse": 4}[metric]
    header = "| noise | level | " + " | ".join(COLUMN_TITLES.get(c, c) for c in columns) + " |"
    lines = [f"{unit}, mean over images\n", header, "|" + "---|" * (len(columns) + 2)]
    for row in rows:
        values = [row["scores"][c][metric] for c in columns]
        best = (min if metric == "mse" else max)(values)
        cells = [f"**{v:.{digits}f}**" if v == best else f"{v:.{digits}f}" for v in values]
        lines.append(f"| {row['noise']} | {row['level']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def accuracy_table(rows: list[dict[str, Any]], clean: dict[str, float] | None = None) -> str:
    """The classifier's accuracy (%) per level and column, best in bold; first, with `clean`, the
    noise-free row: the clean digits themselves (under "noisy input") and each model's reconstruction
    of them."""
    columns = list(rows[0]["accuracy"])
    header = "| noise | level | " + " | ".join(COLUMN_TITLES.get(c, c) for c in columns) + " |"
    lines = [
        "Recognition: the classifier's accuracy (%) on each column's images, against the true labels\n",
        header,
        "|" + "---|" * (len(columns) + 2),
    ]
    table = [(row["noise"], f"{row['level']:g}", row["accuracy"]) for row in rows]
    if clean:
        table.insert(
            0,
            (
                "none (clean digits)",
                "0",
                {"noisy": clean["clean"], **{k: v for k, v in clean.items() if k != "clean"}},
            ),
        )
    for noise, level, values in table:
        best = max(values.values())
        cells = [
            "–"
            if c not in values
            else f"**{100 * values[c]:.2f}**"
            if values[c] == best
            else f"{100 * values[c]:.2f}"
            for c in columns
        ]
        lines.append(f"| {noise} | {level} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wins_table(rows: list[dict[str, Any]]) -> str:
    """Digit by digit: where each later model is at least as good as the first, and by how much on average."""
    pairs = list(rows[0]["wins"])
    header = "| noise | level | " + " | ".join(f"{p}: share of digits ≥ | mean gain" for p in pairs) + " |"
    lines = ["Per digit (PSNR of each test digit compared)\n", header, "|" + "---|" * (2 * len(pairs) + 2)]
    for row in rows:
        cells = [f"{row['wins'][p]['share']:.1%} | {row['wins'][p]['mean_gain_db']:+.2f} dB" for p in pairs]
        lines.append(f"| {row['noise']} | {row['level']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from .checkpoint import CheckpointError, load_model
    from .data import DataError, load_mnist, to_float
    from .files import write_json

    p = argparse.ArgumentParser(prog="python -m dae.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        nargs="+",
        default=["checkpoints/dae"],
        help="one or more checkpoint folders; later ones are compared digit by digit with the first",
    )
    p.add_argument("--data-dir", default="data", help="folder holding MNIST/raw (default: data/)")
    p.add_argument("--limit", type=int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--no-baselines", action="store_true", help="skip the classical denoisers (much faster)")
    p.add_argument(
        "--unseen",
        action="store_true",
        help="score the corruptions no model was trained on (blur, shift, rotation, a hidden block) instead; "
        "the results go to <first checkpoint>/evaluation_unseen.json",
    )
    p.add_argument(
        "--json",
        default=None,
        help="where to write the results (default: <first checkpoint>/evaluation.json)",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument(
        "--figure", default=None, help="also draw the models side by side on the same noisy test digits (PNG)"
    )
    p.add_argument(
        "--classifier",
        default=None,
        metavar="DIR",
        help="the digit classifier that scores recognition "
        f"(default: {DEFAULT_CLASSIFIER} when it exists, else none)",
    )
    p.add_argument("--no-classifier", action="store_true", help="skip the recognition scores")
    p.add_argument(
        "--accuracy-figure",
        default=None,
        metavar="PATH",
        help="also draw the accuracy against the strength, a panel per noise kind (PNG)",
    )
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        p.error("--limit must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA GPU is available on this machine")
    classifier_dir = (
        None
        if args.no_classifier
        else args.classifier or (DEFAULT_CLASSIFIER if Path(DEFAULT_CLASSIFIER).is_dir() else None)
    )
    if classifier_dir is None:
        why = (
            "--no-classifier"
            if args.no_classifier
            else f"none in {DEFAULT_CLASSIFIER}; python train.py --arch classifier makes it"
        )
        print(f"no classifier ({why}): recognition not scored", file=sys.stderr)
        if args.accuracy_figure:
            p.error("--accuracy-figure needs a classifier (--classifier DIR)")
    try:
        models = {}
        for ckpt in args.checkpoint:
            model, config = load_model(ckpt, args.device)
            if config["arch"] == CLASSIFIER:
                raise CheckpointError(
                    f"{ckpt}: the digit classifier, not a denoiser (pass it as --classifier {ckpt})"
                )
            models[config["arch"] if config["arch"] not in models else Path(ckpt).name] = model
        classifier = None
        if classifier_dir is not None:
            classifier, config = load_model(classifier_dir, args.device)
            if config["arch"] != CLASSIFIER:
                raise CheckpointError(
                    f"--classifier {classifier_dir}: a {config['arch']!r} checkpoint, "
                    "not the digit classifier"
                )
        images, labels = load_mnist(args.data_dir, train=False)
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    clean = to_float(images[: args.limit]).to(args.device)
    labels = labels[: args.limit].to(args.device) if classifier is not None else None
    start = time.perf_counter()
    rows = evaluate(
        models,
        clean,
        levels=UNSEEN_LEVELS if args.unseen else NOISE_LEVELS,
        baselines=not args.no_baselines,
        progress=lambda s: print(s, file=sys.stderr),
        classifier=classifier,
        labels=labels,
    )
    recognised = clean_accuracy(models, classifier, clean, labels) if classifier is not None else None
    seconds = time.perf_counter() - start
    print(
        markdown_table(rows, "psnr")
        + "\n\n"
        + markdown_table(rows, "ssim")
        + ("\n\n" + wins_table(rows) if len(models) > 1 else "")
        + ("\n\n" + accuracy_table(rows, recognised) if recognised is not None else "")
    )
    print(f"\n{len(clean)} test images, {seconds:.1f} s", file=sys.stderr)
    if args.figure:
        from .plots import samples_plot

        title = " vs ".join(COLUMN_TITLES.get(n, n) for n in models) + ": the same noisy test digits"
        samples_plot(Path(args.figure), sample_panels(models, clean[:8]), title)
        print(f"wrote {args.figure}", file=sys.stderr)
    if args.accuracy_figure:
        from .plots import accuracy_plot

        accuracy_plot(
            Path(args.accuracy_figure),
            rows,
            {k: COLUMN_TITLES.get(k, k) for k in rows[0]["accuracy"]},
            recognised,
            f"Recognition of the {len(clean):,} test digits by the classifier",
        )
        print(f"wrote {args.accuracy_figure}", file=sys.stderr)
    default_json = "evaluation_unseen.json" if args.unseen else "evaluation.json"
    out = Path(args.json) if args.json else Path(args.checkpoint[0]) / default_json
    recognition = (
        {} if classifier is None else {"classifier": str(classifier_dir), "clean_accuracy": recognised}
    )
    write_json(
        out,
        {
            "checkpoints": args.checkpoint,
            "test_images": len(clean),
            "noise_seed": NOISE_SEED,
            "baselines": not args.no_baselines,
            "ssim": metrics.SSIM_DEFINITION,
            **recognition,
            "seconds": round(seconds, 2),
            "rows": rows,
        },
    )
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
