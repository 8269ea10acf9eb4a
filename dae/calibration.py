"""How sure the judge should be: the classifier's confidence calibrated on digits it was not trained on.

    python -m dae.calibration --classifier checkpoints/classifier --data-dir data

The classifier (dae.classifier) is trained on clean digits only. Shown a noisy digit unlike any it
has seen, it still puts nearly all its probability on one class (mostly 8) while it is right about
one time in ten. Temperature scaling divides the logits by T > 0 before the softmax: the reading
(the largest logit) stays, only how sure it is changes. One T for every input cannot be sure of a
clean digit and unsure of a noisy one at once, so here T depends on the input: softplus of a linear
function of the classifier's last hidden layer (parameterized temperature scaling, Tomani et al.,
2022). It is fitted by cross-entropy on training digits the classifier never saw (those past its
`--limit`): clean, corrupted at random kinds and strengths, and those corrupted digits as the DAE
reconstructs them, which is what the app shows the judge.

The head is kept beside the classifier (calibration.safetensors, with the checksum of the weights
it was fitted for); `Calibrated` is the classifier with it, giving calibrated logits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import safetensors.torch
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import WEIGHTS, CheckpointError, load_model
from .files import atomic_path
from .noise import blind_noise

CALIBRATION = "calibration.safetensors"
MIN_TEMPERATURE = 0.05
ECE_BINS = 15


class TemperatureHead(nn.Module):
    """(m, 128) hidden features -> (m, 1) temperatures, each > MIN_TEMPERATURE.

    It starts at T = 1, so an untrained head leaves the classifier as it is.
    """

    def __init__(self, features: int = 128) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        with torch.no_grad():
            self.linear.weight.zero_()
            # softplus⁻¹(1 - MIN_TEMPERATURE): T = 1
            self.linear.bias.fill_(float(torch.log(torch.expm1(torch.tensor(1.0 - MIN_TEMPERATURE)))))

    def forward(self, hidden: Tensor) -> Tensor:
        return F.softplus(self.linear(hidden)) + MIN_TEMPERATURE


def hidden_and_logits(classifier: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """The classifier's last hidden layer (m, 128), after its ReLU, and its logits (m, 10)."""
    features = classifier.features(x)  # (m, 64, 3, 3)
    hidden = classifier.head[:-1](features)  # flatten, linear 576 -> 128, ReLU
    return hidden, classifier.head[-1](hidden)


class Calibrated(nn.Module):
    """The classifier with its temperature head: (m, 1, 28, 28) images -> (m, 10) calibrated logits
    (logits / T)."""

    def __init__(self, classifier: nn.Module, head: TemperatureHead) -> None:
        super().__init__()
        self.classifier, self.head = classifier, head

    def forward(self, x: Tensor) -> Tensor:
        hidden, logits = hidden_and_logits(self.classifier, x)
        return logits / self.head(hidden)


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


def weights_digest(folder: str | Path) -> str:
    return hashlib.sha256((Path(folder) / WEIGHTS).read_bytes()).hexdigest()


def save(head: TemperatureHead, folder: str | Path, report: dict) -> Path:
    path = Path(folder) / CALIBRATION
    metadata = {"weights_sha256": weights_digest(folder), "report": json.dumps(report)}
    with atomic_path(path) as tmp:
        safetensors.torch.save_file(
            {k: v.contiguous() for k, v in head.state_dict().items()}, str(tmp), metadata=metadata
        )
    return path


def load(folder: str | Path) -> TemperatureHead | None:
    """The head kept beside the classifier in `folder`; None when there is none; CheckpointError when it is
    damaged or was fitted for other weights."""
    path = Path(folder) / CALIBRATION
    if not path.is_file():
        return None
    try:
        with safetensors.safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
        head = TemperatureHead()
        head.load_state_dict(state, strict=True)
    except Exception as e:  # any damage: the app goes on with the uncalibrated classifier
        raise CheckpointError(f"{path}: not a readable calibration ({type(e).__name__})") from None
    if not all(torch.isfinite(v).all() for v in state.values()):
        raise CheckpointError(f"{path}: holds NaN or infinite values")
    if metadata.get("weights_sha256") != weights_digest(folder):
        raise CheckpointError(
            f"{path} was fitted for other weights than {Path(folder) / WEIGHTS}; "
            f"fit it again: python -m dae.calibration --classifier {folder}"
        )
    return head.eval()


def fit(
    classifier: nn.Module, images: Tensor, labels: Tensor, steps: int = 500, lr: float = 0.05
) -> TemperatureHead:
    """A head fitted by cross-entropy on `images` (m, 1, 28, 28) and their labels, the classifier frozen."""
    with torch.inference_mode():
        pairs = [hidden_and_logits(classifier, batch) for batch in images.split(2000)]
    hidden, logits = torch.cat([h for h, _ in pairs]).clone(), torch.cat([z for _, z in pairs]).clone()
    head = TemperatureHead(hidden.shape[1])
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):  # full batch: a few tens of thousands of rows, 129 parameters
        loss = F.cross_entropy(logits / head(hidden), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return head.eval()


@torch.inference_mode()
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
        help="the classifier's folder; the head is written into it",
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
            f"error: {args.classifier} was trained on every training digit (no --limit): "
            "none is left to calibrate on; train it with python train.py --arch classifier --limit 55000",
            file=sys.stderr,
        )
        return 2
    torch.manual_seed(0)
    images, labels = fitting_set(
        to_float(train_images[limit:]), train_labels[limit:], dae, args.copies, seed=0
    )
    head = fit(classifier, images, labels)
    calibrated = Calibrated(classifier, head).eval()
    test = to_float(test_images)
    sets = {"clean": test}
    for kind, levels in (("gaussian", (0.3, 0.5, 0.7, 1.0)), ("mask", (0.5, 0.7, 0.9))):
        for level in levels:
            sets[f"{kind} {level:g}"] = noisy_test_set(test, kind, level)
    sets["DAE output, gaussian 0.5"] = reconstruct(dae, sets["gaussian 0.5"])
    report = {
        "held_out_digits": len(train_images) - limit,
        "fitting_images": len(images),
        "ece": {},
        "accuracy": {},
    }
    noisy_names = [n for n in sets if n.startswith(("gaussian", "mask"))]
    for name, x in [*sets.items(), ("noisy (pooled)", None)]:
        if x is None:  # the noisy sets together
            x, y = torch.cat([sets[n] for n in noisy_names]), test_labels.repeat(len(noisy_names))
        else:
            y = test_labels
        before = torch.softmax(reconstruct(classifier, x, 2000), 1)
        after = torch.softmax(reconstruct(calibrated, x, 2000), 1)
        report["ece"][name] = {
            "before": round(expected_calibration_error(before, y), 4),
            "after": round(expected_calibration_error(after, y), 4),
        }
        report["accuracy"][name] = round((after.argmax(1) == y).float().mean().item(), 4)
        print(
            f"{name:>26}: accuracy {100 * report['accuracy'][name]:6.2f} %, "
            f"ECE {report['ece'][name]['before']:.3f} -> {report['ece'][name]['after']:.3f}"
        )
    path = save(head, args.classifier, report)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
