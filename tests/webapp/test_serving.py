"""How the app is served (webapp.serving), piece by piece without a server: the body limits, the render
route's refusals, the page's scripts. The whole app served and loaded: tests/e2e/test_reliability.py and
test_api_client.py."""

import asyncio
import json

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import webapp.serving
from webapp.routes import PageRoutes
from webapp.serving import STATIC, BodyLimit, body_limit, page_head

RENDER_URL = "/dae/render"

SESSION = "0123456789abcdef"


def through_body_limit(
    path: str, chunks: list[bytes], declared: int | None = None, pause: float = 0.0
) -> dict:
    """One request through BodyLimit to an app that reads the whole body and answers 200 with its length.

    The body arrives in `chunks` (`pause` seconds before each); `declared` is its Content-Length, if any.
    Returns what the client was sent, what the app read and whether the app was called.
    """
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent, seen = [], {"called": False, "read": 0, "disconnected": False}

    async def receive():
        if pending:
            await asyncio.sleep(pause)
            return pending.pop(0)
        await asyncio.sleep(3600)  # a client that sends nothing more

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        seen["called"] = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                seen["disconnected"] = True
                break
            seen["read"] += len(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(seen["read"]).encode()})

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    asyncio.run(BodyLimit(app)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": status, "body": body, **seen}


def test_each_route_has_its_body_limit():
    assert body_limit(RENDER_URL) == 700_000
    assert body_limit("/gradio_api/upload") == 10_500_000  # a 10 MB upload and its form fields
    assert body_limit("/gradio_api/queue/join") == body_limit("/anything") == webapp.serving.DEFAULT_BODY


def test_a_body_within_its_limit_reaches_the_app_whole():
    r = through_body_limit(RENDER_URL, [b"x" * 1000] * 5, declared=5000)
    assert r["status"] == 200 and r["read"] == 5000 and r["body"] == b"5000"
    r = through_body_limit(RENDER_URL, [b"x" * 1000] * 5)  # chunked: no Content-Length
    assert r["status"] == 200 and r["read"] == 5000


def test_a_declared_size_over_the_limit_is_refused_unread():
    limit = body_limit(RENDER_URL)
    r = through_body_limit(RENDER_URL, [b"x" * 10], declared=limit + 1)
    assert r["status"] == 413 and not r["called"]
    assert json.loads(r["body"]) == {"error": f"Request larger than {limit:,} bytes."}
    assert through_body_limit(RENDER_URL, [b"x"], declared="1e3")["status"] == 413  # not a number of bytes


def test_a_chunked_body_is_refused_the_moment_it_passes_the_limit():
    """No Content-Length: the bytes are counted as they arrive; the app sees the client gone, its answer is
    dropped."""
    limit = body_limit(RENDER_URL)
    r = through_body_limit(RENDER_URL, [b"x" * 100_000] * (limit // 100_000 + 5))
    assert r["status"] == 413 and json.loads(r["body"])["error"] == f"Request larger than {limit:,} bytes."
    assert r["disconnected"] and r["read"] <= limit


def test_a_body_that_arrives_too_slowly_is_refused(monkeypatch):
    monkeypatch.setattr(webapp.serving, "BODY_GRACE", 0.1)
    monkeypatch.setattr(webapp.serving, "BODY_RATE", 1_000)  # bytes a second, after the grace
    r = through_body_limit(RENDER_URL, [b"x" * 10] * 5, pause=0.3)
    assert r["status"] == 408 and "too slowly" in json.loads(r["body"])["error"] and r["disconnected"]


@pytest.fixture
def route_client():
    """The render route alone, in front of a render that echoes its request (or fails on "boom")."""

    def render(request: dict) -> dict:
        if request.get("noise") == "boom":
            raise RuntimeError("a bug")
        return {"status": "ok", "images": {}, "caption": request.get("noise", "")}

    route = PageRoutes(render, trainer=None)
    with TestClient(Starlette(routes=route.routes())) as client:
        yield client, route
    route.scheduler.close()


def test_the_render_route_answers_a_request_in_its_sessions_turn(route_client):
    client, _ = route_client
    r = client.post(RENDER_URL, json={"session": SESSION, "noise": "mask", "live": True})
    assert r.status_code == 200 and r.json() == {"status": "ok", "images": {}, "caption": "mask"}


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"noise": "mask"}).encode(), "names no session"),
        (json.dumps({"session": "short"}).encode(), "names no session"),
        (json.dumps({"session": "x" * 65}).encode(), "names no session"),
        (json.dumps({"session": "<script>alert(1)</script>"}).encode(), "names no session"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # nested too deeply for json
    ],
)
def test_the_render_route_refuses_a_bad_request_in_one_line(route_client, body, message):
    client, _ = route_client
    r = client.post(RENDER_URL, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and message in r.json()["error"] and "\n" not in r.json()["error"]


def test_a_failing_render_is_one_line_for_the_page_and_counted(route_client):
    client, route = route_client
    r = client.post(RENDER_URL, json={"session": SESSION, "noise": "boom"})
    assert r.status_code == 500 and "Traceback" not in r.text and "try again" in r.json()["error"]
    assert route.failures == 1
    assert client.post(RENDER_URL, json={"session": SESSION, "noise": "gaussian"}).status_code == 200


def test_the_page_head_holds_every_script_inline():
    """The scripts run before Gradio mounts the components that call them: each file's whole text is in the
    head."""
    head = page_head()
    for name in (
        "controller.js",
        "canvas.js",
        "picker.js",
        "upload.js",
        "views.js",
        "train.js",
        "keyboard.js",
    ):
        text = (STATIC / name).read_text()
        assert f'data-file="{name}">' + text in head


def test_a_script_that_would_end_its_own_tag_is_refused(monkeypatch, tmp_path):
    (tmp_path / "head.html").write_text('<script data-file="bad.js"></script>')
    (tmp_path / "bad.js").write_text("const s = '</script><script>alert(1)';")
    monkeypatch.setattr(webapp.serving, "STATIC", tmp_path)
    with pytest.raises(ValueError, match="end its own tag"):
        page_head()


def test_training_is_refused_in_one_line_when_it_is_off(route_client):
    client, _ = route_client
    r = client.post("/dae/train", json={"session": SESSION, "action": "status"})
    assert r.status_code == 400 and r.json() == {"error": "Training is off on this server."}
    r = client.get("/dae/model", params={"session": SESSION})
    assert r.status_code == 404 and "no model of yours" in r.json()["error"]


def test_an_upload_must_name_its_session_and_carry_bytes(route_client):
    client, _ = route_client
    assert "names no session" in client.post("/dae/upload", content=b"x").json()["error"]
    r = client.post("/dae/upload", params={"session": SESSION}, content=b"")
    assert r.status_code == 400 and "empty" in r.json()["error"]


def test_the_figure_route_answers_a_png_or_one_line(served):
    from webapp import denoise_tab

    route = PageRoutes(lambda r: denoise_tab.render(served, r), trainer=None, served=served)
    sample = {"kind": "sample", "index": 5}
    body = {"session": SESSION, "source": sample, "noise": "gaussian", "strength": 0.5, "seed": "0"}
    with TestClient(Starlette(routes=route.routes())) as client:
        r = client.post("/dae/figure", json=body)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
        r = client.post("/dae/figure", json=body | {"source": {"kind": "none"}})
        assert r.status_code == 400
        assert r.json() == {"error": "There is no result to save yet: draw, pick or upload a digit first."}
        r = client.post("/dae/figure", json=body | {"seed": None})  # the render's own reason, in plain words
        assert r.json() == {"error": "The seed must be a whole number from 0 to 2,147,483,647 (got nothing)."}
    route.scheduler.close()


def test_a_busy_server_says_so_for_figures_and_uploads(route_client, monkeypatch):
    """Past the scheduler's bound a request is answered busy: the figure and upload routes say it in words."""
    client, route = route_client

    async def busy(session, final, job):
        return {"busy": True, "wait": 1500}

    monkeypatch.setattr(route.scheduler, "submit", busy)
    r = client.post("/dae/figure", json={"session": SESSION, "noise": "gaussian"})
    assert r.status_code == 400 and r.json() == {
        "error": "Many students are asking at once: please try again in 1.5 s."
    }
    r = client.post("/dae/upload", params={"session": SESSION}, content=b"\x89PNG...")
    assert r.status_code == 200 and r.json() == {
        "error": "Many students are asking at once: please try again in 1.5 s."
    }


@pytest.mark.parametrize(
    "fields, final",
    [
        ({"live": True}, False),  # a frame while the pen moves
        ({"live": True, "final": True}, True),  # the frame that ends a stroke: the pen lifted
        ({"live": False}, True),  # the views, a pick, a slider let go
        ({}, True),
        ({"live": True, "final": "yes"}, False),  # only a true boolean counts
    ],
)
def test_a_frame_that_ends_a_stroke_is_served_in_a_final_turn(route_client, monkeypatch, fields, final):
    client, route = route_client
    turns = []

    async def submit(session, is_final, job):
        turns.append(is_final)
        return job()

    monkeypatch.setattr(route.scheduler, "submit", submit)
    assert client.post(RENDER_URL, json={"session": SESSION, "noise": "mask"} | fields).status_code == 200
    assert turns == [final]
