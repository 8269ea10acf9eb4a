"""Quality against noise: PSNR and the classifier's probability for this digit over the whole slider range.

Drawn on the server as inline SVG (the page only shows it): the noisy input, each model on screen
and a 3 x 3 median filter, at 21 strengths with the digit's own seed, beside the test-set means
of the served checkpoint (its evaluation.json) and a marker at the slider's strength.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from dae.noise import NOISE_KINDS

from .figures import SERIES, polyline

W, H, LEFT, RIGHT, TOP, GAP, PANEL = (
    560,
    350,
    60,
    12,
    24,
    36,
    125,
)  # room for the phone's larger labels (page.css)


def test_set_means(evaluation_json: str | Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Mean PSNR over the test set per noise kind and column, as (level, dB) points, from evaluation.json ({} without it)."""
    try:
        rows = json.loads(Path(evaluation_json).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return {}
    means: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in rows:
        for column, scores in row["scores"].items():
            means.setdefault(row["noise"], {}).setdefault(column, []).append(
                (float(row["level"]), float(scores["psnr"]))
            )
    return means


def curve_svg(curve: dict, kind: str, strength: float, reference: dict | None = None) -> str:
    """PSNR (top) and the classifier's probability of the input's label (bottom) against strength.

    `curve` is `Denoiser.curve(...)`; `reference` the test-set means (`test_set_means`) drawn faint
    and dashed; a vertical marker stands at the slider's `strength`.
    """
    top = NOISE_KINDS[kind].max_strength
    xs = curve["strengths"]

    def x_of(s: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * s / top

    psnr_max = 40.0
    y_psnr = lambda db: TOP + PANEL * (1 - min(max(db, 0.0), psnr_max) / psnr_max)  # noqa: E731
    y_prob = lambda p: TOP + PANEL + GAP + PANEL * (1 - p)  # noqa: E731
    parts = [
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="Quality against noise strength for this digit" class="dae-curve-svg">'
    ]
    for ticks, fmt, title in (((0, 10, 20, 30, 40), "{} dB", "PSNR"), ((0, 0.5, 1), "{:.0%}", None)):
        for t in ticks:
            y = y_psnr(t) if title else y_prob(t)
            parts.append(
                f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{fmt.format(t)}</text>'
            )
    label = curve.get("label")
    parts.append(f'<text x="{LEFT}" y="{TOP - 8}">PSNR vs the clean digit (higher is better)</text>')
    if label is not None:
        parts.append(f'<text x="{LEFT}" y="{TOP + PANEL + GAP - 8}">classifier: P(it is a {label})</text>')
    for s in (0, top / 2, top):
        anchor = "start" if s == 0 else "end" if s == top else "middle"
        parts.append(f'<text x="{x_of(s):.1f}" y="{H - 4}" text-anchor="{anchor}">{s:g}</text>')
    parts.append(
        f'<text x="{(LEFT + W - RIGHT) / 2 + (W - LEFT - RIGHT) / 4:.0f}" y="{H - 4}" text-anchor="middle">'
        f"strength {html.escape(NOISE_KINDS[kind].strength_name.split()[0])} →</text>"
    )
    for name, points in (reference or {}).get(kind, {}).items():
        if name in SERIES and name in curve["psnr"]:  # only the test-set means of the lines on screen
            parts.append(
                polyline(
                    [(x_of(lv), y_psnr(db)) for lv, db in points],
                    SERIES[name][1],
                    'stroke-dasharray="3 3" class="dae-reference"',
                )
            )
    for name, (_, colour) in SERIES.items():
        if name in curve["psnr"]:
            parts.append(
                polyline(
                    [(x_of(s), y_psnr(v)) for s, v in zip(xs, curve["psnr"][name])],
                    colour,
                    'stroke-width="2"',
                )
            )
        if name in curve.get("probability", {}):
            parts.append(
                polyline(
                    [(x_of(s), y_prob(v)) for s, v in zip(xs, curve["probability"][name])],
                    colour,
                    'stroke-width="2"',
                )
            )
    x = x_of(min(max(strength, 0.0), top))
    parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + 2 * PANEL + GAP}" class="marker"/>')
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{html.escape(text)}</span>'
        for name, (text, colour) in SERIES.items()
        if name in curve["psnr"]
    )
    note = "Solid: this digit with this seed at 21 strengths. Dashed: the mean over the 10,000 test digits. The vertical line is the slider."
    return f'{"".join(parts)}<div class="dae-legend-row">{legend}</div><p class="dae-note">{note}</p>'
