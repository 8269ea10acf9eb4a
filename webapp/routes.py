"""The page's own routes, beside Gradio's: every call the page's scripts make, under /dae/.

    POST /dae/render   contract.RenderRequest -> RenderAnswer, in the page's turn (scheduler.FairScheduler)
    POST /dae/upload   ?session=..., a picture's bytes -> {digit, preview} or {error} (busy included)
    POST /dae/figure   a RenderRequest -> the results as a PNG (figure.py)
    POST /dae/train    {session, action: "start" | "stop" | "status" | "open", settings} -> the run's state
    GET  /dae/model    ?session=... -> your model as a checkpoint folder in a zip

Each request names its page's `session` (a random id the page makes). A malformed request gets one line,
{"error": "..."}, never a traceback; a bug gets one line too, and its traceback goes to the log at
most once a minute.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import denoise_tab, figure, train_tab
from .errors import InputError
from .scheduler import SUPERSEDED, FairScheduler
from .serving import error, return_freed_memory

SESSION = re.compile(r"[A-Za-z0-9_-]{8,64}")
RENDER_WORKERS = min(2, os.cpu_count() or 1)
log = logging.getLogger("webapp")


def busy_message(answer: dict) -> str:
    return f"Many students are asking at once: please try again in {answer['wait'] / 1000:.1f} s."


class PageRoutes:
    """The routes of one page (one build_demo): its render function, its Train tab, and the session models."""

    def __init__(
        self, render: Callable[[dict], dict], trainer: train_tab.Trainer | None, served=None
    ) -> None:
        self.render, self.trainer, self.served = render, trainer, served
        self.scheduler: FairScheduler | None = None
        self.failures = 0
        self._last_logged = 0.0

    def routes(self) -> list[Route]:
        self.scheduler = FairScheduler(RENDER_WORKERS, on_idle=return_freed_memory)
        return [
            Route("/dae/render", self.render_call, methods=["POST"]),
            Route("/dae/upload", self.upload_call, methods=["POST"]),
            Route("/dae/figure", self.figure_call, methods=["POST"]),
            Route("/dae/train", self.train_call, methods=["POST"]),
            Route("/dae/model", self.model_download, methods=["GET"]),
        ]

    async def render_call(self, request: Request) -> Response:
        return await self.json_call(request, self._render)

    async def _render(self, payload: dict, session: str) -> Any:
        final = not payload.get("live") or payload.get("final") is True  # the pen lifted, a view opened
        answer = await self.scheduler.submit(session, final, lambda: self.render(payload))
        return SUPERSEDED if answer is SUPERSEDED else answer

    async def upload_call(self, request: Request) -> Response:
        session = request.query_params.get("session", "")
        if not SESSION.fullmatch(session):
            return error(400, "The request names no session (8 to 64 letters, digits, - or _).")
        try:
            data = await request.body()
        except ClientDisconnect:
            return Response(status_code=499)
        if not data:
            return error(400, "The upload is empty: choose a picture file.")
        # One at a time with the renders, in this page's turn: decoding a picture is the heaviest thing a page
        # asks.
        try:
            answer = await self.scheduler.submit(session, True, lambda: denoise_tab.upload(data))
        except Exception:  # a bug: one line for the page, the traceback now and then
            self.failures += 1
            self.log_failure()
            return error(
                500, "The server could not read this picture (an error in the app); please try again."
            )
        if answer is SUPERSEDED:
            answer = {"error": "A newer request of this page took the upload's place: please send it again."}
        elif answer.get("busy"):
            answer = {"error": busy_message(answer)}
        return JSONResponse(answer)

    async def figure_call(self, request: Request) -> Response:
        async def draw(payload: dict, session: str) -> Any:
            png = await self.scheduler.submit(session, True, lambda: figure.figure_png(self.served, payload))
            if png is SUPERSEDED:
                raise InputError("A newer request took this one's place.")
            if isinstance(png, dict):  # busy: too many pages waiting
                raise InputError(busy_message(png))
            return png

        response = await self.json_call(request, draw)
        return response

    async def train_call(self, request: Request) -> Response:
        return await self.json_call(request, self._train)

    async def _train(self, payload: dict, session: str) -> Any:
        if self.trainer is None:
            raise InputError("Training is off on this server.")
        return await run_in_threadpool(train_tab.handle, self.trainer, session, payload)

    async def model_download(self, request: Request) -> Response:
        session = request.query_params.get("session", "")
        model = (
            self.trainer.models.get(session)
            if self.trainer is not None and SESSION.fullmatch(session)
            else None
        )
        if model is None:
            return error(
                404,
                "There is no model of yours on this server (train one first; models are kept for a while).",
            )
        data = await run_in_threadpool(train_tab.checkpoint_zip, model)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="your-model.zip"'},
        )

    async def json_call(self, request: Request, handler: Callable[[dict, str], Awaitable[Any]]) -> Response:
        """Read and check a JSON request naming its session, then answer with the handler's result."""
        try:
            body = await request.body()
        except ClientDisconnect:
            return Response(status_code=499)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return error(400, "The request is not valid JSON.")
        if not isinstance(payload, dict):
            return error(400, "The request must be a JSON object.")
        session = payload.get("session")
        if not isinstance(session, str) or not SESSION.fullmatch(session):
            return error(400, "The request names no session (8 to 64 letters, digits, - or _).")
        try:
            result = await handler(payload, session)
            if isinstance(result, bytes):
                return Response(result, media_type="image/png")
            return JSONResponse(result)
        except InputError as e:
            return error(400, str(e))
        except Exception:  # a bug, not the request's fault: one line for the page, the traceback now and then
            self.failures += 1
            self.log_failure()
            return error(
                500, "The server could not compute this answer (an error in the app); please try again."
            )

    def log_failure(self) -> None:
        now = time.monotonic()
        if now - self._last_logged > 60:
            self._last_logged = now
            log.exception("a page's request failed (tracebacks are logged at most once a minute)")
        else:
            log.error("a page's request failed again")
