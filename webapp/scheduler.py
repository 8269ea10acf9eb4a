"""Fair turns for every page: the render requests of a whole class, computed a few at a time, in order.

Each session (one open page) has at most one request waiting: a newer one takes the older one's
place and keeps its turn, and the older one is answered "superseded" (its page has moved on).
Waiting requests are served in the order they arrived, except that a request that is not a live
frame (the pen was lifted, a slider let go, a view opened) counts as if it had arrived BOOST
seconds earlier: a student who lifts the pen is served before another student's next live frame,
and a live frame that has waited longer than BOOST is served before anything newer, so nobody
starves. When MAX_WAITING sessions already wait, a new one is told how long to wait before asking
again instead of queueing.

All of the scheduler's state is touched from the event loop only; the renders themselves run on
a small pool of worker threads (torch, PIL and zlib release the GIL for most of their work).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

BOOST = 0.15  # seconds a final (not live) request is moved ahead
IDLE = 2.0  # seconds without work after which on_idle runs (the server hands freed memory back)
MAX_WAITING = 256  # sessions waiting at once; more are told to come back later
SUPERSEDED = {"superseded": True}


@dataclass(order=True)
class Waiting:
    key: float  # when it counts as having arrived (earlier is served first)
    seq: int  # arrival order among equal keys
    session: str = field(compare=False)
    job: Callable[[], Any] = field(compare=False)
    future: asyncio.Future = field(compare=False)


class FairScheduler:
    """Runs jobs on `workers` threads, one waiting job per session, oldest turn first
    (see the module's docstring)."""

    def __init__(
        self,
        workers: int = 2,
        max_waiting: int = MAX_WAITING,
        boost: float = BOOST,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.workers, self.max_waiting, self.boost = workers, max_waiting, boost
        self.on_idle = on_idle  # run on a worker once nothing has run or waited for IDLE seconds
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render")
        self.waiting: dict[str, Waiting] = {}  # session -> its waiting job
        self.heap: list[Waiting] = []  # the waiting jobs by turn (superseded ones are skipped when popped)
        self.running = 0
        self.seq = itertools.count()
        self.service = deque([0.005], maxlen=50)  # seconds the latest jobs took, for the wait estimate
        self.served = 0

    async def submit(self, session: str, final: bool, job: Callable[[], Any]) -> Any:
        """The job's result once it has had its turn; SUPERSEDED if a newer job of the same session took its
        place; {"busy": True, "wait": ms} at once when too many sessions are waiting."""
        loop = asyncio.get_running_loop()
        key = loop.time() - (self.boost if final else 0.0)
        older = self.waiting.pop(session, None)
        if older is not None:  # not started yet: the newer job takes its place and keeps its turn
            if not older.future.done():
                older.future.set_result(SUPERSEDED)
            key = min(key, older.key)
        elif len(self.waiting) >= self.max_waiting:
            return {"busy": True, "wait": self.wait_ms()}
        entry = Waiting(key, next(self.seq), session, job, loop.create_future())
        self.waiting[session] = entry
        heapq.heappush(self.heap, entry)
        self._dispatch(loop)
        return await entry.future

    def wait_ms(self) -> int:
        """About how long until the jobs waiting now have all run."""
        mean = sum(self.service) / len(self.service)
        return max(20, math.ceil(1000 * mean * (len(self.waiting) + self.running) / self.workers))

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        while self.running < self.workers and self.heap:
            entry = heapq.heappop(self.heap)
            if self.waiting.get(entry.session) is not entry:
                continue  # superseded while it waited
            del self.waiting[entry.session]
            if entry.future.done():  # its request went away (cancelled)
                continue
            self.running += 1
            started = loop.time()
            run = loop.run_in_executor(self.pool, entry.job)
            run.add_done_callback(lambda done, e=entry, t=started: self._finished(loop, e, done, t))

    def _finished(
        self, loop: asyncio.AbstractEventLoop, entry: Waiting, done: asyncio.Future, started: float
    ) -> None:
        self.running -= 1
        self.served += 1
        self.service.append(loop.time() - started)
        if not entry.future.done():
            if done.exception() is not None:
                entry.future.set_exception(done.exception())
            else:
                entry.future.set_result(done.result())
        self._dispatch(loop)
        if self.on_idle is not None and not self.running and not self.waiting:
            served = self.served
            loop.call_later(IDLE, lambda: self._idle(loop, served))

    def _idle(self, loop: asyncio.AbstractEventLoop, served: int) -> None:
        if self.served == served and not self.running and not self.waiting:  # nothing ran since
            loop.run_in_executor(self.pool, self.on_idle)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
