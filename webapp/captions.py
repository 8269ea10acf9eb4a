"""What the page writes under the results: the classifier's guesses and the metrics table."""

from __future__ import annotations

import html

from dae import metrics

from .engine import Result

# The judge's percentage is calibrated (dae.calibration): how often it is right when it is that sure.
# Below 50 % it is more often wrong than right, so the page calls it unsure rather than a reading.
SURE = 0.5
JUDGE_NOTE = (
    "Under each image: the digit a classifier trained on clean MNIST digits reads there, and how often it is "
    "right when it is that sure (measured on clean and noisy digits it never trained on). Under 50 % it is "
    'more often wrong than right: shown grey, with a ?. <span class="dae-wrong">Red</span>: it is sure of '
    "another digit than the input's."
)


def guess_of(label: int, confidence: float) -> str:
    """A reading and its probability as the page writes them: "7 · 98 %", or "7? · 38 %" when unsure."""
    return f"{label}{'' if confidence >= SURE else '?'} · {100 * confidence:.0f} %"


METRICS_LEGEND = (  # one line per column of the metrics table
    "<b>MSE</b>: the mean squared difference to the clean digit, per pixel (0 = identical).",
    "<b>PSNR</b>: the same in decibels, 10·log₁₀(1 / MSE); higher is better, +3 dB halves the MSE.",
    "<b>gain</b>: the reconstruction's PSNR minus the noisy input's, "
    "what denoising bought (at strength 0 there is no noise to remove).",
)


def metrics_html(result: Result, names: dict[str, str] | None = None) -> str:
    """MSE and PSNR of the noisy input and of each reconstruction, the dB gained, and what each column
    means."""
    names = names or {}
    noisy = result.scores["noisy"]
    rows = [f"<tr><td>noisy input</td><td>{noisy['mse']:.4f}</td><td>{_db(noisy['psnr'])}</td><td></td></tr>"]
    for name, s in result.scores.items():
        if name != "noisy":
            gain = (
                "no noise to remove" if s["psnr_gain_db"] is None else f"<b>{s['psnr_gain_db']:+.2f} dB</b>"
            )
            rows.append(
                f"<tr><td>{html.escape(names.get(name, name))}</td><td>{s['mse']:.4f}</td>"
                f"<td>{_db(s['psnr'])}</td><td>{gain}</td></tr>"
            )
    return (
        '<table class="dae-metrics"><thead><tr><th></th><th>MSE</th><th>PSNR</th><th>gain</th></tr></thead>'
        "<tbody>" + "".join(rows) + "</tbody></table>"
        f'<p class="dae-legend">{"<br>".join(METRICS_LEGEND)}</p>'
    )


def _db(value: float) -> str:
    return "∞ (identical)" if value >= metrics.MAX_PSNR else f"{value:.2f} dB"
