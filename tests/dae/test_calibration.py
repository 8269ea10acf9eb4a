"""The judge's calibration (dae.calibration): a temperature per input (step 1), then each confidence
stretched to the accuracy of inputs that were that sure (step 2), kept beside the classifier's weights.

Expected values are worked out by hand (softmax, bins, the ECE's sums) or measured with a second
computation; the fitted case uses a tiny classifier trained here on synthetic digits (tools.synthetic).
"""

import hashlib
import json
import math

import pytest
import safetensors
import safetensors.torch
import torch
import torch.nn.functional as F

from dae import calibration
from dae.calibration import (
    CALIBRATION,
    MIN_TEMPERATURE,
    Calibrated,
    TemperatureHead,
    binned_accuracy,
    expected_calibration_error,
    fit,
    fitting_set,
    with_confidence,
)
from dae.checkpoint import WEIGHTS, CheckpointError, load_model, save_checkpoint
from dae.classifier import Classifier
from dae.model import DAE
from dae.samples import load_samples
from tests.support import ROOT
from tools.synthetic import synthetic_digits

# ---- with_confidence: the temperature that gives a chosen largest probability --------------------------

LOGITS = torch.tensor(
    [
        [2.0, 1.0, 0.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 2.9, -4.0],
        [-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 10.0],
        [0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ],
    dtype=torch.float64,
)


def largest_probability(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits.double(), 1).max(1).values


@pytest.mark.parametrize("target", [0.15, 0.3, 0.5, 0.8, 0.95, 0.999])
def test_with_confidence_gives_exactly_the_target_and_keeps_the_reading(target):
    out = with_confidence(LOGITS, torch.full((len(LOGITS),), target, dtype=torch.float64))
    assert torch.allclose(
        largest_probability(out), torch.full((len(LOGITS),), target, dtype=torch.float64), atol=1e-4
    )
    assert torch.equal(out.argmax(1), LOGITS.argmax(1))
    # the logits divided by one positive number per row (the temperature): out · T is the logits again
    temperature = LOGITS.max(1).values / out.max(1).values
    assert (temperature > 0).all() and torch.allclose(out * temperature[:, None], LOGITS, atol=1e-12)


def test_with_confidence_takes_a_target_per_row():
    targets = torch.tensor([0.2, 0.6, 0.9, 0.35], dtype=torch.float64)
    assert torch.allclose(largest_probability(with_confidence(LOGITS, targets)), targets, atol=1e-4)


def test_a_target_out_of_reach_is_clamped_to_what_a_temperature_reaches():
    """No temperature gives less than 1/10 (ten classes): targets below it get just above 1/10; nor
    exactly 1: targets above 1 − 1e-6 get 1 − 1e-6."""
    close = torch.tensor(
        [[0.5] + [0.0] * 9, [1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.5], [0.1] + [0.0] * 9],
        dtype=torch.float64,
    )  # logits close together: 1/10 + 1e-4 is within a temperature of 1,000
    low = with_confidence(close, torch.tensor([0.0, 0.05, -1.0], dtype=torch.float64))
    assert torch.allclose(
        largest_probability(low), torch.full((3,), 0.1 + 1e-4, dtype=torch.float64), atol=1e-6, rtol=0
    )
    high = with_confidence(LOGITS, torch.tensor([1.0, 1 - 1e-9, 2.0, 1 - 1e-6], dtype=torch.float64))
    assert torch.allclose(
        largest_probability(high), torch.full((4,), 1 - 1e-6, dtype=torch.float64), atol=1e-8, rtol=0
    )
    assert torch.isfinite(low).all() and torch.isfinite(high).all()
    assert torch.equal(low.argmax(1), close.argmax(1)) and torch.equal(high.argmax(1), LOGITS.argmax(1))


def test_a_low_target_is_reached_for_logits_far_apart():
    far = torch.tensor([[-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 10.0]], dtype=torch.float64)
    out = with_confidence(far, torch.tensor([0.0], dtype=torch.float64))
    assert largest_probability(out).item() == pytest.approx(0.1 + 1e-4, abs=1e-6)


def test_with_confidence_keeps_the_logits_type():
    logits = LOGITS.float()
    out = with_confidence(logits, torch.full((4,), 0.7))
    assert out.dtype == torch.float32 and torch.allclose(
        largest_probability(out), torch.full((4,), 0.7).double(), atol=1e-4
    )


# ---- step 2's table and the expected calibration error, by hand -------------------------------------------


def test_binned_accuracy_of_a_hand_made_table():
    confidence = torch.tensor([0.9, 0.2, 0.6, 0.4, 0.8, 0.3])
    correct = torch.tensor([True, False, True, True, False, False])
    means, accuracy = binned_accuracy(confidence, correct, bins=3)
    # sorted: 0.2 ✗, 0.3 ✗ | 0.4 ✓, 0.6 ✓ | 0.8 ✗, 0.9 ✓ -> accuracies 0, 1, 0.5, made non-decreasing: 0, 1, 1
    assert torch.allclose(means, torch.tensor([0.25, 0.5, 0.85]))
    assert accuracy.tolist() == [0.0, 1.0, 1.0]


def test_binned_accuracy_with_uneven_and_empty_bins():
    confidence = torch.tensor([0.1, 0.7, 0.3, 0.5, 0.9, 0.2, 0.4])
    correct = torch.tensor([0, 1, 1, 0, 1, 0, 1])
    means, accuracy = binned_accuracy(confidence, correct, bins=3)
    # sorted: 0.1 ✗, 0.2 ✗, 0.3 ✓ | 0.4 ✓, 0.5 ✗ | 0.7 ✓, 0.9 ✓  (7 in 3 bins: 3, 2, 2)
    assert torch.allclose(means, torch.tensor([0.2, 0.45, 0.8]))
    assert torch.allclose(accuracy, torch.tensor([1 / 3, 0.5, 1.0]))
    means, accuracy = binned_accuracy(torch.tensor([0.6, 0.3]), torch.tensor([True, False]), bins=20)
    assert torch.allclose(means, torch.tensor([0.3, 0.6])) and accuracy.tolist() == [0.0, 1.0]  # no empty bin


def test_binned_accuracy_is_never_decreasing():
    g = torch.Generator().manual_seed(0)
    confidence = torch.rand(1000, generator=g)
    correct = torch.rand(1000, generator=g) < 0.5  # accuracy unrelated to confidence: noisy bins
    means, accuracy = binned_accuracy(confidence, correct)
    assert len(means) == len(accuracy) == calibration.BINS
    assert (means.diff() > 0).all() and (accuracy.diff() >= 0).all()
    # each bin's accuracy is the running maximum of the bins' own accuracies, measured here again
    order = confidence.argsort()
    own = torch.stack([correct[g].float().mean() for g in order.chunk(calibration.BINS)])
    assert torch.allclose(accuracy, torch.cummax(own, 0).values)


def probabilities_at(confidence: float, rows: int) -> torch.Tensor:
    """`rows` rows that put `confidence` on class 0 and share the rest evenly."""
    p = torch.full((rows, 10), (1 - confidence) / 9)
    p[:, 0] = confidence
    return p


def test_the_ece_of_hand_cases():
    # all at 80 %, right 8 times in 10: calibrated
    labels = torch.tensor([0] * 8 + [1] * 2)
    assert expected_calibration_error(probabilities_at(0.8, 10), labels) == pytest.approx(0, abs=1e-6)
    # all at 100 %, right half the time: off by a half
    assert expected_calibration_error(probabilities_at(1.0, 10), torch.tensor([0, 1] * 5)) == pytest.approx(
        0.5
    )
    # half at 90 % all right (off by 0.1), half at 40 % all wrong (off by 0.4): 0.5 · 0.1 + 0.5 · 0.4
    p = torch.cat([probabilities_at(0.9, 4), probabilities_at(0.4, 4)])
    assert expected_calibration_error(p, torch.tensor([0] * 4 + [3] * 4)) == pytest.approx(0.25)


# ---- the head, and the calibrated classifier ------------------------------------------------------------


def test_an_untrained_head_is_temperature_1_and_a_head_never_goes_below_the_minimum():
    head = TemperatureHead()
    hidden = torch.rand(5, 128) * 10
    assert torch.allclose(head(hidden), torch.ones(5, 1), atol=1e-6)
    with torch.no_grad():
        head.linear.weight.fill_(-100.0)
    assert (head(hidden) >= MIN_TEMPERATURE).all() and head(hidden).min() < MIN_TEMPERATURE + 1e-3


@pytest.fixture(scope="module")
def committed():
    """The committed classifier and its committed calibration."""
    folder = ROOT / "checkpoints" / "classifier"
    classifier = load_model(folder)[0].eval()
    return classifier, calibration.load(folder, classifier)


def test_the_committed_calibration_belongs_to_the_committed_classifier(committed):
    classifier, calibrated = committed
    assert isinstance(calibrated, Calibrated) and calibrated.classifier is classifier
    assert len(calibrated.confidence) >= 2 and (calibrated.accuracy.diff() >= 0).all()


def test_calibrated_never_changes_the_classifiers_reading(committed):
    classifier, calibrated = committed
    g = torch.Generator().manual_seed(0)
    samples = torch.from_numpy(load_samples()[0]).unsqueeze(1)
    x = torch.cat(
        [
            torch.rand(200, 1, 28, 28, generator=g),  # noise
            (torch.rand(100, 1, 28, 28, generator=g) < 0.1).float(),  # sparse specks
            samples,  # digits
            (samples + 0.7 * torch.randn(samples.shape, generator=g)).clamp(0, 1),  # noisy digits
            torch.zeros(1, 1, 28, 28),
        ]
    )
    with torch.no_grad():
        raw, calibrated_logits = classifier(x), calibrated(x)
    assert calibrated_logits.shape == raw.shape and torch.isfinite(calibrated_logits).all()
    assert torch.equal(raw.argmax(1), calibrated_logits.argmax(1))


def test_the_calibrated_confidence_is_the_tables_accuracy_at_the_step_one_confidence():
    torch.manual_seed(0)
    classifier = Classifier().eval()
    with torch.no_grad():
        classifier.head[-1].weight.mul_(40)  # a classifier that is sure of some inputs and unsure of others
    head = TemperatureHead()  # T = 1: step 1 leaves the classifier's own probabilities
    table = torch.tensor([0.3, 0.6, 0.9]), torch.tensor([0.2, 0.5, 0.7])
    calibrated = Calibrated(classifier, head, *table).eval()
    with torch.no_grad():
        x = torch.rand(64, 1, 28, 28) * torch.linspace(0, 8, 64).view(64, 1, 1, 1)
        own = torch.softmax(classifier(x), 1).max(1).values.double()
        out = torch.softmax(calibrated(x).double(), 1).max(1).values
    # by hand: linear between the table's points, flat beyond its ends
    expected = [
        0.2 if s <= 0.3 else 0.7 if s >= 0.9 else 0.2 + (s - 0.3) if s <= 0.6 else 0.5 + (s - 0.6) * 2 / 3
        for s in own.tolist()
    ]
    assert torch.allclose(out, torch.tensor(expected, dtype=torch.float64), atol=2e-4)
    # the inputs reach every stretch of the table
    assert own.min() < 0.3 and ((own > 0.3) & (own < 0.6)).any() and ((own > 0.6) & (own < 0.9)).any()
    assert own.max() > 0.9


# ---- fitting ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overconfident():
    """A tiny classifier trained here on clean synthetic digits until it is sure of them, shown those digits
    clean and noisy: sure of the noisy ones too, and often wrong there."""
    torch.manual_seed(0)
    images, labels = synthetic_digits(600, seed=1)
    clean = images.float().div(255).unsqueeze(1)
    classifier = Classifier()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=3e-3)
    classifier.train()
    for step in range(60):
        batch = torch.arange(step * 64, step * 64 + 64) % len(clean)
        loss = F.cross_entropy(classifier(clean[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    classifier.eval()
    g = torch.Generator().manual_seed(2)
    noisy = (clean + 0.6 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    return classifier, torch.cat([clean, noisy]), torch.cat([labels, labels])


def test_fitting_makes_the_judge_calibrated_on_what_it_was_fitted_on(overconfident):
    classifier, images, labels = overconfident
    calibrated = fit(classifier, images, labels, steps=300)
    with torch.no_grad():
        raw = torch.softmax(classifier(images), 1)
        after = torch.softmax(calibrated(images), 1)
    before_ece, after_ece = expected_calibration_error(raw, labels), expected_calibration_error(after, labels)
    assert before_ece > 0.1, before_ece  # the case is worth calibrating: sure, and often wrong
    assert after_ece < before_ece / 2, (before_ece, after_ece)
    assert torch.equal(raw.argmax(1), after.argmax(1))  # the readings stay
    assert len(calibrated.confidence) == calibration.BINS and (calibrated.accuracy.diff() >= 0).all()


def test_fitting_set_is_the_clean_digits_their_noisy_copies_and_those_reconstructed():
    torch.manual_seed(0)
    dae = DAE().eval()
    clean = torch.from_numpy(load_samples()[0][:6]).unsqueeze(1)
    labels = torch.arange(6)
    images, out_labels = fitting_set(clean, labels, dae, copies=2, seed=5)
    assert images.shape == (6 * 5, 1, 28, 28)
    assert out_labels.tolist() == list(range(6)) * 5  # clean, 2 noisy copies, their 2 reconstructions
    assert torch.equal(images[:6], clean)
    noisy = images[6:18]
    assert not torch.equal(noisy[:6], clean) and not torch.equal(noisy[:6], noisy[6:])  # two draws
    with torch.no_grad():
        assert torch.allclose(images[18:], dae(noisy), atol=1e-6)
    again, _ = fitting_set(clean, labels, dae, copies=2, seed=5)
    other, _ = fitting_set(clean, labels, dae, copies=2, seed=6)
    assert torch.equal(again, images) and not torch.equal(other[6:18], noisy)


# ---- kept beside the classifier ---------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    """A classifier folder holding a calibration of its weights; (folder, classifier, calibrated)."""
    torch.manual_seed(0)
    classifier = Classifier().eval()
    save_checkpoint(classifier, tmp_path, {})
    head = TemperatureHead()
    with torch.no_grad():
        head.linear.weight.normal_(0, 0.05)
    calibrated = Calibrated(classifier, head, torch.tensor([0.2, 0.5, 0.8]), torch.tensor([0.3, 0.4, 0.9]))
    calibration.save(calibrated, tmp_path, {"ece": {}})
    return tmp_path, classifier, calibrated


def test_a_calibration_round_trip(saved):
    folder, classifier, calibrated = saved
    loaded = calibration.load(folder, classifier)
    assert isinstance(loaded, Calibrated) and not loaded.training
    assert torch.equal(loaded.head.linear.weight, calibrated.head.linear.weight)
    assert torch.equal(loaded.confidence, calibrated.confidence) and torch.equal(
        loaded.accuracy, calibrated.accuracy
    )
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), calibrated(x))
    assert calibration.load(folder / "elsewhere", classifier) is None  # none kept: none used, no error


def rewrite(folder, change) -> None:
    """The calibration file written again with `change` applied to its {name: tensor} (metadata kept)."""
    path = folder / CALIBRATION
    with safetensors.safe_open(str(path), "pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    change(tensors)
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.pop("bins.accuracy"),
        lambda t: t.pop("head.linear.bias"),
        lambda t: t.update({"bins.accuracy": torch.tensor([0.3, 0.9])}),  # not as many as the confidences
        lambda t: t.update({"bins.confidence": torch.tensor([0.5]), "bins.accuracy": torch.tensor([0.5])}),
        lambda t: t.update({"bins.confidence": torch.zeros(3, 1)}),
        lambda t: t.update({"head.linear.weight": torch.zeros(1, 64)}),
    ],
    ids=["no accuracies", "no bias", "lengths differ", "one bin", "not a list", "head of another size"],
)
def test_a_damaged_calibration_is_refused(saved, change):
    folder, classifier, _ = saved
    rewrite(folder, change)
    with pytest.raises(CheckpointError, match="not a readable calibration"):
        calibration.load(folder, classifier)


def test_a_file_that_is_not_a_calibration_is_refused(saved):
    folder, classifier, _ = saved
    (folder / CALIBRATION).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken")
    with pytest.raises(CheckpointError, match="not a readable calibration"):
        calibration.load(folder, classifier)


@pytest.mark.parametrize(
    "name", ["head.linear.weight", "head.linear.bias", "bins.confidence", "bins.accuracy"]
)
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_calibration_holding_nan_or_infinity_is_refused(saved, name, value):
    folder, classifier, _ = saved
    rewrite(folder, lambda t: t[name].view(-1).__setitem__(0, value))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        calibration.load(folder, classifier)


@pytest.mark.parametrize("how", ["trained again", "one byte more"])
def test_a_calibration_of_other_weights_is_refused(saved, how):
    folder, classifier, _ = saved
    if how == "trained again":  # other weights under the same file name
        torch.manual_seed(1)
        save_checkpoint(Classifier(), folder, {})
    else:
        (folder / WEIGHTS).write_bytes((folder / WEIGHTS).read_bytes() + b" ")
    with pytest.raises(CheckpointError, match="fitted for other weights"):
        calibration.load(folder, classifier)


def test_the_checksum_is_the_weights_files_sha256_and_the_report_is_kept(saved):
    folder, _, _ = saved
    with safetensors.safe_open(str(folder / CALIBRATION), "pt") as f:
        metadata = f.metadata()
    assert metadata["weights_sha256"] == hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
    assert json.loads(metadata["report"]) == {"ece": {}}
