"""What the page writes under the results (webapp.captions): the classifier's guesses, the metrics table."""

import re

import torch

from webapp.captions import guess_of, metrics_html
from webapp.engine import Result, result_json, score


def table(markup: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", markup)
    return [[cell.strip() for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)] for row in rows]


def result(clean: torch.Tensor, noisy: torch.Tensor, out: torch.Tensor) -> Result:
    return Result(
        clean=clean[0, 0].numpy(),
        noisy=noisy[0, 0].numpy(),
        outputs={"dae": out[0, 0].numpy()},
        scores=score(clean, noisy, {"dae": out}),
    )


def test_metrics_table_and_json_of_a_hand_made_case():
    """Clean all 0; the noisy input all 0.1 (MSE 0.01, so 20 dB); the DAE's output all 0.01 (MSE 1e-4, so 40
    dB)."""
    clean = torch.zeros(1, 1, 28, 28)
    r = result(clean, torch.full_like(clean, 0.1), torch.full_like(clean, 0.01))
    header, noisy_row, dae_row = table(metrics_html(r, {"dae": "DAE"}))
    assert header == ["", "MSE", "PSNR", "gain"]
    assert noisy_row == ["noisy input", "0.0100", "20.00 dB", ""]
    assert dae_row == ["DAE", "0.0001", "40.00 dB", "<b>+20.00 dB</b>"]  # only the gain is bold
    assert result_json(r) == {
        "noisy": {"mse": 0.01, "psnr": 20.0},
        "dae": {"mse": 0.0001, "psnr": 40.0, "psnr_gain_db": 20.0},
    }


def test_the_metrics_at_strength_0_say_there_is_no_noise_to_remove():
    """Clean all 0.5 and the noisy input the same (strength 0); the DAE's output all 0.6 (MSE 0.01:
    20 dB)."""
    clean = torch.full((1, 1, 28, 28), 0.5)
    r = result(clean, clean.clone(), torch.full_like(clean, 0.6))
    markup = metrics_html(r, {"dae": "DAE"})
    _, noisy_row, dae_row = table(markup)
    assert noisy_row == ["noisy input", "0.0000", "∞ (identical)", ""]
    assert dae_row == [
        "DAE",
        "0.0100",
        "20.00 dB",
        "no noise to remove",
    ]  # not −80 dB against a capped 100 dB
    assert result_json(r)["dae"]["psnr_gain_db"] is None
    legend = markup.split('<p class="dae-legend">')[1].removesuffix("</p>").split("<br>")
    assert [line.split("</b>")[0] for line in legend] == ["<b>MSE", "<b>PSNR", "<b>gain"]  # one line each


def test_a_model_name_is_escaped_html():
    clean = torch.zeros(1, 1, 28, 28)
    r = result(clean, torch.full_like(clean, 0.1), torch.full_like(clean, 0.01))
    assert "<i>x</i>" not in metrics_html(r, {"dae": "<i>x</i>"}) and "&lt;i&gt;x&lt;/i&gt;" in metrics_html(
        r, {"dae": "<i>x</i>"}
    )


def test_guesses_as_the_page_writes_them():
    assert guess_of(7, 0.984) == "7 · 98 %" and guess_of(0, 0.5) == "0 · 50 %"
    assert (
        guess_of(8, 0.38) == "8? · 38 %" and guess_of(8, 0.499) == "8? · 50 %"
    )  # under 50 %: unsure, said so
