"""The fair scheduler of render requests (webapp.scheduler): turns, replacement, the pen-up boost, bounds.

Every test holds the scheduler's workers with events, so the order is decided by the scheduler
alone, never by timing.
"""

import asyncio
import threading

import pytest

from webapp.scheduler import SUPERSEDED, FairScheduler


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=30))


class Recorder:
    """Jobs that record the order they ran in; `hold()` is a job that blocks its worker until released."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.release = threading.Event()
        self.holding = threading.Event()

    def job(self, name: str):
        def work():
            self.order.append(name)
            return name

        return work

    def hold(self):
        def work():
            self.holding.set()
            self.release.wait(10)
            return "held"

        return work


async def busy_worker(scheduler: FairScheduler, r: Recorder) -> asyncio.Task:
    """Occupy the (single) worker until r.release is set."""
    task = asyncio.ensure_future(scheduler.submit("holder-0", False, r.hold()))
    while not r.holding.is_set():
        await asyncio.sleep(0.001)
    return task


def test_sessions_are_served_in_the_order_they_asked():
    async def main():
        s, r = FairScheduler(workers=1, boost=0.0), Recorder()
        holder = await busy_worker(s, r)
        tasks = [asyncio.ensure_future(s.submit(f"session-{n}", False, r.job(n))) for n in "abcde"]
        await asyncio.sleep(0.01)
        r.release.set()
        assert await asyncio.gather(*tasks) == list("abcde")
        await holder
        return r.order

    assert run(main()) == list("abcde")


def test_a_newer_request_replaces_the_waiting_one_and_keeps_its_turn():
    async def main():
        s, r = FairScheduler(workers=1, boost=0.0), Recorder()
        holder = await busy_worker(s, r)
        a1 = asyncio.ensure_future(s.submit("session-a", False, r.job("a1")))
        await asyncio.sleep(0.01)
        b1 = asyncio.ensure_future(s.submit("session-b", False, r.job("b1")))
        await asyncio.sleep(0.01)
        a2 = asyncio.ensure_future(s.submit("session-a", False, r.job("a2")))
        await asyncio.sleep(0.01)
        assert a1.done() and a1.result() is SUPERSEDED  # answered at once: its page has moved on
        r.release.set()
        assert await a2 == "a2" and await b1 == "b1"
        await holder
        return r.order

    assert run(main()) == ["a2", "b1"]  # a's turn came first, and only its latest request ran


def test_a_lifted_pen_goes_before_live_frames_that_arrived_earlier():
    async def main():
        s, r = FairScheduler(workers=1, boost=60.0), Recorder()
        holder = await busy_worker(s, r)
        live = [asyncio.ensure_future(s.submit(f"live-{n}", False, r.job(f"live {n}"))) for n in range(3)]
        await asyncio.sleep(0.01)
        pen_up = asyncio.ensure_future(s.submit("drawer-1", True, r.job("pen up")))
        await asyncio.sleep(0.01)
        r.release.set()
        await asyncio.gather(pen_up, *live, holder)
        return r.order

    assert run(main()) == ["pen up", "live 0", "live 1", "live 2"]


def test_a_live_frame_that_waited_longer_than_the_boost_goes_before_a_newer_pen_up():
    async def main():
        s, r = FairScheduler(workers=1, boost=0.05), Recorder()
        holder = await busy_worker(s, r)
        live = asyncio.ensure_future(s.submit("live-1", False, r.job("live")))
        await asyncio.sleep(0.2)  # longer than the boost: no newer request may pass it any more
        pen_up = asyncio.ensure_future(s.submit("drawer-1", True, r.job("pen up")))
        await asyncio.sleep(0.01)
        r.release.set()
        await asyncio.gather(pen_up, live, holder)
        return r.order

    assert run(main()) == ["live", "pen up"]


def test_nobody_starves_while_others_keep_asking():
    """Ten pages asking again the moment they are answered, and one more: it is served within one round."""

    async def main():
        s, r = FairScheduler(workers=1, boost=0.0), Recorder()
        stop = asyncio.Event()

        async def greedy(n):
            while not stop.is_set():
                await s.submit(f"greedy-{n}", False, r.job(f"g{n}"))

        crowd = [asyncio.ensure_future(greedy(n)) for n in range(10)]
        await asyncio.sleep(0.05)
        before = len(r.order)
        await s.submit("latecomer", False, r.job("late"))
        served_meanwhile = r.order.index("late") - before
        stop.set()
        await asyncio.gather(*crowd)
        return served_meanwhile

    assert (
        run(main()) <= 10 + 1
    )  # at most one turn of each page that was already waiting (and the one running)


def test_too_many_waiting_sessions_are_told_how_long_to_wait():
    async def main():
        s, r = FairScheduler(workers=1, max_waiting=3, boost=0.0), Recorder()
        holder = await busy_worker(s, r)
        waiting = [asyncio.ensure_future(s.submit(f"session-{n}", False, r.job(str(n)))) for n in range(3)]
        await asyncio.sleep(0.01)
        refused = await s.submit("session-x", False, r.job("x"))
        r.release.set()
        await asyncio.gather(holder, *waiting)
        return refused, r.order

    refused, order = run(main())
    assert refused["busy"] is True and refused["wait"] >= 20
    assert "x" not in order


def test_a_failing_job_raises_in_its_own_request_only():
    async def main():
        s = FairScheduler(workers=1)

        def broken():
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await s.submit("session-a", False, broken)
        return await s.submit("session-b", False, lambda: "fine")

    assert run(main()) == "fine"


def test_the_idle_hook_runs_once_the_work_is_done(monkeypatch):
    import webapp.scheduler

    monkeypatch.setattr(webapp.scheduler, "IDLE", 0.01)
    called = threading.Event()

    async def main():
        s = FairScheduler(workers=1, on_idle=called.set)
        await s.submit("session-a", False, lambda: 1)
        for _ in range(500):
            if called.is_set():
                return True
            await asyncio.sleep(0.01)
        return False

    assert run(main())
