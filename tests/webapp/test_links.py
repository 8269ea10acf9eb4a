"""Links that restore a view (webapp.links): the address's query becomes the controls, the digit and the open
views."""

from types import SimpleNamespace

import numpy as np
import pytest

from dae.noise import NOISE_KINDS
from tests.support import decoded
from webapp.denoise_tab import link_pixels
from webapp.links import from_link


def query(**params) -> SimpleNamespace:
    """What Gradio hands the page's load event: a request with the address's query parameters."""
    return SimpleNamespace(query_params=params)


def test_a_link_sets_the_controls_and_names_a_test_digit_by_its_number(served):
    number = int(served.test_indices[34])
    r = from_link(
        served, query(digit=str(number), noise="mask", strength="0.5", seed="7", compare="plain-ae")
    )
    assert r["controls"] == {"noise": "mask", "strength": 0.5, "seed": "7", "compare": "plain-ae"}
    assert r["sample"] == 34 and r["tab"] == "samples" and "digit" not in r


def test_what_cannot_be_used_is_left_at_its_default(served):
    bad = from_link(served, query(digit="99999", noise="fog", strength="nan", seed="x", tab="nowhere"))
    gaussian = NOISE_KINDS["gaussian"]
    assert bad["controls"] == {
        "noise": "gaussian",
        "strength": gaussian.default_strength,
        "seed": "0",
        "compare": None,
    }
    assert "sample" not in bad and "digit" not in bad and bad["tab"] is None and bad["present"] is False
    assert from_link(served, None)["controls"]["compare"] is None  # no query at all: the defaults


def test_links_made_with_the_pickers_index_still_open_that_sample(served):
    assert from_link(served, query(sample="34"))["sample"] == 34
    assert "sample" not in from_link(served, query(sample="100"))  # 100 bundled samples: 0 to 99


def test_a_drawn_digit_comes_back_from_its_pixels():
    digit = np.zeros((28, 28), np.float32)
    digit[5:23, 12:16] = 1.0
    served = SimpleNamespace(test_indices=[], samples=[], models={"dae": None})
    r = from_link(served, query(pixels=link_pixels(digit), tab="upload"))
    assert np.array_equal(decoded(r["digit"]), (digit * 255).astype(np.uint8))
    assert r["tab"] == "upload"  # the tab it came from
    assert from_link(served, query(pixels=link_pixels(digit)))["tab"] == "draw"
    assert "digit" not in from_link(served, query(pixels="not-a-digit"))


@pytest.mark.parametrize("name", ["unet", "plain-ae", "dae-sigma05", "dae-code2", "dae-code16"])
def test_a_link_names_the_model_beside_the_dae(served, name):
    assert from_link(served, query(compare=name))["controls"]["compare"] == name


def test_compare_1_is_the_unet_of_links_made_before_the_choice(served):
    assert from_link(served, query(compare="1"))["controls"]["compare"] == "unet"


@pytest.mark.parametrize("value", ["dae", "0", "2", "true", "resnet", "UNET", "", "<b>unet</b>"])
def test_a_link_naming_no_model_beside_the_dae_compares_nothing(served, value):
    assert from_link(served, query(compare=value))["controls"]["compare"] is None


def test_a_link_names_the_views_to_open(served):
    out = from_link(served, query(sample="3", views="layers,bogus,learning"))
    assert out["views"] == ["layers", "learning"]  # known views only, in the link's order
    assert from_link(served, query(views="<img onerror=x>"))["views"] == []
    assert "views" not in from_link(served, query(sample="3"))  # absent: the page's default
    assert from_link(served, query(present="1"))["present"] is True


def test_a_link_names_its_tab_and_keeps_the_seed_in_range(served):
    out = from_link(served, query(tab="upload", seed=str(2**70), strength="5"))
    assert out["tab"] == "upload"
    assert out["controls"]["seed"] == str(2**31 - 1)  # the largest seed, not an error
    assert (
        out["controls"]["strength"] == NOISE_KINDS["gaussian"].default_strength
    )  # out of range: the default
