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
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import anyio

from . import _validation
from ._errors import InvalidOption, InvalidOptionType
from ._events import JobEnded, JobEvent, Subscription
from ._handle import JobHandle, current_job_var
from ._runner import JobRunner
from ._states import JobState
from .abc import Backend

__all__ = ["FakeClock", "OutcomeRecorder", "run_until_idle"]

T = TypeVar("T")

# Seconds of real time that running jobs (and other real-time work) get to make progress
# before fake time moves on anyway (FakeClock.autojump, run_until_idle's settle).
_SETTLE = 1.0
# Wall time stays where it reads as a datetime, a day inside the years 1 to 9999 (so that a
# time zone's offset added to it still makes one): a start, advance or jump that would take
# it further is refused, and a sleeper due further is never woken (the runner itself sleeps
# until such deadlines: a timeout of 1e308 seconds is one it takes).
_FIRST_WALL = datetime(1, 1, 2, tzinfo=timezone.utc).timestamp()
_LAST_WALL = datetime(9999, 12, 30, tzinfo=timezone.utc).timestamp()


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

    Wall time always reads as a datetime: an ``advance`` or ``jump`` that would take it past
    the year 9999 (or before the year 1) is refused with ``InvalidOption``. A sleeper whose
    deadline lies past there (a timeout of ``1e308`` seconds, ``sleep_until(math.inf)``) is
    never woken, as on a real clock, and ``next_deadline`` does not report it.

    One exception: leaving a runner's ``async with`` block moves it too (``autojump``), so
    that shutdown's grace period and cancel timeout pass in virtual time instead of never.
    To watch the grace period step by step, call ``await runner.shutdown()`` from another
    task and ``advance`` the clock yourself.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        wall0 = _validation.aware_datetime("start", start).timestamp()
        self._wall0 = _wall("start", start, wall0)
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

    def _reach(self) -> float:
        """The latest monotonic time this clock can move to (wall time then reads as the
        year 9999)."""
        return _LAST_WALL - self._wall0

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until monotonic time reaches ``deadline``, an int or float of seconds (NaN,
        an int too large for a float and anything else are refused with ``InvalidOption``).
        A deadline past the clock's reach (see the class), ``math.inf`` say, sleeps until
        cancelled."""
        deadline = _deadline(deadline)
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
        step = _validation.seconds("seconds", seconds)
        self._wall0 = _wall("seconds", seconds, self._wall0 + step, self._mono)

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
        """The earliest time someone sleeps until, or None; a deadline past the clock's
        reach (see the class) does not count, since time never gets there."""
        if not self._sleepers:
            return None
        deadline = self._sleepers[0][0]
        return deadline if deadline <= self._reach() else None

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward, waking sleepers in deadline order and letting each wake-up
        run to its next blocking point before moving on."""
        step = _validation.non_negative_duration("seconds", seconds)
        if step and self._mono + step > self._reach():
            raise InvalidOption(
                "seconds", seconds, "would move the clock's wall time past the year 9999"
            )
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
    runner: JobRunner,
    clock: FakeClock | None = None,
    *,
    settle: float | timedelta | None = _SETTLE,
) -> None:
    """Wait until no job is queued, running or (with a fake clock) scheduled; on a shared
    backend, none of the runner's queues has one waiting there.

    With a ``FakeClock``, time jumps to the next deadline (a delayed job, a retry's backoff,
    a schedule's next slot) whenever every task is blocked and no job is running, or every
    running job is itself sleeping on the fake clock (``clock.sleep_until``). Other running
    jobs (awaiting real I/O, or a sync job busy in its thread) are given ``settle`` seconds of
    real time to make progress (one of them ending, or starting to sleep on the fake clock)
    before time jumps anyway: a job that waits for something only fake time brings (its own
    timeout, a child job's delay) is not waited for in vain. Meanwhile their ``timeout``
    (fake time) does not pass.

    ``settle`` is seconds, a number or a ``timedelta`` (``InvalidOption`` unless finite and
    zero or more). ``settle=None`` waits for running jobs however long they take;
    ``settle=0`` jumps at once whenever every task is blocked (a job awaiting real I/O then
    counts as blocked too, and may see its timeout pass at once).

    Bound it yourself (``with anyio.fail_after(5):``): a job that never ends never idles.
    A job due past the fake clock's reach (a delay of ``1e308`` seconds, due past the year
    9999) is never due: it stays scheduled, and once nothing else is due this returns.
    """
    within = None if settle is None else _validation.non_negative_duration("settle", settle)
    while True:
        await wait_all_tasks_blocked()
        waiting, scheduled = await _waiting(runner)
        running = runner.running_jobs()  # caller-run jobs too
        busy = bool(waiting or running)
        if not busy and (clock is None or not scheduled):
            return
        if clock is None:
            await runner.wait_idle()
            continue
        awake = bool(running) and not clock._asleep(running)
        if awake and within != 0 and await _moved(clock, running, within):
            continue
        if awake:
            # A job in a worker thread needs the GIL to end; jumping time in a tight loop
            # would starve it (for a second and more), so let it take the GIL first.
            time.sleep(0)  # noqa: ASYNC251 - blocks no one: it only hands over the GIL
        deadline = clock.next_deadline()
        if deadline is None:
            if not busy:
                return
            await runner.wait_idle()
            continue
        await clock.advance(max(0.0, deadline - clock.monotonic()))


async def _waiting(runner: JobRunner) -> tuple[int, int]:
    """How many of the runner's jobs are queued, and how many scheduled: in the runner, or,
    on a shared backend, in the backend (its counts of the runner's queues)."""
    store = runner.store
    if not isinstance(store, Backend):
        pool = runner.pool_statistics()
        return pool.waiting, pool.scheduled
    queued = scheduled = 0
    for name in runner.queue_statistics():
        counts = await store.counts(name)
        queued += counts.queued
        scheduled += counts.scheduled
    return queued, scheduled


def _wall(field: str, value: object, wall0: float, mono: float = 0.0) -> float:
    """``wall0``, if wall time ``wall0 + mono`` reads as a datetime (see ``_FIRST_WALL``)."""
    if not _FIRST_WALL <= wall0 + mono <= _LAST_WALL:
        raise InvalidOption(
            field, value, "would put the clock's wall time outside the years 1 to 9999"
        )
    return wall0


def _deadline(value: object) -> float:
    """A deadline for ``sleep_until``: an int or float (a subclass read as its plain value),
    not NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOptionType("deadline", value, "expected monotonic seconds (an int or float)")
    try:
        result = float.__float__(value) if isinstance(value, float) else float(int.__index__(value))
    except OverflowError:
        raise InvalidOption("deadline", value, "too large a number of seconds") from None
    except Exception:  # noqa: BLE001 - any failure is the value's
        raise InvalidOptionType("deadline", value, "cannot be read as seconds") from None
    if math.isnan(result):
        raise InvalidOption("deadline", value, "must not be NaN")
    return result


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
