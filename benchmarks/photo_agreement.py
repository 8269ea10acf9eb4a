"""How well photos of handwritten digits become the right 28 x 28 digit.

    python -m benchmarks.photo_agreement             # 300 synthetic photos
    python -m benchmarks.photo_agreement --n 100 --seed 1

Each photo is made from one of the 100 MNIST test digits bundled with the app
(`tools.synthetic.make_photo`: pen strokes of some ink colour on paper of some colour, light
gradient, soft shadow, sometimes a page edge, specks, blur, noise, JPEG), decoded and preprocessed
exactly as an upload, and scored by its agreement with the source digit: PSNR, best over shifts of
up to 2 px. The test suite checks a smaller run of the same (tests/webapp/test_digits_photo.py): median
>= 18 dB, >= 90 % >= 15 dB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dae.samples import load_samples
from tools.synthetic import agreement, make_photo
from webapp.digits.upload import read_upload
from webapp.errors import InputError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300, help="number of photos")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worst", type=int, default=0, help="save the N worst photos and their results to --out")
    p.add_argument("--out", default="photo_agreement_worst")
    args = p.parse_args(argv)
    digits, _ = load_samples()
    rng = np.random.default_rng(args.seed)
    scores, seconds, kinds, cases = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.n):
            photo = make_photo(digits[i % len(digits)], rng)
            path = Path(tmp) / f"{i}.jpg"
            path.write_bytes(photo.jpeg)
            start = time.perf_counter()
            try:
                result = read_upload(path).digit
            except InputError:
                result = None
            seconds.append(time.perf_counter() - start)
            scores.append(agreement(result, photo.digit))
            kinds.append(photo.light_on_dark)
            cases.append((photo, result))
    scores, kinds = np.array(scores), np.array(kinds)
    print(
        f"{args.n} synthetic photos (seed {args.seed}), agreement with the source digit "
        "(PSNR, best over ±2 px shifts):"
    )
    print(
        f"  median {np.median(scores):.2f} dB, {100 * np.mean(scores >= 15):.1f} % >= 15 dB, "
        f"{100 * np.mean(scores >= 18):.1f} % >= 18 dB, worst {scores.min():.2f} dB"
    )
    for name, sel in (("dark ink on light paper", ~kinds), ("light ink on dark paper", kinds)):
        if sel.any():
            share = 100 * np.mean(scores[sel] >= 15)
            median = np.median(scores[sel])
            print(f"  {name}: {sel.sum()} photos, median {median:.2f} dB, {share:.1f} % >= 15 dB")
    print(
        f"  time per photo (decode + preprocess): median {1000 * np.median(seconds):.0f} ms, "
        f"max {1000 * max(seconds):.0f} ms"
    )
    if args.worst:
        from PIL import Image

        out = Path(args.out)
        out.mkdir(exist_ok=True)
        for rank, i in enumerate(np.argsort(scores)[: args.worst]):
            photo, result = cases[i]
            (out / f"{rank:02d}_{scores[i]:.1f}dB.jpg").write_bytes(photo.jpeg)
            pair = np.concatenate([photo.digit, np.zeros((28, 28)) if result is None else result], axis=1)
            Image.fromarray((pair * 255).astype(np.uint8)).resize((224, 112), Image.Resampling.NEAREST).save(
                out / f"{rank:02d}_digits.png"
            )
        print(f"  the {args.worst} worst photos and (source | result) pairs are in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
