"""The page's own routes (webapp.routes.PageRoutes) for training and Save figure, through starlette's
TestClient: /dae/train from Start to the model's download, /dae/figure's PNG, and one line of JSON for every
request they cannot answer. test_serving.py has the render and upload routes."""

import io
import json
import struct
import time
import zipfile

import pytest
import torch
from starlette.applications import Starlette
from starlette.testclient import TestClient

import webapp.figure
import webapp.train_tab
from dae.checkpoint import load_model
from tests.support import request
from tools.synthetic import write_synthetic_mnist
from webapp import denoise_tab
from webapp.routes import PageRoutes
from webapp.train_tab import SessionModels, Trainer

SESSION = "route-test-0001"
GOOD = {"noise": "mask", "strength": 0.5, "code_size": 2, "digits": 15_000, "seed": 1}


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, read from its header by hand: the signature, then the IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def one_line(r, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and "Traceback" not in r.text
    return body["error"]


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), 200, 64)


@pytest.fixture
def client(served, mnist):
    """The page's routes as the app mounts them, with a trainer that runs in this process (as on ZeroGPU,
    where `spaces.GPU` outside a Space leaves the run as it is) on 200 synthetic digits."""
    trainer = Trainer(mnist, SessionModels(), zero_gpu=True)
    route = PageRoutes(lambda r: denoise_tab.render(served, r), trainer=trainer, served=served)
    with TestClient(Starlette(routes=route.routes())) as c:
        yield c, route
    route.scheduler.close()


def train(c, action: str, session: str = SESSION, **more):
    return c.post("/dae/train", json={"session": session, "action": action} | more)


# ---- /dae/train and /dae/model ---------------------------------------------------------------------------


def test_a_run_from_start_to_done_and_its_model_downloaded(client):
    c, _ = client
    r = train(c, "open")
    assert r.status_code == 200 and r.json()["state"] == "idle" and r.json()["has_model"] is False
    assert c.get("/dae/model", params={"session": SESSION}).status_code == 404  # nothing trained yet
    r = train(c, "start", settings=GOOD)
    assert r.status_code == 200 and r.json()["state"] in ("waiting", "running")
    deadline = time.monotonic() + 120
    while (status := train(c, "status").json())["state"] not in ("done", "stopped", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["state"] == "done", status["message"]
    assert status["has_model"] and status["progress"]["seen"] == 200 and status["progress"]["done"]

    r = c.get("/dae/model", params={"session": SESSION})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="your-model.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        config = json.loads(z.read("your-model/config.json"))
        assert config["model"] == {"code_size": 2} and config["training"]["noise"] == "mask"
    assert c.get("/dae/model", params={"session": "another-page-01"}).status_code == 404  # only its own page


def test_the_downloaded_model_is_the_trained_one(client, tmp_path):
    c, route = client
    train(c, "start", settings=GOOD)
    deadline = time.monotonic() + 120
    while train(c, "status").json()["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with zipfile.ZipFile(io.BytesIO(c.get("/dae/model", params={"session": SESSION}).content)) as z:
        z.extractall(tmp_path)
    model, _ = load_model(tmp_path / "your-model")
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(model(x), route.trainer.models.get(SESSION).model(x))


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"action": "delete"}, "Unknown training action 'delete': start, stop, status or open."),
        ({}, "Unknown training action nothing: start, stop, status or open."),
        ({"action": "start"}, "Choose the training settings first."),
        ({"action": "start", "settings": GOOD | {"digits": 7}}, "Train on one of 15,000, 30,000"),
        ({"action": "start", "settings": GOOD | {"code_size": 16.0}}, "The code size must be one of"),
    ],
)
def test_a_train_request_it_cannot_do_is_one_line_and_starts_nothing(client, payload, message):
    c, route = client
    error = one_line(c.post("/dae/train", json={"session": SESSION} | payload), 400)
    assert error.startswith(message)
    assert route.trainer.runs == {}


@pytest.mark.parametrize(
    "body",
    [b"not json", b'["a list"]', json.dumps({"action": "status"}).encode(), b'{"session": "bad id!"}'],
)
def test_a_malformed_train_request_is_one_line(client, body):
    c, _ = client
    error = one_line(c.post("/dae/train", content=body, headers={"content-type": "application/json"}), 400)
    assert "JSON" in error or "session" in error


def test_a_bug_in_training_is_one_line_counted_and_the_route_goes_on(client, monkeypatch):
    c, route = client

    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(webapp.train_tab, "handle", broken)
    assert "try again" in one_line(train(c, "status"), 500)
    assert route.failures == 1
    monkeypatch.undo()
    assert train(c, "status").status_code == 200


@pytest.mark.parametrize("session", ["short", "x" * 65, "../../etc", ""])
def test_a_model_download_for_a_session_that_is_no_session_is_not_found(client, session):
    c, _ = client
    assert "no model of yours" in one_line(c.get("/dae/model", params={"session": session}), 404)


# ---- /dae/figure -----------------------------------------------------------------------------------------


def figure(c, **changes):
    body = request({"kind": "sample", "index": 5}, "gaussian", 0.5, 0) | {"session": SESSION} | changes
    return c.post("/dae/figure", json=body)


def test_a_figure_is_a_png_of_a_plausible_size(client):
    c, _ = client
    r = figure(c)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    width, height = png_size(r.content)
    # four panels of 2.1 x 2.9 inches at 120 dpi, cut to what is drawn: a wide row
    assert 600 <= width <= 1100 and 250 <= height <= 450 and width > 2 * height
    assert r.content.endswith(b"IEND\xaeB`\x82")  # whole: the last chunk is there
    w2, h2 = png_size(figure(c, views=["curve"]).content)
    assert w2 >= width * 0.9 and h2 > height + 200  # the curve adds a row


def test_a_figure_with_a_seed_written_as_a_float_and_the_curve_open(client):
    """The page's render takes 7.0 as seed 7; so must Save figure, its curve included."""
    c, _ = client
    r = figure(c, seed=7.0, views=["curve"])
    assert r.status_code == 200 and png_size(r.content)[1] > 500


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"source": {"kind": "none"}}, "There is no result to save yet"),
        ({"noise": "speckle"}, "Unknown noise kind 'speckle'"),
        ({"strength": 5}, "The gaussian strength must be a number from 0 to 1.0 (got 5)."),
        ({"source": {"kind": "sample", "index": 10_000}}, "There is no sample 10000"),
    ],
)
def test_a_figure_that_cannot_be_drawn_is_one_line_saying_why(client, changes, message):
    c, _ = client
    assert one_line(figure(c, **changes), 400).startswith(message)


def test_a_malformed_figure_request_is_one_line(client):
    c, _ = client
    r = c.post("/dae/figure", content=b"{", headers={"content-type": "application/json"})
    assert one_line(r, 400) == "The request is not valid JSON."
    assert "names no session" in one_line(figure(c, session=None), 400)


def test_a_bug_in_the_figure_is_one_line_and_counted(client, monkeypatch):
    c, route = client

    def broken(served, payload):
        raise ValueError("a bug")  # not an InputError: the app's fault, not the request's

    monkeypatch.setattr(webapp.figure, "figure_png", broken)
    assert "could not compute this answer" in one_line(figure(c), 500)
    assert route.failures == 1
