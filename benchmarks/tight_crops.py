"""Digits cropped to their ink, as a phone's crop tool leaves them: refused, misread, or read as with a
margin?

    python -m benchmarks.tight_crops [--photos 100]

Two sets, each as uploads with a margin and cropped to the ink's bounding box:
- the 100 bundled MNIST test digits, drawn dark on white at 160 px (a scan, a screenshot);
- synthetic photos of the same digits on paper (tools.synthetic.make_photo: uneven light, shadows,
  JPEG), the photo as taken and the same photo cropped to the pen's strokes.
Printed per set: uploads refused ("looks blank"), and how often the judge (the calibrated classifier)
reads the digit that came out as its true label.
"""

from __future__ import annotations

import argparse
import io

import numpy as np
import torch
from PIL import Image

from dae.samples import load_samples
from tools.synthetic import make_photo, mnist_scan
from webapp.digits.upload import read_upload
from webapp.errors import InputError
from webapp.served import load_served


def cropped_photo(jpeg: bytes, box: tuple[int, int, int, int]) -> bytes:
    top, left, bottom, right = box
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).crop((left, top, right, bottom)).save(buffer, format="jpeg", quality=90)
    return buffer.getvalue()


def score(uploads: list[bytes], labels: np.ndarray, judge) -> tuple[int, float]:
    """(uploads refused, share of the others' digits the judge reads as their label)."""
    refused, digits, kept = 0, [], []
    for data, label in zip(uploads, labels):
        try:
            digits.append(read_upload(io.BytesIO(data)).digit)
            kept.append(label)
        except InputError:
            refused += 1
    with torch.inference_mode():
        read = judge(torch.from_numpy(np.stack(digits)).unsqueeze(1)).argmax(1).numpy()
    return refused, float((read == np.asarray(kept)).mean()) if kept else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--photos", type=int, default=100, help="synthetic photos (one per bundled digit, cycling)"
    )
    args = p.parse_args(argv)
    samples, labels = load_samples()
    judge = load_served().denoiser.classifier
    rng = np.random.default_rng(0)
    photos = [make_photo(samples[i % len(samples)], rng) for i in range(args.photos)]
    photo_labels = np.array([labels[i % len(samples)] for i in range(args.photos)])
    sets = {
        "MNIST digits, with a margin": ([mnist_scan(d, crop=False) for d in samples], labels),
        "MNIST digits, cropped to the ink": ([mnist_scan(d, crop=True) for d in samples], labels),
        "photos, as taken": ([ph.jpeg for ph in photos], photo_labels),
        "photos, cropped to the ink": ([cropped_photo(ph.jpeg, ph.ink_box) for ph in photos], photo_labels),
    }
    for name, (uploads, truth) in sets.items():
        refused, read = score(uploads, truth, judge)
        print(
            f"{name:>34}: {refused:3d} of {len(uploads)} refused; "
            f"the judge reads {100 * read:5.1f} % of the rest right"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
