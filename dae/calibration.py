"""How sure the judge should be: the classifier's confidence calibrated on digits it was not trained on.

    python -m dae.calibration --classifier checkpoints/classifier --data-dir data

The classifier (dae.classifier) is trained on clean digits only. Shown a noisy digit unlike any it
has seen, it still puts nearly all its probability on one class (mostly 8) while it is right about
one time in ten. Dividing the logits by a temperature T > 0 keeps the reading (the largest logit)
and changes only how sure it is. Two steps choose T for each input, both fitted on training digits
the classifier never saw (those past its `--limit`): clean, corrupted at random kinds and
strengths, and those corrupted digits as the DAE reconstructs them, which is what the app shows
the judge.

1. A temperature that depends on the input: softplus of a linear function of the classifier's last
   hidden layer (parameterized temperature scaling, Tomani et al., 2022), fitted by cross-entropy.
   It tells a clean digit from a noisy one, but cross-entropy is not calibration: inputs it is
   unsure of come out still too sure.
2. Histogram binning (Zadrozny and Elkan, 2001) of the resulting confidence: the held-out inputs in
   equal-count bins of confidence, each bin's accuracy measured. An input's temperature is then
   stretched until its reading's probability is the accuracy of inputs that were that sure
   (linear between the bins' centres, never decreasing).

`Calibrated` is the classifier with both: its logits divided by the input's final temperature.
Kept beside the classifier in calibration.safetensors, with the checksum of the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import WEIGHTS, CheckpointError, load_model
from .files import atomic_path
from .noise import blind_noise

CALIBRATION = "calibration.safetensors"
MIN_TEMPERATURE = 0.05
BINS = 20  # equal-count bins of confidence for step 2
ECE_BINS = 15  # equal-width bins for the expected calibration error (the usual measure)


class TemperatureHead(nn.Module):
    """Step 1: (m, 128) hidden features -> (m, 1) temperatures above MIN_TEMPERATURE. Starts at T = 1."""

    def __init__(self, features: int = 128) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.fill_(
                float(torch.log(torch.expm1(torch.tensor(1.0 - MIN_TEMPERATURE))))
            )  # softplus⁻¹

    def forward(self, hidden: Tensor) -> Tensor:
        return F.softplus(self.linear(hidden)) + MIN_TEMPERATURE


def hidden_and_logits(classifier: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """The classifier's last hidden layer (m, 128), after its ReLU, and its logits (m, 10)."""
    features = classifier.features(x)  # (m, 64, 3, 3)
    hidden = classifier.head[:-1](features)  # flatten, linear 576 -> 128, ReLU
    return hidden, classifier.head[-1](hidden)


def with_confidence(logits: Tensor, target: Tensor, iterations: int = 20) -> Tensor:
    """`logits` divided, row by row, by the temperature that makes their largest probability `target`.

    The largest probability falls steadily from 1 towards 1/classes as the temperature grows, so a
    bisection on its logarithm finds it (to a factor of 1 + 2e-5 after 20 halvings); targets are kept
    within what a temperature can reach. In numpy: a few rows of ten numbers, where torch's per-call
    cost would be most of the time.
    """
    z = logits.detach().cpu().double().numpy()
    classes = z.shape[1]
    goal = np.clip(target.detach().cpu().double().numpy(), 1 / classes + 1e-4, 1 - 1e-6)[:, None]
    z = z - z.max(1, keepdims=True)  # the largest logit is 0: its probability is 1 / sum(exp(z / T))
    low, high = np.full_like(goal, -6.0), np.full_like(goal, 12.0)  # log T: T from 0.0025 to 160,000
    for _ in range(iterations):
        middle = (low + high) / 2
        too_sure = 1 / np.exp(z / np.exp(middle)).sum(1, keepdims=True) > goal
        low, high = np.where(too_sure, middle, low), np.where(too_sure, high, middle)
    return logits / torch.from_numpy(np.exp((low + high) / 2)).to(logits)


