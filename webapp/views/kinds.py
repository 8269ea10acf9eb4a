"""Every kind of noise at once: the digit under each corruption, at the same share of each one's range as the
slider, with the DAE's reconstruction, its PSNR and the judge's reading; the unseen ones marked as such."""

from __future__ import annotations

import html

import numpy as np
import torch

from dae import metrics
from dae.noise import CORRUPTIONS, add_noise

from ..captions import SURE, guess_of
from .figures import digit_figure


@torch.inference_mode()
def kinds_view(served, digit: np.ndarray, kind: str, strength: float, seed: int) -> str:
    share = strength / CORRUPTIONS[kind].max_strength
    x = torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32)).view(1, 1, 28, 28)
    noisy = torch.cat(
        [add_noise(x, k.name, share * k.max_strength, seed) for k in CORRUPTIONS.values()]
    )  # (7, 1, 28, 28)
    out = served.denoiser.models["dae"](noisy)
    psnr = metrics.psnr(out, x.expand_as(out))
    p = served.denoiser.probabilities(torch.cat([x, out]))
    reading = None if p is None else (int(p[0].argmax()), float(p[0].max()))
    rows = []
    for i, k in enumerate(CORRUPTIONS.values()):
        guess, wrong = "", False
        if p is not None:
            label, confidence = int(p[1 + i].argmax()), float(p[1 + i].max())
            guess = guess_of(label, confidence)
            wrong = reading[1] >= SURE and confidence >= SURE and label != reading[0]
        what = f"{k.label} {k.strength_name.split()[0]} {share * k.max_strength:.2g}"
        unseen = "" if k.seen else ' <small class="dae-unseen-tag">never seen in training</small>'
        rows.append(
            f'<div class="dae-kind-row{"" if k.seen else " dae-unseen"}"><div class="dae-kind-name">'
            f"{html.escape(what)}{unseen}</div>"
            + digit_figure("noisy", noisy[i, 0].numpy(), f"The digit under {k.label}")
            + digit_figure(
                "DAE",
                out[i, 0].numpy(),
                f"The DAE's reconstruction under {k.label}",
                guess,
                wrong,
                extra=f'<div class="dae-scale">{float(psnr[i]):.1f} dB</div>',
            )
            + "</div>"
        )
    return f'<div class="dae-kinds">{"".join(rows)}</div>'
