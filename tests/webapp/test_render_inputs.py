"""Every field of a render request, walked through wrong types and extremes: always the app's own answer.

Whatever reaches the server may be hostile; the handler must answer every request with a result
or a one-line message, never raise, never quote more than a few dozen characters of what it was
sent, and always give an answer that is strict JSON (no NaN, no infinity).
"""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.support import drawing, png_bomb
from webapp import denoise_tab
from webapp.digits.decoding import limit_decoding

LONG = "x" * 20_000
ODD_VALUES = [
    None,
    True,
    False,
    -1,
    0,
    10**310,
    -(10**310),
    1e308,
    -1e308,
    2.5,
    "",
    LONG,
    "7",
    [],
    {},
    [1, 2],
    {"a": 1},
    [[[]]],
    {"kind": "sample"},
]


def digit_png(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def good_request() -> dict:
    return {
        "session": "s" * 16,
        "source": {"kind": "sample", "index": 3},
        "noise": "mask",
        "strength": 0.5,
        "seed": 1,
        "compare": None,
        "views": ["curve"],
        "map_at": None,
        "live": False,
    }


def check(answer) -> str:
    """The answer is a dict that strict JSON can carry, with a short status; returns the status."""
    assert isinstance(answer, dict)
    json.dumps(answer, allow_nan=False)
    status = answer.get("status", "")
    assert isinstance(status, str)
    if status.startswith("⚠️"):  # a message: one short line
        assert len(status) < 300 and "\n" not in status, status[:500]
    assert LONG[:100] not in json.dumps(answer)  # never echoed back
    return status


@pytest.mark.parametrize(
    "field", ["source", "noise", "strength", "seed", "compare", "views", "map_at", "live"]
)
def test_every_field_with_every_odd_value_gets_an_answer(served, field):
    for value in ODD_VALUES:
        check(denoise_tab.render(served, good_request() | {field: value}))


@pytest.mark.parametrize("key", ["kind", "index", "png", "strokes", "side"])
def test_every_source_field_with_every_odd_value_gets_an_answer(served, key):
    for kind in ("sample", "strokes", "digit", "none"):
        for value in ODD_VALUES:
            request = good_request() | {
                "source": drawing()
                | {"kind": kind, "index": 3, "png": digit_png(np.zeros((28, 28), np.uint8))}
            }
            request["source"][key] = value
            check(denoise_tab.render(served, request))


def test_every_stroke_field_with_every_odd_value_gets_an_answer(served):
    for key in ("tool", "width", "points"):
        for value in ODD_VALUES:
            source = drawing()
            source["strokes"][0][key] = value
            check(denoise_tab.render(served, good_request() | {"source": source}))
        for value in ODD_VALUES:  # and as a point
            source = drawing()
            source["strokes"][0]["points"][3] = value
            check(denoise_tab.render(served, good_request() | {"source": source}))


@pytest.mark.parametrize("request_value", [None, [], "x", 5, LONG, [good_request()]])
def test_a_request_that_is_not_an_object_gets_a_message(served, request_value):
    assert "Bad request" in check(denoise_tab.render(served, request_value))


def test_noise_given_as_a_list_or_an_object_is_named_in_the_message(served):
    for noise in (["gaussian"], {"kind": "gaussian"}):
        status = check(denoise_tab.render(served, good_request() | {"noise": noise}))
        assert "Unknown noise kind" in status


@pytest.mark.parametrize("field", ["strength", "seed"])
def test_a_number_of_310_digits_is_refused_in_a_short_message(served, field):
    status = check(denoise_tab.render(served, good_request() | {field: 10**310}))
    assert field in status and "…" in status  # the number is cut, not quoted whole


def test_a_digit_whose_png_claims_100000_by_100000_pixels_is_refused(served):
    limit_decoding()
    url = "data:image/png;base64," + base64.b64encode(png_bomb()).decode("ascii")
    status = check(denoise_tab.render(served, good_request() | {"source": {"kind": "digit", "png": url}}))
    assert "28 × 28" in status


def test_the_good_request_gets_results(served):
    answer = denoise_tab.render(served, good_request())
    check(answer)
    assert {"clean", "noisy", "recon", "error"} <= set(answer["images"])