class Calibrated(nn.Module):
    """The classifier with its calibration: (m, 1, 28, 28) images -> (m, 10) calibrated logits."""

    def __init__(
        self, classifier: nn.Module, head: TemperatureHead, confidence: Tensor, accuracy: Tensor
    ) -> None:
        super().__init__()
        self.classifier, self.head = classifier, head
        self.register_buffer("confidence", confidence)  # (BINS,) the bins' mean confidence after step 1
        self.register_buffer("accuracy", accuracy)  # (BINS,) their accuracy, made non-decreasing

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """Step 2's table as numpy arrays (made once)."""
        if getattr(self, "_table", None) is None:
            self._table = (self.confidence.cpu().numpy(), self.accuracy.cpu().numpy())
        return self._table

    def step_one(self, x: Tensor) -> Tensor:
        hidden, logits = hidden_and_logits(self.classifier, x)
        return logits / self.head(hidden)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.step_one(x)
        sure = torch.softmax(logits, 1).max(1).values
        target = np.interp(sure.detach().cpu().numpy(), *self.table())
        return with_confidence(logits, torch.from_numpy(target))


def expected_calibration_error(probabilities: Tensor, labels: Tensor, bins: int = ECE_BINS) -> float:
    """ECE: the mean over equal-width confidence bins of |accuracy − confidence|, weighted by the bin's
    share."""
    confidence, predicted = probabilities.max(1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.float().mean().item() * abs(
                correct[inside].mean().item() - confidence[inside].mean().item()
            )
    return ece


def binned_accuracy(confidence: Tensor, correct: Tensor, bins: int = BINS) -> tuple[Tensor, Tensor]:
    """Step 2's table: equal-count bins of `confidence`, each as (its mean confidence, its accuracy), the
    accuracies made non-decreasing (a surer reading is never said to be less often right)."""
    order = confidence.argsort()
    groups = [g for g in order.tensor_split(bins) if len(g)]
    means = torch.stack([confidence[g].mean() for g in groups])
    accuracy = torch.cummax(torch.stack([correct[g].float().mean() for g in groups]), 0).values
    return means, accuracy


def weights_digest(folder: str | Path) -> str:
    return hashlib.sha256((Path(folder) / WEIGHTS).read_bytes()).hexdigest()


def save(calibrated: Calibrated, folder: str | Path, report: dict) -> Path:
    path = Path(folder) / CALIBRATION
    tensors = {f"head.{k}": v for k, v in calibrated.head.state_dict().items()}
    tensors |= {"bins.confidence": calibrated.confidence, "bins.accuracy": calibrated.accuracy}
    metadata = {"weights_sha256": weights_digest(folder), "report": json.dumps(report)}
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(
            {k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata
        )
    return path


def load(folder: str | Path, classifier: nn.Module) -> Calibrated | None:
    """`classifier` with the calibration kept beside it in `folder`; None when there is none; CheckpointError
    when the file is damaged or was fitted for other weights."""
    path = Path(folder) / CALIBRATION
    if not path.is_file():
        return None
    try:
        with safetensors.safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        head = TemperatureHead()
        head.load_state_dict(
            {k.removeprefix("head."): v for k, v in tensors.items() if k.startswith("head.")}, strict=True
        )
        confidence, accuracy = tensors["bins.confidence"], tensors["bins.accuracy"]
        if confidence.ndim != 1 or confidence.shape != accuracy.shape or len(confidence) < 2:
            raise ValueError("the bins are not two lists of the same length")
    except Exception as e:  # any damage: the app goes on with the uncalibrated classifier
        raise CheckpointError(f"{path}: not a readable calibration ({type(e).__name__})") from None
    if not all(torch.isfinite(v).all() for v in tensors.values()):
        raise CheckpointError(f"{path}: holds NaN or infinite values")
    if metadata.get("weights_sha256") != weights_digest(folder):
        raise CheckpointError(
            f"{path} was fitted for other weights than {Path(folder) / WEIGHTS}; "
            f"fit it again: python -m dae.calibration --classifier {folder}"
        )
    return Calibrated(classifier, head.eval(), confidence, accuracy).eval()


def fit(
    classifier: nn.Module, images: Tensor, labels: Tensor, steps: int = 3000, lr: float = 0.05
) -> Calibrated:
    """Both steps, fitted on `images` (m, 1, 28, 28) and their labels, the classifier frozen."""
    with torch.no_grad():
        pairs = [hidden_and_logits(classifier, batch) for batch in images.split(2000)]
    hidden, logits = torch.cat([h for h, _ in pairs]), torch.cat([z for _, z in pairs])
    head = TemperatureHead(hidden.shape[1])
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):  # full batch: a few tens of thousands of rows, 129 parameters
        loss = F.cross_entropy(logits / head(hidden), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        p = torch.softmax(logits / head(hidden), 1)
    confidence, accuracy = binned_accuracy(p.max(1).values, p.argmax(1) == labels)
    return Calibrated(classifier, head.eval(), confidence, accuracy).eval()


@torch.no_grad()
def fitting_set(
    clean: Tensor, labels: Tensor, dae: nn.Module, copies: int, seed: int
) -> tuple[Tensor, Tensor]:
    """What the judge is shown in the app, from held-out digits: each clean, `copies` times corrupted (blind
    noise: every kind over its whole range) and those corrupted copies as the DAE reconstructs them."""
    g = torch.Generator().manual_seed(seed)
    noisy = torch.cat([blind_noise(clean, g) for _ in range(copies)])
    reconstructed = torch.cat([dae(batch) for batch in noisy.split(2000)])
    return torch.cat([clean, noisy, reconstructed]), torch.cat([labels] + [labels.repeat(copies)] * 2)


def main(argv: list[str] | None = None) -> int:
    from .data import DataError, load_mnist, to_float
    from .evaluate import noisy_test_set, reconstruct

    p = argparse.ArgumentParser(prog="python -m dae.calibration", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--classifier",
        default="checkpoints/classifier",
        help="the classifier's folder; the calibration is written into it",
    )
    p.add_argument(
        "--dae", default="checkpoints/dae", help="the DAE whose reconstructions the judge is fitted on too"
    )
    p.add_argument("--data-dir", default="data", help="folder holding MNIST/raw (default: data/)")
    p.add_argument(
        "--copies", type=int, default=4, help="corrupted copies of each held-out digit (default: 4)"
    )
    args = p.parse_args(argv)
    try:
        classifier, config = load_model(args.classifier)
        dae = load_model(args.dae)[0]
        train_images, train_labels = load_mnist(args.data_dir, train=True)
        test_images, test_labels = load_mnist(args.data_dir, train=False)
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    limit = config.get("training", {}).get("limit")
    if not limit or limit >= len(train_images):
        print(
            f"error: {args.classifier} was trained on every training digit (no --limit): none is left to "
            "calibrate on; train it with python train.py --arch classifier --limit 55000",
            file=sys.stderr,
        )
        return 2
    torch.manual_seed(0)
    images, labels = fitting_set(
        to_float(train_images[limit:]), train_labels[limit:], dae, args.copies, seed=0
    )
    calibrated = fit(classifier, images, labels)
    test = to_float(test_images)
    sets = {"clean": test}
    for kind, levels in (("gaussian", (0.3, 0.5, 0.7, 1.0)), ("mask", (0.5, 0.7, 0.9))):
        for level in levels:
            sets[f"{kind} {level:g}"] = noisy_test_set(test, kind, level)
    sets["DAE output, gaussian 0.5"] = reconstruct(dae, sets["gaussian 0.5"])
    noisy_names = [n for n in sets if n.startswith(("gaussian", "mask"))]
    sets["noisy (pooled)"] = torch.cat([sets[n] for n in noisy_names])
    report = {
        "held_out_digits": len(train_images) - limit,
        "fitting_images": len(images),
        "ece": {},
        "accuracy": {},
    }
    for name, x in sets.items():
        y = test_labels.repeat(len(x) // len(test_labels))
        before = torch.softmax(reconstruct(classifier, x, 2000), 1)
        after = torch.softmax(reconstruct(calibrated, x, 2000), 1)
        report["ece"][name] = {
            "before": round(expected_calibration_error(before, y), 4),
            "after": round(expected_calibration_error(after, y), 4),
        }
        report["accuracy"][name] = round((after.argmax(1) == y).float().mean().item(), 4)
        print(
            f"{name:>26}: accuracy {100 * report['accuracy'][name]:6.2f} %, ECE "
            f"{report['ece'][name]['before']:.3f} -> {report['ece'][name]['after']:.3f}"
        )
    path = save(calibrated, args.classifier, report)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
