"""Helpers to test code that uses asyncjobs: a fake clock, and waiting for work to finish.

Example::

    clock = FakeClock()
    async with JobRunner(clock=clock) as runner:
        handle = await runner.submit(remind.with_options(delay=3600), "bob")
        await run_until_idle(runner, clock)      # jumps the hour, no real sleeping
        assert handle.state is JobState.SUCCEEDED
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime, timedelta, timezone

import anyio

from . import _validation
from ._events import JobEnded, JobEvent, Subscription
from ._runner import JobRunner
from ._states import JobState

__all__ = ["FakeClock", "OutcomeRecorder", "run_until_idle"]


async def wait_all_tasks_blocked() -> None:
    """Return once every other task of the loop is blocked (waiting on something).

    On trio this is ``trio.testing.wait_all_tasks_blocked``. anyio's asyncio version sleeps a
    tenth of a second whenever a task can still run, which makes every step of a fake clock
    cost that much; this one yields to the loop instead, and only backs off to millisecond
    sleeps if tasks keep running for a while.
    """
    try:
        this = asyncio.current_task()
    except RuntimeError:
        this = None
    if this is None:
        await anyio.wait_all_tasks_blocked()
        return
    await asyncio.sleep(0)
    spins = 0
    while True:
        for task in asyncio.all_tasks():
            if task is this:
                continue
            waiter = task._fut_waiter  # type: ignore[attr-defined]
            if waiter is None or waiter.done():
                break
        else:
            return
        spins += 1
        await asyncio.sleep(0 if spins < 1000 else 0.001)


class FakeClock:
    """Virtual time for a runner. Time moves only when ``advance`` (or a helper) moves it.

    Wall time starts at ``start`` (default 2026-01-01 UTC) and moves together with monotonic
    time. Give it to a runner with ``JobRunner(clock=clock)``.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._wall0 = _validation.aware_datetime("start", start).timestamp()
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._wall0 + self._mono

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)

    def monotonic(self) -> float:
        return self._mono

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._mono:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), event))
        await event.wait()

    def jump(self, seconds: float | timedelta) -> None:
        """Move wall time only, either way, as an NTP step, a clock set by hand or a machine
        waking from sleep does: monotonic time, and everyone sleeping on it, stay put."""
        self._wall0 += _validation.seconds("seconds", seconds)

    def next_deadline(self) -> float | None:
        """The earliest time someone sleeps until, or None."""
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward, waking sleepers in deadline order and letting each wake-up
        run to its next blocking point before moving on."""
        step = _validation.non_negative_duration("seconds", seconds)
        await wait_all_tasks_blocked()  # whoever can run now sleeps from now, not later
        target = self._mono + step
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline = self._sleepers[0][0]
            self._mono = max(self._mono, deadline)
            while self._sleepers and self._sleepers[0][0] <= self._mono:
                heapq.heappop(self._sleepers)[2].set()
            await wait_all_tasks_blocked()
        self._mono = target
        await wait_all_tasks_blocked()


async def run_until_idle(runner: JobRunner, clock: FakeClock | None = None) -> None:
    """Wait until no job is queued, running or (with a fake clock) scheduled.

    With a ``FakeClock``, whenever every task is blocked, time jumps to the next deadline
    (a delayed job, a timeout), so delays and timeouts pass without real waiting. Time can
    also jump while a sync job's thread is busy. Bound it yourself (``anyio.fail_after``).
    """
    while True:
        await wait_all_tasks_blocked()
        pool = runner.pool_statistics()
        busy = bool(pool.waiting or runner._running)  # _running includes caller-run jobs
        if not busy and (clock is None or not pool.scheduled):
            return
        deadline = None if clock is None else clock.next_deadline()
        if deadline is None:
            if not busy:
                return
            await runner.wait_idle()
            continue
        assert clock is not None
        await clock.advance(max(0.0, deadline - clock.monotonic()))


class OutcomeRecorder:
    """Records the terminal event of every job of a runner, in order.

    ``with OutcomeRecorder(runner) as outcomes: ...`` then ``outcomes.states()`` or
    ``await outcomes.wait_for(10)``.
    """

    def __init__(self, runner: JobRunner) -> None:
        self.events: list[JobEnded] = []
        self._waiters: list[tuple[int, anyio.Event]] = []
        self._subscription: Subscription = runner.subscribe(self._on_event, JobEnded)

    def _on_event(self, event: JobEvent) -> None:
        assert isinstance(event, JobEnded)
        self.events.append(event)
        for count, waiter in self._waiters:
            if len(self.events) >= count:
                waiter.set()

    def states(self) -> dict[str, JobState]:
        """Job id -> terminal state, for every job recorded so far."""
        return {event.job_id: event.state for event in self.events}

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` outcomes have been recorded."""
        if len(self.events) >= count:
            return
        waiter = anyio.Event()
        self._waiters.append((count, waiter))
        await waiter.wait()

    def close(self) -> None:
        """Stop recording."""
        self._subscription.unsubscribe()

    def __enter__(self) -> OutcomeRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
