"""Links that restore a view (webapp.links): the address's query becomes the controls and the open views."""

import json
from types import SimpleNamespace

import pytest

from dae.noise import NOISE_KINDS
from webapp.links import from_link


def query(**params) -> SimpleNamespace:
    """What Gradio hands the page's load event: a request with the address's query parameters."""
    return SimpleNamespace(query_params=params)


def test_a_link_sets_the_controls_and_the_sample(served):
    r = from_link(served, query(sample="34", noise="mask", strength="0.5", seed="7", compare="plain-ae"))
    assert r["kind"] == "mask" and r["strength"]["value"] == 0.5 and r["seed"] == 7
    assert r["compare"] == "plain-ae"
    assert r["input_tabs"] == {"selected": "samples"}
    assert json.loads(r["linked"]) == {"tab": "samples", "sample": 34}
    bad = from_link(served, query(sample="1000", noise="fog", strength="nan", seed="x"))
    assert bad["kind"] == "gaussian" and bad["seed"] == 0
    assert bad["strength"]["value"] == NOISE_KINDS["gaussian"].default_strength
    assert bad["linked"] == "{}" and bad["input_tabs"] == {} and bad["compare"] == ""
    assert from_link(served, None)["compare"] == ""  # nothing beside the DAE: the dropdown's "nothing"


@pytest.mark.parametrize("name", ["unet", "plain-ae", "dae-sigma05", "dae-code2", "dae-code16"])
def test_a_link_names_the_model_beside_the_dae(served, name):
    assert from_link(served, query(compare=name))["compare"] == name


def test_compare_1_is_the_unet_of_links_made_before_the_choice(served):
    assert from_link(served, query(compare="1"))["compare"] == "unet"


@pytest.mark.parametrize("value", ["dae", "0", "2", "true", "resnet", "UNET", "", "<b>unet</b>"])
def test_a_link_naming_no_model_beside_the_dae_compares_nothing(served, value):
    assert from_link(served, query(compare=value))["compare"] == ""


def test_a_link_names_the_views_to_open(served):
    out = from_link(served, query(sample="3", views="layers,bogus,learning"))
    # known views only, in the link's order
    assert json.loads(out["linked"])["views"] == ["layers", "learning"]
    assert "views" not in json.loads(from_link(served, query(views="<img onerror=x>"))["linked"])


def test_a_link_names_its_tab_and_keeps_the_seed_in_range(served):
    out = from_link(served, query(tab="upload", seed=str(2**70), strength="5"))
    assert json.loads(out["linked"]) == {"tab": "upload"} and out["input_tabs"] == {"selected": "upload"}
    assert out["seed"] == 2**63 - 1  # the largest seed, not an error
    assert out["strength"]["value"] == NOISE_KINDS["gaussian"].default_strength  # out of range: the default
