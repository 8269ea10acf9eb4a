"""The open views in a Denoise-tab answer (webapp.views.open_views): the ones the request names, computed
from the same noisy digit as the results, none while the pen moves."""

import re

from tests.support import request
from webapp.denoise_tab import render
from webapp.markup import views_html
from webapp.views import VIEWS


def test_the_views_follow_the_slider_and_wait_while_the_pen_moves(served):
    wanted = ["layers", "latent-map", "learning"]
    low = render(served, request({"kind": "sample", "index": 5}, "mask", 0.1, views=wanted))["views"]
    high = render(served, request({"kind": "sample", "index": 5}, "mask", 0.8, views=wanted))["views"]
    assert set(low) == set(high) == set(wanted) and all(low[v] != high[v] for v in wanted)
    assert (
        render(served, request({"kind": "sample", "index": 5}, views=wanted) | {"live": True})["views"] == {}
    )
    assert (
        render(served, request({"kind": "sample", "index": 5}, views=["nothing", "<script>"]))["views"] == {}
    )


def test_the_view_ids_are_the_pages_details():
    """The ids a request may name are the ids of the views' <details> on the page, in the page's order."""
    assert re.findall(r'<details[^>]*id="([^"]+)"', views_html("data:image/png;base64,")) == list(VIEWS)
    assert VIEWS == ("curve", "layers", "latent-map", "learning")
