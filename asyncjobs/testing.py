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
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import anyio

from . import _validation
from ._context import current_job_var
from ._events import JobEnded, JobEvent, Subscription
from ._handle import JobHandle
from ._runner import JobRunner
from ._states import JobState

__all__ = ["FakeClock", "OutcomeRecorder", "run_until_idle"]

T = TypeVar("T")

# Seconds of real time that running jobs (and other real-time work) get to make progress
# before fake time moves on anyway (FakeClock.autojump, run_until_idle's settle).
_SETTLE = 1.0


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

    One exception: leaving a runner's ``async with`` block moves it too (``autojump``), so
    that shutdown's grace period and cancel timeout pass in virtual time instead of never.
    To watch the grace period step by step, call ``await runner.shutdown()`` from another
    task and ``advance`` the clock yourself.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._wall0 = _validation.aware_datetime("start", start).timestamp()
        self._mono = 0.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = itertools.count()
        self._new_sleeper: anyio.Event | None = None  # set when someone starts sleeping
        # Jobs sleeping on this clock right now (run_until_idle may jump time for them).
        self._sleeping_jobs: dict[JobHandle[object], int] = {}

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
        job = current_job_var.get()
        if job is not None:
            self._sleeping_jobs[job] = self._sleeping_jobs.get(job, 0) + 1
        if self._new_sleeper is not None:
            self._new_sleeper.set()
            self._new_sleeper = None
        try:
            await event.wait()
        finally:
            if job is not None:
                left = self._sleeping_jobs.pop(job) - 1
                if left:
                    self._sleeping_jobs[job] = left

    def _asleep(self, jobs: tuple[JobHandle[object], ...]) -> bool:
        """Whether every one of these jobs is sleeping on this clock."""
        return all(job in self._sleeping_jobs for job in jobs)

    async def _until_new_sleeper(self) -> None:
        if self._new_sleeper is None:
            self._new_sleeper = anyio.Event()
        await self._new_sleeper.wait()

    def jump(self, seconds: float | timedelta) -> None:
        """Move wall time only, either way, as an NTP step, a clock set by hand or a machine
        waking from sleep does: monotonic time, and everyone sleeping on it, stay put."""
        self._wall0 += _validation.seconds("seconds", seconds)

    async def autojump(
        self,
        work: Callable[[], Awaitable[T]],
        running: Callable[[], tuple[JobHandle[object], ...]] = tuple,
    ) -> T:
        """Await ``work()`` while moving time on by itself, to the next deadline, whenever
        every other task is blocked and nothing has moved for a second of real time: no job
        of ``running()`` ended and nobody started sleeping on this clock. (Jobs that all
        sleep on this clock are waiting for it: time moves on at once for them.) So a job
        awaiting real I/O, or a bus subscriber delivering the last events, gets that second.

        A runner on this clock shuts down this way when its ``async with`` block is left:
        a block left while a job still runs (a failing assertion, say) ends within its
        grace period of virtual time instead of hanging; a job still stuck then is
        cancelled, and ends interrupted."""

        async def drive() -> None:
            while True:
                await wait_all_tasks_blocked()
                jobs = running()
                if not (jobs and self._asleep(jobs)) and await _moved(self, jobs, _SETTLE):
                    continue
                deadline = self.next_deadline()
                if deadline is None:
                    await self._until_new_sleeper()
                else:
                    await self.advance(max(0.0, deadline - self._mono))

        failure: BaseException | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(drive)
            try:
                result = await work()
            except BaseException as exc:  # noqa: BLE001 - raised again, outside the group
                failure = exc
            finally:
                group.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return result

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


async def run_until_idle(
    runner: JobRunner, clock: FakeClock | None = None, *, settle: float | None = _SETTLE
) -> None:
    """Wait until no job is queued, running or (with a fake clock) scheduled.

    With a ``FakeClock``, time jumps to the next deadline (a delayed job, a retry's backoff,
    a schedule's next slot) whenever every task is blocked and no job is running, or every
    running job is itself sleeping on the fake clock (``clock.sleep_until``). Other running
    jobs (awaiting real I/O, or a sync job busy in its thread) are given ``settle`` seconds of
    real time to make progress (one of them ending, or starting to sleep on the fake clock)
    before time jumps anyway: a job that waits for something only fake time brings (its own
    timeout, a child job's delay) is not waited for in vain. Meanwhile their ``timeout``
    (fake time) does not pass.

    ``settle=None`` waits for running jobs however long they take; ``settle=0`` jumps at
    once whenever every task is blocked (a job awaiting real I/O then counts as blocked
    too, and may see its timeout pass at once).

    Bound it yourself (``with anyio.fail_after(5):``): a job that never ends never idles.
    """
    while True:
        await wait_all_tasks_blocked()
        pool = runner.pool_statistics()
        running = runner.running_jobs()  # caller-run jobs too
        busy = bool(pool.waiting or running)
        if not busy and (clock is None or not pool.scheduled):
            return
        if clock is None:
            await runner.wait_idle()
            continue
        moving = running and settle != 0 and not clock._asleep(running)
        if moving and await _moved(clock, running, settle):
            continue
        deadline = clock.next_deadline()
        if deadline is None:
            if not busy:
                return
            await runner.wait_idle()
            continue
        await clock.advance(max(0.0, deadline - clock.monotonic()))


async def _moved(
    clock: FakeClock, handles: tuple[JobHandle[object], ...], within: float | None
) -> bool:
    """Wait ``within`` seconds of real time (None: for ever) for something to move: one of
    these jobs ending, or someone starting to sleep on ``clock``. True if something did."""
    with anyio.move_on_after(math.inf if within is None else within):
        async with anyio.create_task_group() as group:

            async def watch(wait: Callable[[], Awaitable[None]]) -> None:
                await wait()
                group.cancel_scope.cancel()

            for handle in handles:
                group.start_soon(watch, handle.wait)
            group.start_soon(watch, clock._until_new_sleeper)
        return True
    return False


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
