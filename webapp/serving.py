"""How the app is served: the page's own files and route, and the limits that keep one server up for a class.

- `POST /dae/render` is the page's one call (contract.py): a plain route beside Gradio's, each
  request computed in its session's turn by the FairScheduler (scheduler.py).
- Every request body is bounded by the bytes actually received (whatever Content-Length or
  Transfer-Encoding say) and must keep arriving at a minimum rate; headers must arrive within
  HEADER_TIMEOUT. Every refusal is one line of JSON: {"error": "..."}.
- Gradio's own events are queued and bounded, uploads bounded and cleaned up, /monitoring off.

Every launch (app.py, the tests, the benchmarks) goes through `launch`, so all get the same limits.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import re
from pathlib import Path

import gradio as gr
import uvicorn.config
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

STATIC = Path(__file__).parent / "static"
PAGE_URL = "/dae/"  # the page's own routes (routes.py)

# Gradio's events: requests waiting at once, all events together (more are refused at once with
# "queue full"); the events that decode pictures run two at a time, the cheap ones have their own slots.
QUEUE_SIZE = 64
HEAVY = dict(concurrency_id="pictures", concurrency_limit=2)
LIGHT = dict(concurrency_id="controls", concurrency_limit=8)
CACHE_CLEANUP = (600, 3600)  # every 10 minutes, delete result images and uploads older than an hour
MAX_UPLOAD = "10mb"

# Request bodies, by path prefix (bytes); anything else that has a body gets DEFAULT_BODY.
BODY_LIMITS = (("/gradio_api/upload", 10_500_000), ("/dae/upload", 10_500_000), (PAGE_URL, 700_000))
DEFAULT_BODY = 256_000
BODY_GRACE, BODY_RATE = 10.0, 20_000  # a body may take GRACE s, then must keep up RATE bytes/s on average
HEADER_TIMEOUT = 10.0  # seconds for a request's line and headers to arrive

log = logging.getLogger("webapp")


def error(status: int, message: str) -> JSONResponse:
    """The app's own one-line refusal."""
    return JSONResponse({"error": message}, status_code=status)


def body_limit(path: str) -> int:
    return next((limit for prefix, limit in BODY_LIMITS if path.startswith(prefix)), DEFAULT_BODY)


class BodyLimit:
    """ASGI middleware: every request body bounded by the bytes that actually arrive, and by how slowly they
    arrive.

    A declared Content-Length over the route's limit is refused before anything is read; otherwise
    the body is counted as it is received (chunked or not) and the request refused (413) the moment
    it passes the limit, or (408) when it falls behind the minimum rate. The app then sees the client
    as gone, and whatever it still tries to send is dropped.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await error(413, f"Request larger than {limit:,} bytes.")(scope, receive, send)
        loop = asyncio.get_running_loop()
        state = {"received": 0, "complete": False, "answered": False, "started": False}
        start = loop.time()

        async def refuse(status: int, message: str) -> dict:
            if not state["started"] and not state["answered"]:
                state["answered"] = True
                await error(status, message)(scope, receive, send)
            return {"type": "http.disconnect"}

        async def bounded_receive() -> dict:
            if state["answered"]:
                return {"type": "http.disconnect"}
            if state["complete"]:
                return (
                    await receive()
                )  # the body is in: waiting for a disconnect (a stream) is not bounded here
            time_left = start + BODY_GRACE + state["received"] / BODY_RATE - loop.time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(time_left, 0.001))
            except TimeoutError:
                return await refuse(408, "The request's body arrived too slowly.")
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    return await refuse(413, f"Request larger than {limit:,} bytes.")
                state["complete"] = not message.get("more_body", False)
            return message

        async def guarded_send(message: dict) -> None:
            if state["answered"]:
                return  # refused already: the app's own answer is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, bounded_receive, guarded_send)


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request line and headers take over
    HEADER_TIMEOUT s.

    uvicorn bounds an idle keep-alive connection but not one that trickles its headers; without
    this, a few thousand such connections would hold the server's sockets for as long as they last.
    """

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers arrived
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # for the next request on this connection

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(HEADER_TIMEOUT, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()


def page_head() -> str:
    """static/head.html with each `data-file` tag holding its file's text: the page's scripts, inline.

    Inline scripts in the head run as soon as Gradio puts them there, before it mounts the components
    whose `js_on_load` calls them; scripts loaded by address would race with that.
    """

    def inline(match: re.Match) -> str:
        text = (STATIC / match.group(1)).read_text()
        if "</" + "script" in text.lower():
            raise ValueError(f"{match.group(1)} would end its own tag")
        return match.group(0) + text

    return re.sub(r'data-file="([\w.]+)">', inline, (STATIC / "head.html").read_text())


def return_freed_memory() -> None:
    """Hand memory that Python and torch freed back to the system (glibc's malloc_trim; elsewhere nothing)."""
    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def launch(demo: gr.Blocks, **options) -> None:
    """Serve the page with its own CSS, scripts and routes and every limit; `options` go to Gradio's
    launch()."""
    app_kwargs = {  # a fresh dict for every launch: Gradio writes into it
        "middleware": [Middleware(BodyLimit)],
        "routes": demo.page_routes.routes(),
    }
    uvicorn.config.HTTP_PROTOCOLS["auto"] = (
        f"{__name__}:HeaderDeadline"  # Gradio's server takes the "auto" protocol
    )
    demo.launch(
        css_paths=[STATIC / "page.css"],
        head=page_head(),
        max_file_size=MAX_UPLOAD,
        ssr_mode=False,
        enable_monitoring=False,
        app_kwargs=app_kwargs,
        **options,
    )
