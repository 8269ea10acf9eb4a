"""Hostile requests over loopback, against the app served in this process: every one gets a short refusal.

Bodies larger than a route allows (whatever Content-Length or Transfer-Encoding say), bodies and
headers that trickle in, fields of the wrong type or size, and Gradio's monitoring page. Every
loop is bounded in bytes and time.
"""

import socket
import time

import psutil
import pytest
from gradio_client import Client, handle_file

from tools.loadgen import app_in_process, digit_file
from webapp import serving

pytestmark = pytest.mark.e2e

BIG = 40_000_000
ROUTES = [
    "/dae/render",
    "/gradio_api/component_server/",
    "/gradio_api/queue/join",
    "/gradio_api/call/denoise",
    "/gradio_api/upload",
    "/gradio_api/run/predict",
]


@pytest.fixture(scope="module")
def url():
    with app_in_process() as local_url:
        yield local_url


def address(url: str) -> tuple[str, int]:
    host, port = url.split("//")[1].rstrip("/").split(":")
    return host, int(port)


def send_chunked(
    url: str, path: str, total: int, declared: int | None = None, timeout: float = 60.0
) -> bytes:
    """POST `total` bytes to `path` in 64 kB chunks (Transfer-Encoding: chunked, and a Content-Length if
    `declared`), stopping when the server answers or closes; returns what the server sent back."""
    with socket.create_connection(address(url), timeout=timeout) as s:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n"
        )
        if declared is not None:
            head += f"Content-Length: {declared}\r\n"
        s.sendall((head + "\r\n").encode())
        chunk = b'{"noise": "' + b"x" * 65_536
        sent = 0
        try:
            while sent < total:
                s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                s.setblocking(False)
                try:
                    if s.recv(1, socket.MSG_PEEK):  # the server has answered
                        break
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return receive_all(s)


def receive_all(s: socket.socket, limit: int = 1_000_000) -> bytes:
    data = b""
    try:
        while len(data) < limit:
            part = s.recv(65_536)
            if not part:
                break
            data += part
            if (
                b"\r\n\r\n" in data
                and len(data) > data.index(b"\r\n\r\n") + 4
                and not data.startswith(b"HTTP/1.1 100")
            ):
                s.settimeout(1.0)  # the answer has started: what is left of it comes at once
    except (TimeoutError, ConnectionResetError):
        pass
    return data


@pytest.mark.parametrize("declared", [None, 10], ids=["chunked", "chunked-with-length-10"])
@pytest.mark.parametrize("path", ROUTES)
def test_a_40_mb_body_is_refused_without_the_memory_growing(url, path, declared):
    rss = psutil.Process().memory_info().rss
    answer = send_chunked(url, path, BIG, declared)
    grown = psutil.Process().memory_info().rss - rss
    status = answer.split(b"\r\n", 1)[0]
    assert status.split()[1:2] in ([b"413"], [b"400"]), answer[:300]
    assert len(answer) < 2_000  # nothing of the body comes back
    assert grown < 20 * 2**20, f"RSS grew by {grown / 2**20:.0f} MB"


def test_a_declared_length_over_the_limit_is_refused_before_the_body(url):
    with socket.create_connection(address(url), timeout=30) as s:
        s.sendall(
            b"POST /dae/render HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        answer = receive_all(s)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than" in answer


def test_a_body_that_trickles_in_is_cut_off(url, monkeypatch):
    monkeypatch.setattr(serving, "BODY_GRACE", 0.5)
    with socket.create_connection(address(url), timeout=30) as s:
        s.sendall(
            b"POST /dae/render HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        start = time.monotonic()
        answer = b""
        for _ in range(60):  # one byte every 0.25 s, until the server gives up on it (or 15 s have passed)
            try:
                s.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            s.settimeout(0.25)
            try:
                answer = s.recv(4096)
                if answer:
                    break
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert time.monotonic() - start < 10


def test_headers_that_trickle_in_close_the_connection(url, monkeypatch):
    monkeypatch.setattr(serving, "HEADER_TIMEOUT", 0.5)
    with socket.create_connection(address(url), timeout=30) as s:
        s.sendall(b"POST /dae/render HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed = False
        for _ in range(60):  # a header byte every 0.25 s, never the blank line that ends them
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(0.25)
            try:
                if s.recv(4096) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except ConnectionResetError:
                closed = True
                break
        assert closed and time.monotonic() - start < 10


def post_render(url: str, request: dict):
    import httpx

    return httpx.post(url + "dae/render", json={"session": "hostile-test-1"} | request, timeout=60)


@pytest.mark.parametrize(
    "field, value",
    [
        ("noise", ["gaussian"]),
        ("noise", {"a": 1}),
        ("strength", 10**310),
        ("seed", 10**310),
        ("seed", -(10**320)),
    ],
)
def test_odd_fields_get_the_apps_own_message(url, field, value):
    request = {"source": {"kind": "sample", "index": 3}, "noise": "gaussian", "strength": 0.5, "seed": 0} | {
        field: value
    }
    response = post_render(url, request)
    assert response.status_code == 200
    status = response.json()["status"]
    assert status.startswith("⚠️") and len(status) < 300


@pytest.mark.parametrize(
    "body, message",
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'{"live": true}', "session")],
)
def test_a_malformed_request_gets_one_line(url, body, message):
    import httpx

    response = httpx.post(
        url + "dae/render", content=body, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert response.status_code == 400 and message in response.json()["error"]


def test_the_api_refuses_odd_numbers_in_its_own_words(url, tmp_path):
    client = Client(url, verbose=False)
    image = handle_file(str(digit_file(tmp_path)))
    for strength, seed in ((10**310, 0), (0.5, 10**310), (0.5, -1)):
        with pytest.raises(Exception) as e:
            client.predict(image, "gaussian", strength, seed, "dae", api_name="/denoise")
        assert "must be" in str(e.value), str(e.value)[:300]


def test_monitoring_is_off(url):
    import httpx

    response = httpx.get(url + "monitoring", timeout=30)
    assert "monitoring URL" not in response.text
