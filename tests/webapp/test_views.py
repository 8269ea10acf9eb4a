"""The open views in a Denoise-tab answer (webapp.views.open_views): the ones the request names, computed
from the same noisy digit as the results, none while the pen moves."""

import re

from tests.support import request
from webapp.denoise_tab import render
from webapp.markup import views_html
from webapp.views import VIEWS


def test_the_views_follow_the_slider_and_wait_while_the_pen_moves(served):
    wanted = ["layers", "latent-map", "learning"]
    answered = ["layers", "latent-map/dae", "learning"]  # the code map comes as the DAE's own
    low = render(served, request({"kind": "sample", "index": 5}, "mask", 0.1, views=wanted))["views"]
    high = render(served, request({"kind": "sample", "index": 5}, "mask", 0.8, views=wanted))["views"]
    assert set(low) == set(high) == set(answered) and all(low[v] != high[v] for v in answered)
    assert (
        render(served, request({"kind": "sample", "index": 5}, views=wanted) | {"live": True})["views"] == {}
    )
    assert (
        render(served, request({"kind": "sample", "index": 5}, views=["nothing", "<script>"]))["views"] == {}
    )


def test_each_model_on_screen_with_a_code_map_gets_its_own_map(served):
    def views(compare):
        r = render(served, request({"kind": "sample", "index": 5}, compare=compare, views=["latent-map"]))
        return list(r["views"])

    assert views(None) == ["latent-map/dae"]
    assert views("dae-code2") == ["latent-map/dae", "latent-map/dae-code2"]  # the 2-number code's plane
    for name in ("unet", "plain-ae", "dae-sigma05", "dae-code16"):  # no code map kept beside them
        assert views(name) == ["latent-map/dae"], name


def test_the_view_ids_are_the_pages_details(served):
    """The ids a request may name are the ids of the views' <details> on the page, in the page's order."""
    page = views_html(list(served.models.values()))
    assert re.findall(r'<details[^>]*id="([^"]+)"', page) == list(VIEWS)
    assert VIEWS == ("curve", "layers", "kinds", "latent-map", "learning")
    # one map body per model with a map, each named as its answer's key "latent-map/<model>" names it, and a
    # hidden place for the map of a model trained in the Train tab
    assert re.findall(r'class="dae-view-body" data-model="([^"]+)"', page) == ["dae", "dae-code2", "yours"]
    assert re.search(r'<div class="dae-map" data-model="yours" hidden>', page)
