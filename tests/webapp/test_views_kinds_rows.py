"""Every kind of noise at once (webapp.views.kinds), row by row: its name and strength at the slider's share
of each kind's range, the DAE's reconstruction of that noisy digit, its PSNR and the judge's reading.
test_views_kinds.py checks the noisy pictures; these check the rest of each row."""

import html
import math
import re

import numpy as np
import pytest
import torch

from dae.noise import CORRUPTIONS, add_noise
from tests.support import pictures
from webapp.views.kinds import kinds_view

# CORRUPTIONS in order, by hand: (label, strength letter, max strength, trained on it)
KINDS = [
    ("Gaussian", "σ", 1.0, True),
    ("Mask (dropped pixels)", "p", 0.9, True),
    ("Salt and pepper", "a", 0.5, True),
    ("Blur", "σ", 3.0, False),
    ("Shift", "d", 8.0, False),
    ("Rotation", "θ", 90.0, False),
    ("Block", "s", 0.6, False),
]
ROW = re.compile(
    r'<div class="dae-kind-row( dae-unseen)?"><div class="dae-kind-name">(.*?)</div>'
    r".*?<figcaption>noisy</figcaption>.*?"
    r'<div class="dae-guess( dae-wrong)?">([^<]*)</div></figure>'
    r".*?<figcaption>DAE</figcaption>.*?"
    r'<div class="dae-guess( dae-wrong)?">([^<]*)</div>'
    r'<div class="dae-scale">([\d.]+) dB</div></figure></div>'
)


def rows(page: str) -> list[dict]:
    found = ROW.findall(page)
    return [
        {
            "unseen": bool(u),
            "name": html.unescape(re.sub(r"<[^>]+>", "", name)).strip(),
            "noisy_guess": ng,
            "guess": g,
            "wrong": bool(w),
            "db": float(db),
        }
        for u, name, _, ng, w, g, db in found
    ]


def by_hand(served, digit, share, seed):
    """Each kind's noisy digit at `share` of its range, the DAE's output, and its PSNR, computed here."""
    x = torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32)).view(1, 1, 28, 28)
    noisy = torch.cat([add_noise(x, k.name, share * k.max_strength, seed) for k in CORRUPTIONS.values()])
    with torch.inference_mode():
        out = served.denoiser.models["dae"](noisy)
    mse = ((out - x) ** 2).mean(dim=(1, 2, 3)).double()
    return x, out, [10 * math.log10(1 / m) for m in mse.tolist()]


def test_the_table_of_kinds_is_the_module_s_list():
    assert [
        (k.label, k.strength_name.split()[0], k.max_strength, k.seen) for k in CORRUPTIONS.values()
    ] == KINDS


@pytest.mark.parametrize(
    "kind, strength, written",
    [
        ("rotate", 45, ["0.5", "0.45", "0.25", "1.5", "4", "45", "0.3"]),  # half of each range
        ("salt_pepper", 0.5, ["1", "0.9", "0.5", "3", "8", "90", "0.6"]),  # the whole range
        ("block", 0.15, ["0.25", "0.23", "0.12", "0.75", "2", "22", "0.15"]),  # a quarter (.2g rounds)
    ],
)
def test_each_row_names_its_kind_at_the_same_share_of_its_range(served, kind, strength, written):
    found = rows(kinds_view(served, served.samples[7], kind, strength, 3))
    assert len(found) == len(CORRUPTIONS)
    for row, (label, letter, _, seen), value in zip(found, KINDS, written):
        assert row["name"].startswith(f"{label} {letter} {value}"), row["name"]
        assert row["unseen"] == (not seen) and row["name"].endswith("never seen in training") == (not seen)


def test_each_row_shows_the_dae_s_reconstruction_and_its_psnr(served):
    digit = served.samples[11]
    page = kinds_view(served, digit, "gaussian", 0.6, 5)
    _, out, psnr = by_hand(served, digit, 0.6, 5)
    images = pictures(page)
    assert len(images) == 2 * len(CORRUPTIONS)
    for i, row in enumerate(rows(page)):
        shown = images[2 * i + 1].astype(np.float64) / 255
        assert np.abs(shown - out[i, 0].numpy()).max() <= 0.5 / 255 + 1e-6, i
        assert abs(row["db"] - psnr[i]) <= 0.05 + 1e-6, (i, row["db"], psnr[i])


def test_at_strength_zero_every_row_shows_the_digit_itself(served):
    digit = served.samples[3]
    images = pictures(kinds_view(served, digit, "mask", 0.0, 0))
    expected = (np.clip(digit, 0, 1) * 255 + 0.5).astype(np.uint8)
    assert all(np.array_equal(image, expected) for image in images[0::2])
    dbs = [row["db"] for row in rows(kinds_view(served, digit, "mask", 0.0, 0))]
    assert len(set(dbs)) == 1  # one input, one reconstruction, one PSNR


def guess_by_hand(label: int, confidence: float) -> str:
    return f"{label}{'' if confidence >= 0.5 else '?'} · {round(100 * confidence)} %"


@pytest.mark.parametrize("sample, kind, strength", [(0, "shift", 8.0), (11, "gaussian", 0.6)])
def test_each_reconstruction_carries_the_judge_s_reading_red_when_surely_another_digit(
    served, sample, kind, strength
):
    digit = served.samples[sample]
    page = kinds_view(served, digit, kind, strength, 1)
    x, out, _ = by_hand(served, digit, strength / CORRUPTIONS[kind].max_strength, 1)
    with torch.inference_mode():
        p = served.denoiser.probabilities(torch.cat([x, out]))
    truth, truth_conf = int(p[0].argmax()), float(p[0].max())
    found = rows(page)
    for i, row in enumerate(found):
        label, conf = int(p[1 + i].argmax()), float(p[1 + i].max())
        assert row["guess"] == guess_by_hand(label, conf), (i, row["guess"])
        assert row["wrong"] == (truth_conf >= 0.5 and conf >= 0.5 and label != truth), i
        assert row["noisy_guess"] == ""  # the judge reads the reconstructions only
    if sample == 0:
        assert any(row["wrong"] for row in found), "this case has no wrong reading any more: pick another"
