"""Quality against noise: PSNR and the classifier's probability for this digit over the whole slider range.

Drawn on the server as inline SVG (the page only shows it): the noisy input, each model on screen
and a 3 x 3 median filter, at 21 strengths with the digit's own seed, beside the test-set means
of the served checkpoint (its evaluation.json) and a marker at the slider's strength.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from dae.noise import CORRUPTIONS

from .figures import BESIDE, SERIES, polyline

# One panel (PSNR, or the classifier's probability): viewBox size and the plot area's margins. The two
# panels sit side by side on a wide screen and one under the other on a phone (page.css).
W, H = 460, 280
LEFT, RIGHT, TOP, BOTTOM = 62, 12, 14, 52
PSNR_TOP = 40.0  # dB at the top of the PSNR panel; above it the line is cut and marked


def test_set_means(evaluation_json: str | Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Mean PSNR over the test set per noise kind and column, as (level, dB) points, from evaluation.json
    ({} without it)."""
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


def curve_svg(
    curve: dict,
    kind: str,
    strength: float,
    reference: dict | None = None,
    titles: dict[str, str] | None = None,
) -> str:
    """PSNR and the classifier's probability of the input's reading against strength, two panels.

    `curve` is `Denoiser.curve(...)`; `reference` the test-set means (`test_set_means`), drawn faint
    and dashed for the lines on screen; `titles` names the models (the one beside the DAE gets its
    own colour); a dashed vertical marker stands at the slider's `strength`.
    """
    titles = titles or {}
    names = [n for n in curve["psnr"]]
    colour = {n: SERIES[n][1] if n in SERIES else BESIDE for n in names}
    legend_of = {n: SERIES[n][0] if n in SERIES else titles.get(n, n) for n in names}
    label = curve.get("label")
    panels = [panel(curve, kind, strength, "psnr", reference or {}, colour)]
    if "probability" in curve:
        panels.append(panel(curve, kind, strength, "probability", {}, colour, label))
    legend = "".join(
        f'<span><i style="background:{colour[n]}"></i>{html.escape(legend_of[n])}</span>' for n in names
    )
    cut = any(v > PSNR_TOP for values in curve["psnr"].values() for v in values)
    note = (
        "Solid: this digit with this seed at 21 strengths. Dashed: the mean over the 10,000 test digits. "
        "The vertical line is the slider."
    )
    if cut:
        note += (
            f" ▲ at the top: above {PSNR_TOP:g} dB, cut "
            "(at strength 0 the noisy input is the digit itself: ∞ dB)."
        )
    return (
        f'<div class="dae-charts">{"".join(panels)}</div><div class="dae-legend-row">{legend}</div>'
        f'<p class="dae-note">{note}</p>'
    )


def panel(
    curve: dict,
    kind: str,
    strength: float,
    what: str,
    reference: dict,
    colour: dict[str, str],
    label: int | None = None,
) -> str:
    """One panel: the plot area, its grid and ticks, its axis titles outside it, the lines and the marker."""
    top_strength = CORRUPTIONS[kind].max_strength
    xs = curve["strengths"]
    x0, x1, y0, y1 = LEFT, W - RIGHT, TOP, H - BOTTOM  # the plot area

    def x_of(s: float) -> float:
        return x0 + (x1 - x0) * s / top_strength

    if what == "psnr":

        def y_of(v: float) -> float:
            return y1 - (y1 - y0) * min(max(v, 0.0), PSNR_TOP) / PSNR_TOP

        ticks, tick_text, title = (0, 10, 20, 30, 40), "{}", "PSNR (dB), higher is better"
        aria = "PSNR against the noise's strength for this digit"
    else:

        def y_of(v: float) -> float:
            return y1 - (y1 - y0) * v

        ticks, tick_text, title = (0, 0.5, 1), "{:.0%}", f"classifier: P(it is a {label})"
        aria = f"The classifier's probability that the digit is a {label}, against the noise's strength"
    parts = [f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{html.escape(aria)}" class="dae-curve-svg">']
    for t in ticks:
        y = y_of(t)
        parts.append(
            f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{x0 - 6}" y="{y:.1f}" dy="0.35em" text-anchor="end">{tick_text.format(t)}</text>'
        )
    for s in (0, top_strength / 2, top_strength):
        parts.append(f'<text x="{x_of(s):.1f}" y="{y1 + 6}" dy="1em" text-anchor="middle">{s:g}</text>')
    parts.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{H - 4}" text-anchor="middle">strength '
        f"{html.escape(CORRUPTIONS[kind].strength_name.split()[0])}</text>"
        f'<text transform="translate(14 {(y0 + y1) / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{html.escape(title)}'
        "</text>"
    )
    for name, points in reference.get(kind, {}).items():
        if name in curve[what]:  # only the test-set means of the lines on screen
            parts.append(
                polyline(
                    [(x_of(lv), y_of(db)) for lv, db in points],
                    colour[name],
                    'stroke-dasharray="3 3" class="dae-reference"',
                )
            )
    for name, values in curve[what].items():
        parts.append(
            polyline([(x_of(s), y_of(v)) for s, v in zip(xs, values)], colour[name], 'stroke-width="2"')
        )
        if what == "psnr":  # off the scale: a mark where the line is cut
            parts += [
                f'<path d="M{x_of(s) - 5:.1f},{y0 + 7:.1f}h10l-5,-8z" fill="{colour[name]}"><title>above '
                f"{PSNR_TOP:g} dB</title></path>"
                for s, v in zip(xs, values)
                if v > PSNR_TOP
            ]
    x = x_of(min(max(strength, 0.0), top_strength))
    parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y1}" class="marker"/></svg>')
    return "".join(parts)
