"""The teaching views of the Denoise tab, drawn on the server as inline SVG/HTML.

The page only shows what these return (dae.ui puts them in the same response as the results), so
what a view says and the numbers it plots come from one place, and the tests read them here.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

from .noise import NOISE_KINDS

SERIES = {  # name -> (legend, colour); colours tell the lines apart in both themes
    "noisy": ("noisy input", "#9ca3af"),
    "dae": ("DAE", "#2563eb"),
    "unet": ("U-Net", "#f97316"),
    "median3": ("median 3×3 filter", "#16a34a"),
}
W, H, LEFT, RIGHT, TOP, GAP, PANEL = 560, 330, 44, 12, 22, 34, 110


@lru_cache(maxsize=4)
def test_set_means(evaluation_json: str | Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Mean PSNR over the test set per noise kind and column, as (level, dB) points, from evaluation.json ({} without it)."""
    try:
        rows = json.loads(Path(evaluation_json).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return {}
    means: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in rows:
        for column, scores in row["scores"].items():
            means.setdefault(row["noise"], {}).setdefault(column, []).append((float(row["level"]), float(scores["psnr"])))
    return means


def _polyline(points: list[tuple[float, float]], colour: str, extra: str = "") -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" stroke="{colour}" {extra}/>'


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
    parts = [f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="Quality against noise strength for this digit" class="dae-curve-svg">']
    for ticks, fmt, title in (((0, 10, 20, 30, 40), "{} dB", "PSNR"), ((0, 0.5, 1), "{:.0%}", None)):
        for t in ticks:
            y = y_psnr(t) if title else y_prob(t)
            parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                         f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{fmt.format(t)}</text>')
    label = curve.get("label")
    parts.append(f'<text x="{LEFT}" y="{TOP - 8}">PSNR against the clean digit (higher is better)</text>')
    if label is not None:
        parts.append(f'<text x="{LEFT}" y="{TOP + PANEL + GAP - 8}">classifier: probability that it is a {label}</text>')
    for s in (0, top / 2, top):
        parts.append(f'<text x="{x_of(s):.1f}" y="{H - 4}" text-anchor="middle">{s:g}</text>')
    for name, points in (reference or {}).get(kind, {}).items():
        if name in SERIES:
            parts.append(_polyline([(x_of(lv), y_psnr(db)) for lv, db in points], SERIES[name][1], 'stroke-dasharray="3 3" opacity="0.45"'))
    for name, (_, colour) in SERIES.items():
        if name in curve["psnr"]:
            parts.append(_polyline([(x_of(s), y_psnr(v)) for s, v in zip(xs, curve["psnr"][name])], colour, 'stroke-width="2"'))
        if name in curve.get("probability", {}):
            parts.append(_polyline([(x_of(s), y_prob(v)) for s, v in zip(xs, curve["probability"][name])], colour, 'stroke-width="2"'))
    x = x_of(min(max(strength, 0.0), top))
    parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + 2 * PANEL + GAP}" class="marker"/>')
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{html.escape(text)}</span>' for name, (text, colour) in SERIES.items() if name in curve["psnr"]
    )
    note = "Solid: this digit with this seed at 21 strengths. Dashed: the mean over the 10,000 test digits. The vertical line is the slider."
    return f'{"".join(parts)}<div class="dae-legend-row">{legend}</div><p class="dae-note">{note}</p>'
